#!/usr/bin/env python3
"""PyTorch (CPU) timings on the same shapes as gradtrace-benchmarks, for BENCHMARKS.md:
one gradient (forward + backward) and one Hessian-vector product (double backward), batch 100,
1x32x32 input, 10 classes, 2 threads, medians of repeated runs.

The networks are built from `gradtrace init` checkpoints (gradtrace_torch.py), so any family
runs on both sides.

    python3 scripts/bench_torch.py [--repeats 7] [--threads 2] [--gradtrace .build/release/gradtrace]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gradtrace_torch import load_checkpoint  # noqa: E402

MODELS = {
    "vgg08": ["--model", "vgg08"],
    "vgg38": ["--model", "vgg38"],
    "vgg38-bn-res": ["--model", "vgg38", "--batchnorm", "--residual"],
    "densenet40-bn": ["--model", "densenet", "--batchnorm"],
    "resnet20-bn-res": ["--model", "resnet20", "--batchnorm", "--residual"],
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--gradtrace", default=".build/release/gradtrace")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--passes", default="gradient,hvp", help="gradient, hvp or both")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.randn(args.batch, 1, 32, 32)
    y = torch.arange(args.batch) % 10
    print(f"PyTorch {torch.__version__}: batch {args.batch}, 1x32x32, {args.threads} threads, median of {args.repeats}")
    print("model          gradient (ms)  HVP (ms)  ratio")
    for name in args.models.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([args.gradtrace, "init", *MODELS[name], "--dataset", "fashion-mnist", "-o", f"{tmp}/init.h5"],
                           check=True, stdout=subprocess.DEVNULL)
            model = load_checkpoint(f"{tmp}/init.h5").train()
        params = list(model.parameters())
        v = [torch.randn_like(p) for p in params]

        def gradient():
            loss = F.cross_entropy(model(x), y)
            return torch.autograd.grad(loss, params)

        def hvp():
            loss = F.cross_entropy(model(x), y)
            g = torch.autograd.grad(loss, params, create_graph=True)
            return torch.autograd.grad(g, params, grad_outputs=v)

        times = {}
        for label, function in (("gradient", gradient), ("hvp", hvp)):
            if label not in args.passes.split(","):
                times[label] = float("nan")
                continue
            samples = []
            for i in range(args.repeats + 1):
                start = time.perf_counter()
                function()
                if i > 0:
                    samples.append((time.perf_counter() - start) * 1000)
            times[label] = statistics.median(samples)
        print(f"{name:14s} {times['gradient']:13.1f}  {times['hvp']:8.1f}  {times['hvp'] / times['gradient']:5.2f}")


if __name__ == "__main__":
    main()
