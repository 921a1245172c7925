#!/usr/bin/env python3
"""gradtrace against PyTorch (CPU) on the same networks, weights and batch shape, the two
sides alternated in one run so that a noisy, shared machine slows both alike: what
BENCHMARKS.md's speed tables come from.

For every model and input shape, each round runs `gradtrace bench --json` (a separate process,
`--repeats` timed passes after a warm-up) and then the same pass in PyTorch in this process
(warm-up + `--repeats`); the table gives the median over rounds of each side's median and the
ratio (PyTorch's time ÷ gradtrace's: above 1, gradtrace is faster). Passes:

  step      forward + backward + Adam update (gradtrace `--pass step`; torch.optim.Adam)
  gradient  forward + backward (gradtrace `--pass gradient`; torch.autograd.grad)
  hvp       one Hessian-vector product H·v (gradtrace `--pass hvp`, forward-over-reverse;
            PyTorch's double backward, and torch.func's jvp of grad)
  vhv       the scalar vᵀHv (gradtrace `--pass jets`, Taylor mode; PyTorch: each of its two
            H·v, then a dot product)

BatchNorm runs in training mode on both sides (torch.func: `replace_all_batch_norm_modules_`,
batch statistics without running averages). Networks come from `gradtrace init` checkpoints
(gradtrace_torch.py), so any family runs on both sides.

    python3 scripts/bench_torch.py --models vgg08,vgg38 --inputs 1x32x32:10,3x32x32:100 \\
        --passes step,hvp --rounds 3 --repeats 3 --threads 2 [--markdown table.md]
"""
import argparse
import copy
import json
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
    "vgg38-bn": ["--model", "vgg38", "--batchnorm"],
    "vgg38-bn-res": ["--model", "vgg38", "--batchnorm", "--residual"],
    "densenet40-bn": ["--model", "densenet", "--batchnorm"],
    "resnet20": ["--model", "resnet20"],
    "resnet20-bn-res": ["--model", "resnet20", "--batchnorm", "--residual"],
}
GRADTRACE_PASS = {"step": "step", "gradient": "gradient", "hvp": "hvp", "vhv": "jets"}


def timed(function, repeats):
    """Median milliseconds of `repeats` calls after one warm-up call."""
    samples = []
    for i in range(repeats + 1):
        start = time.perf_counter()
        function()
        if i > 0:
            samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def torch_passes(model, x, y):
    """The PyTorch side of each pass: {pass: {label: function}}."""
    params = list(model.parameters())
    v = [torch.randn_like(p) for p in params]
    optimizer = torch.optim.Adam(params, lr=1e-3)

    def step():
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        optimizer.step()

    def gradient():
        return torch.autograd.grad(F.cross_entropy(model(x), y), params)

    def double_backward():
        g = torch.autograd.grad(F.cross_entropy(model(x), y), params, create_graph=True)
        return torch.autograd.grad(g, params, grad_outputs=v)

    # torch.func needs BatchNorm without running-average updates (in-place buffer writes).
    functional = copy.deepcopy(model)
    torch.func.replace_all_batch_norm_modules_(functional)
    names = [name for name, _ in functional.named_parameters()]
    values = tuple(p.detach() for p in functional.parameters())
    tangents = tuple(v)

    def loss_of(*ps):
        return F.cross_entropy(torch.func.functional_call(functional, dict(zip(names, ps)), (x,)), y)

    def jvp_of_grad():
        return torch.func.jvp(torch.func.grad(loss_of, argnums=tuple(range(len(values)))), values, tangents)[1]

    def vhv(hvp):
        return lambda: sum((h * t).sum() for h, t in zip(hvp(), v))

    return {
        "step": {"Adam step": step},
        "gradient": {"forward + backward": gradient},
        "hvp": {"double backward": double_backward, "jvp(grad)": jvp_of_grad},
        "vhv": {"double backward + dot": vhv(double_backward), "jvp(grad) + dot": vhv(jvp_of_grad)},
    }


def gradtrace_median(binary, model_args, shape, classes, gradtrace_pass, args):
    output = subprocess.run(
        [binary, "bench", *model_args, "--input", shape, "--classes", str(classes), "--pass", gradtrace_pass,
         "--batch-size", str(args.batch), "--threads", str(args.threads), "--repeats", str(args.repeats), "--json"],
        check=True, capture_output=True, text=True).stdout
    return json.loads(output)["median_ms"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODELS), help="from: " + ", ".join(MODELS))
    parser.add_argument("--inputs", default="1x32x32:10", help="CxHxW:classes, comma-separated")
    parser.add_argument("--passes", default="step", help="step, gradient, hvp, vhv (comma-separated)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--gradtrace", default=".build/release/gradtrace")
    parser.add_argument("--markdown", help="also write the table to this file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    lines = [
        f"gradtrace against PyTorch {torch.__version__}: batch {args.batch}, {args.threads} threads, "
        f"median over {args.rounds} alternated rounds of each side's median of {args.repeats}",
        "",
        "| model | input | pass | gradtrace ms | PyTorch | PyTorch ms | PyTorch ÷ gradtrace |",
        "|---|---|---|---:|---|---:|---:|",
    ]
    print("\n".join(lines), flush=True)
    for name in args.models.split(","):
        for spec in args.inputs.split(","):
            shape, classes = spec.split(":")
            classes = int(classes)
            c, h, w = (int(n) for n in shape.split("x"))
            with tempfile.TemporaryDirectory() as tmp:
                subprocess.run([args.gradtrace, "init", *MODELS[name], "--dataset", "synthetic", "--input", shape, "--classes",
                                str(classes), "-o", f"{tmp}/init.h5"], check=True, stdout=subprocess.DEVNULL)
                model = load_checkpoint(f"{tmp}/init.h5").train()
            x = torch.randn(args.batch, c, h, w)
            y = torch.arange(args.batch) % classes
            passes = torch_passes(model, x, y)
            for pass_name in args.passes.split(","):
                ours, theirs = [], {label: [] for label in passes[pass_name]}
                for _ in range(args.rounds):
                    ours.append(gradtrace_median(args.gradtrace, MODELS[name], shape, classes,
                                                 GRADTRACE_PASS[pass_name], args))
                    for label, function in passes[pass_name].items():
                        theirs[label].append(timed(function, args.repeats))
                mine = statistics.median(ours)
                for label, samples in theirs.items():
                    other = statistics.median(samples)
                    line = (f"| {name} | {shape}, {classes} classes | {pass_name} | {mine:.1f} | {label} | "
                            f"{other:.1f} | {other / mine:.2f} |")
                    lines.append(line)
                    print(line, flush=True)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
