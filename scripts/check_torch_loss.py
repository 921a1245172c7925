#!/usr/bin/env python3
"""Takes a gradtrace checkpoint to PyTorch and checks that both compute the same loss.

Loads CHECKPOINT into the PyTorch model of gradtrace_torch.py with h5py (the way to take
weights to PyTorch, see the README), computes the mean cross-entropy on BATCH (a batch file:
/images float32 [N, C, H, W], /labels int64 [N]) in evaluation mode (BatchNorm running
statistics) and in training mode (batch statistics), and compares with `gradtrace evaluate`.

    python3 scripts/check_torch_loss.py --checkpoint runs/vgg08/best.h5 --batch batch.h5
Exit status 0 when both modes agree within 1e-4 relative.
"""
import argparse
import json
import os
import subprocess
import sys

import h5py
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gradtrace_torch import load_checkpoint  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--batch", required=True)
    parser.add_argument("--gradtrace", default=".build/release/gradtrace")
    args = parser.parse_args()
    with h5py.File(args.batch, "r") as f:
        images = torch.from_numpy(f["images"][:]).double()
        labels = torch.from_numpy(f["labels"][:])
    model = load_checkpoint(args.checkpoint, dtype=torch.float64)
    ok = True
    for mode in ("eval", "train"):
        model.train(mode == "train")
        with torch.no_grad():
            theirs = F.cross_entropy(model(images), labels).item()
        out = subprocess.run([args.gradtrace, "evaluate", "--checkpoint", args.checkpoint, "--batch", args.batch,
                              "--mode", mode, "--batch-size", str(len(labels)), "--json"],
                             check=True, capture_output=True, text=True).stdout
        ours = json.loads(out)["loss"]
        relative = abs(ours - theirs) / abs(theirs)
        ok &= relative <= 1e-4
        print(f"{mode:5s} mode: gradtrace {ours:.7f}  PyTorch {theirs:.7f}  relative difference {relative:.1e}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
