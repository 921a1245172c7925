#!/usr/bin/env python3
"""Trace overhead (issue 5): one epoch of vgg38 BN+residual on 1x32x32 data (synthetic: 30
steps; or padded Fashion-MNIST with --steps N), batch 100, 2 threads, release build, three
ways, interleaved so that machine noise hits all alike:
  plain        no trace
  statistics   --trace, gradient + activation statistics every step
  curvature    as statistics, plus gᵀHg, dᵀHd and the actual change every 10th step (with the
               defaults: per-layer gᵀHg every 10th measurement, no trace or eigenvalue)
Prints median epoch seconds and the ratios to plain; then trace bytes per 1,000 steps, from a
separate run of 1,000 steps of the same model (16x16 input, batch 2, so it is quick: the
trace's size depends on the layer count, not on the batch).

    python3 scripts/trace_overhead.py --gradtrace .build/release/gradtrace [--repeats 3] [--steps 100]
        [--curvature-every 10]
"""
import argparse
import csv
import os
import statistics
import subprocess
import tempfile

import h5py


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--gradtrace", default=".build/release/gradtrace")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--curvature-every", type=int, default=10)
    parser.add_argument("--steps", type=int, default=0,
                        help="steps per epoch on Fashion-MNIST (0: the synthetic set, 30 steps)")
    args = parser.parse_args()
    data = (["--dataset", "fashion-mnist", "--subset", str(args.steps * 100 + 200)] if args.steps
            else ["--dataset", "synthetic", "--subset", "3000"])
    base = [args.gradtrace, "train", "--model", "vgg38", "--batchnorm", "--residual", "--classes", "10",
            "--input", "1x32x32", *data, "--epochs", "1",
            "--validation", "200", "--batch-size", "100", "--threads", "2", "--quiet"]
    configurations = {
        "plain": [],
        "statistics": ["--record", "gradients,activations"],
        "curvature": ["--record", "gradients,activations,curvature", "--curvature-every", str(args.curvature_every)],
    }
    seconds = {name: [] for name in configurations}
    for _ in range(args.repeats):
        for name, extra in configurations.items():
            with tempfile.TemporaryDirectory() as run:
                trace = ["--trace", os.path.join(run, "trace.h5")] if extra else []
                subprocess.run(base + ["--output", run] + trace + extra, check=True, stdout=subprocess.DEVNULL)
                with open(os.path.join(run, "epochs.csv")) as f:
                    seconds[name].append(float(list(csv.DictReader(f))[0]["seconds"]))
    sizes = {}
    for name, extra in configurations.items():
        if not extra:
            continue
        with tempfile.TemporaryDirectory() as run:
            path = os.path.join(run, "trace.h5")
            small = [a if a != "1x32x32" else "1x16x16" for a in base]
            small[small.index("--dataset") + 1] = "synthetic"
            small[small.index("--batch-size") + 1] = "2"
            small[small.index("--subset") + 1] = "2200"
            subprocess.run(small + ["--output", run, "--trace", path] + extra, check=True, stdout=subprocess.DEVNULL)
            with h5py.File(path, "r") as f:
                steps = len(f["steps/step"])
            sizes[name] = os.path.getsize(path) / steps * 1000
    plain = statistics.median(seconds["plain"])
    source = f"Fashion-MNIST, {args.steps}" if args.steps else "synthetic, 30"
    print(f"vgg38 BN+residual, {source} steps of batch 100 (1x32x32), 2 threads, median of {args.repeats} (epoch incl. validation)")
    print("| recording | epoch (s) | ratio to plain | trace bytes per 1,000 steps |")
    print("|---|---:|---:|---:|")
    for name in configurations:
        m = statistics.median(seconds[name])
        size = f"{sizes[name] / 1e6:.2f} MB" if name in sizes else "-"
        label = f"curvature every {args.curvature_every}th step" if name == "curvature" else name
        print(f"| {label} | {m:.1f} | {m / plain:.3f} | {size} |")
    print("raw seconds:", seconds)


if __name__ == "__main__":
    main()
