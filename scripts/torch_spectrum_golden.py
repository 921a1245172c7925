#!/usr/bin/env python3
"""Float64 golden Hessian spectrum: PyTorch 2.13 on the weights `gradtrace init` writes for a
small DenseNet-BC (2,462 parameters), BatchNorm in training mode, on a fixed batch. The Hessian
is assembled row by row by double backward (one backward pass per parameter), symmetrised, and
decomposed with numpy.linalg.eigvalsh; every eigenvalue is stored.

    spectrum-densenet.h5   attrs: loss, seed, command, torch_version
                           /images float64 [N, C, H, W], /labels int64 [N]
                           /eigenvalues float64 [n], ascending

Tests/CurvatureTests/SpectrumGoldenTests.swift rebuilds the weights from the seed and checks
Lanczos' five largest and five smallest eigenvalues within 1e-7. Requires: pip install
torch==2.13.0 h5py numpy.

    python3 scripts/torch_spectrum_golden.py --gradtrace .build/release/gradtrace \\
        --output Tests/CurvatureTests/Golden
"""
import argparse
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

FLAGS = ["--model", "densenet", "--depth", "10", "--growth-rate", "4", "--batchnorm", "--dataset", "synthetic",
         "--input", "1x8x8", "--classes", "4"]
SEED = 0
BATCH = 8


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gradtrace", default=".build/release/gradtrace")
    parser.add_argument("--output", default="Tests/CurvatureTests/Golden")
    args = parser.parse_args()
    os.makedirs(args.output, exist_ok=True)
    torch.use_deterministic_algorithms(True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([args.gradtrace, "init", *FLAGS, "--seed", str(SEED), "-o", f"{tmp}/init.h5"], check=True,
                       stdout=subprocess.DEVNULL)
        model = load_checkpoint(f"{tmp}/init.h5", dtype=torch.float64)
    rng = np.random.default_rng(20261202)
    images = rng.standard_normal((BATCH, 1, 8, 8))
    labels = rng.integers(0, 4, size=BATCH).astype(np.int64)
    model.train()
    params = list(model.parameters())
    loss = F.cross_entropy(model(torch.from_numpy(images), seed=0), torch.from_numpy(labels))
    g = torch.cat([gi.reshape(-1) for gi in torch.autograd.grad(loss, params, create_graph=True)])
    n = g.numel()
    rows = []
    for i in range(n):
        row = torch.autograd.grad(g[i], params, retain_graph=True)
        rows.append(torch.cat([r.reshape(-1) for r in row]).detach().numpy())
    hessian = np.array(rows)
    asymmetry = np.abs(hessian - hessian.T).max() / np.abs(hessian).max()
    eigenvalues = np.linalg.eigvalsh(0.5 * (hessian + hessian.T))
    with h5py.File(os.path.join(args.output, "spectrum-densenet.h5"), "w") as f:
        f.attrs["loss"] = loss.item()
        f.attrs["seed"] = SEED
        f.attrs["command"] = " ".join(["gradtrace", "init", *FLAGS, "--seed", str(SEED)])
        f.attrs["torch_version"] = str(torch.__version__)
        f["images"] = images
        f["labels"] = labels
        f["eigenvalues"] = eigenvalues
    print(f"{n} parameters, loss {loss.item():.10f}, asymmetry {asymmetry:.2e}")
    print("largest", eigenvalues[-5:][::-1])
    print("smallest", eigenvalues[:5])


if __name__ == "__main__":
    main()
