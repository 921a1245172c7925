#!/usr/bin/env python3
"""Issue 4's protocol, both sides: padded Fashion-MNIST, 2 epochs on a 10,000-image subset,
batch 100, Adam lr 1e-3 with cosine annealing, 5,000 validation images, 2 threads, seed 0,
for the paper's VGGs and the families past it (DenseNet-BC, ResNet-20); gradtrace
(`gradtrace train`) and PyTorch (scripts/torch_train.py, from the same initial weights) run back
to back per variant. Writes a Markdown table (validation accuracy after the last epoch, test
accuracy of the best-validation epoch, training time).

    python3 scripts/compare_training.py --gradtrace .build/release/gradtrace --output benchmarks/fashion-mnist-2-epochs.md
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

VARIANTS = {
    "vgg08": ["--model", "vgg08"],
    "vgg38": ["--model", "vgg38"],
    "vgg38-bn": ["--model", "vgg38", "--batchnorm"],
    "vgg38-res": ["--model", "vgg38", "--residual"],
    "vgg38-bn-res": ["--model", "vgg38", "--batchnorm", "--residual"],
    "densenet40-bn": ["--model", "densenet", "--batchnorm"],
    "densenet40": ["--model", "densenet"],
    "resnet20-bn-res": ["--model", "resnet20", "--batchnorm", "--residual"],
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--gradtrace", default=".build/release/gradtrace")
    parser.add_argument("--output", default="benchmarks/fashion-mnist-2-epochs.md")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--threads", default="2")
    args = parser.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    rows = []
    for variant in args.variants.split(","):
        with tempfile.TemporaryDirectory() as run:
            command = [args.gradtrace, "train", *VARIANTS[variant], "--classes", "10", "--input", "1x32x32",
                       "--epochs", "2", "--subset", "10000", "--batch-size", "100", "--lr", "1e-3",
                       "--threads", args.threads, "--seed", "0", "--output", run, "--quiet"]
            start = time.perf_counter()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
            wall = time.perf_counter() - start
            with open(os.path.join(run, "summary.json")) as f:
                summary = json.load(f)
        ours = summary["epochs"][-1]
        torch_out = subprocess.run([sys.executable, os.path.join(here, "torch_train.py"), "--gradtrace", args.gradtrace,
                                    "--flags", " ".join(VARIANTS[variant]),
                                    "--epochs", "2", "--subset", "10000", "--threads", args.threads],
                                   check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        theirs = json.loads(torch_out)
        rows.append((variant, ours["valid_accuracy"], summary["test_accuracy"],
                     sum(e["seconds"] for e in summary["epochs"]), wall,
                     theirs["valid_accuracy"], theirs["test_accuracy"], theirs["seconds"]))
        print(f"{variant}: gradtrace valid {ours['valid_accuracy']:.4f} test {summary['test_accuracy']:.4f} "
              f"in {wall:.0f}s, PyTorch valid {theirs['valid_accuracy']:.4f} test {theirs['test_accuracy']:.4f} "
              f"in {theirs['seconds']:.0f}s", flush=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w") as f:
        f.write("<!-- written by scripts/compare_training.py (make compare-torch); do not edit -->\n")
        f.write("| model | gradtrace valid acc | gradtrace test acc | gradtrace train time (s) | gradtrace wall (s) | "
                "PyTorch valid acc | PyTorch test acc | PyTorch train time (s) | test difference (points) | "
                "time ratio |\n")
        f.write("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
        for v, a, ta, t, w, pa, pta, pt in rows:
            f.write(f"| {v} | {100 * a:.1f}% | {100 * ta:.1f}% | {t:.0f} | {w:.0f} | {100 * pa:.1f}% | "
                    f"{100 * pta:.1f}% | {pt:.0f} | {100 * (ta - pta):+.1f} | {t / pt:.2f} |\n")
    print(open(args.output).read())


if __name__ == "__main__":
    main()
