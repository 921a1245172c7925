#!/usr/bin/env python3
"""How close PyTorch's own float32 H·v comes to its float64 H·v on vgg38 BN+residual (issue 3,
acceptance 2): ‖Hv₃₂ − Hv₆₄‖ / ‖Hv₆₄‖ for the fixed direction of scripts/torch_reference.py,
BatchNorm in training mode, on four batches (16 or 100 images; Gaussian noise as in the golden
batch, or padded, normalised Fashion-MNIST), with the four weight tensors that contribute most.

    python3 scripts/torch_hv_precision.py [--gradtrace .build/release/gradtrace]

Requires: pip install torch==2.13.0 h5py numpy (and the Debian Fashion-MNIST package).
"""
import argparse
import gzip
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_reference import fixed_direction, initial_model  # noqa: E402

FASHION = "/usr/share/datasets/fashion-mnist"


def fashion_mnist(n):
    """The first n training images, padded to 32×32, normalised, repeated to 3 channels."""
    with gzip.open(os.path.join(FASHION, "train-images-idx3-ubyte.gz")) as f:
        pixels = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)[:n]
    with gzip.open(os.path.join(FASHION, "train-labels-idx1-ubyte.gz")) as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)[:n].astype(np.int64)
    x = np.zeros((n, 32, 32), np.float32)
    x[:, 2:30, 2:30] = pixels / 255.0
    x = (x - 0.28604) / 0.35302
    return np.repeat(x[:, None], 3, axis=1).astype(np.float32), labels


def gaussian(n):
    """As the golden batch of torch_reference.py (same generator and seed)."""
    rng = np.random.default_rng(20240601)
    return rng.standard_normal((n, 3, 32, 32)).astype(np.float32), rng.integers(0, 100, size=n)


def hessian_vector_product(gradtrace, images, labels, dtype):
    model = initial_model(gradtrace, ["--model", "vgg38", "--batchnorm", "--residual"], dtype)
    model.train()
    params = list(model.parameters())
    loss = F.cross_entropy(model(torch.from_numpy(images).to(dtype)), torch.from_numpy(labels))
    g = torch.autograd.grad(loss, params, create_graph=True)
    hv = torch.autograd.grad(g, params, grad_outputs=[v.to(dtype) for v in fixed_direction(model)])
    return [name for name, _ in model.named_parameters()], [h.double() for h in hv]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gradtrace", default=".build/release/gradtrace")
    args = parser.parse_args()
    print("| batch | PyTorch float32 H·v error | largest contributions |")
    print("|---|---:|---|")
    for n, kind in [(16, "Gaussian"), (16, "Fashion-MNIST"), (100, "Fashion-MNIST"), (100, "Gaussian")]:
        images, labels = fashion_mnist(n) if kind == "Fashion-MNIST" else gaussian(n)
        names, exact = hessian_vector_product(args.gradtrace, images, labels, torch.float64)
        _, single = hessian_vector_product(args.gradtrace, images, labels, torch.float32)
        norm = torch.cat([h.flatten() for h in exact]).norm()
        error = torch.cat([(a - b).flatten() for a, b in zip(single, exact)]).norm() / norm
        parts = sorted((((a - b).norm() / norm).item(), name) for a, b, name in zip(single, exact, names))[::-1]
        print(f"| {n} {kind} images | {error.item():.2e} | "
              + ", ".join(f"{name} {part:.1e}" for part, name in parts[:4]) + " |", flush=True)


if __name__ == "__main__":
    main()
