#!/usr/bin/env python3
"""Float64 golden values for the network families past the paper's VGGs and for a model file:
PyTorch 2.13 on the weights `gradtrace init` writes, BatchNorm in training mode.

For each variant this writes the initial weights with `gradtrace init FLAGS --seed 0`, builds the
same graph in PyTorch from the checkpoint (gradtrace_torch.py: same module names, gradtrace's
dropout masks for pass seed 0), and computes on a fixed batch, all in float64:

    <variant>.h5   attrs: loss, gHg (gᵀHg by double backward), seed, command, torch_version
                   /images float64 [N, C, H, W], /labels int64 [N]
                   /gradients/<name> float64, /weight_norms/<name> float64

Tests/NetworksTests/FamilyGoldenTests.swift rebuilds the weights from the seed and compares
within 1e-7 relative. Requires: pip install torch==2.13.0 h5py numpy.

    python3 scripts/torch_family_golden.py --gradtrace .build/release/gradtrace \
        --output Tests/NetworksTests/Golden/families
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gradtrace_torch import load_checkpoint  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VARIANTS = {
    "densenet40-bn": ["--model", "densenet", "--batchnorm"],
    "resnet20-bn-res": ["--model", "resnet20", "--batchnorm", "--residual"],
    "small-cnn": ["--model-file", os.path.join(ROOT, "examples/models/small-cnn.json")],
}
SEED = 0
BATCH = 8


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gradtrace", default=".build/release/gradtrace")
    parser.add_argument("--output", default="Tests/NetworksTests/Golden/families")
    args = parser.parse_args()
    os.makedirs(args.output, exist_ok=True)
    torch.use_deterministic_algorithms(True)
    for variant, flags in VARIANTS.items():
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([args.gradtrace, "init", *flags, "--seed", str(SEED), "-o", f"{tmp}/init.h5"],
                           check=True, stdout=subprocess.DEVNULL)
            model = load_checkpoint(f"{tmp}/init.h5", dtype=torch.float64)
            with h5py.File(f"{tmp}/init.h5", "r") as f:
                graph = json.loads(f.attrs["model"])["graph"]
        rng = np.random.default_rng(20261202)
        images = rng.standard_normal((BATCH, *graph["input"]))
        classes = model.order[-1][1].out_features
        labels = rng.integers(0, classes, size=BATCH).astype(np.int64)
        model.train()
        params = list(model.parameters())
        loss = F.cross_entropy(model(torch.from_numpy(images), seed=0), torch.from_numpy(labels))
        g = torch.autograd.grad(loss, params, create_graph=True)
        hg = torch.autograd.grad(g, params, grad_outputs=[gi.detach() for gi in g])
        gHg = sum((gi.detach() * hi).sum() for gi, hi in zip(g, hg)).item()
        command = " ".join(["gradtrace", "init", *[os.path.relpath(a, ROOT) if a.startswith(ROOT) else a
                                                   for a in flags], "--seed", str(SEED)])
        with h5py.File(os.path.join(args.output, f"{variant}.h5"), "w") as f:
            f.attrs["loss"] = loss.item()
            f.attrs["gHg"] = gHg
            f.attrs["seed"] = SEED
            f.attrs["command"] = command
            f.attrs["torch_version"] = str(torch.__version__)
            f["images"] = images
            f["labels"] = labels
            for (name, p), gi in zip(model.named_parameters(), g):
                f.create_dataset(f"gradients/{name}", data=gi.detach().numpy(), compression="gzip",
                                 compression_opts=9)
                f[f"weight_norms/{name}"] = np.float64(p.detach().norm().item())
        print(f"{variant:16s} loss {loss.item():.10f}  gHg {gHg:.10e}  {len(params)} tensors")


if __name__ == "__main__":
    main()
