#!/usr/bin/env python3
"""Golden values for the engine's cross-check against PyTorch.

For each variant (vgg08, vgg38, vgg38 BN, vgg38 BN+residual, vgg38 sigmoid BN) this writes the
initial weights with `gradtrace init`, loads them into the PyTorch model of gradtrace_torch.py,
and computes, in float64, the mean cross-entropy and every parameter gradient on one fixed batch
(BatchNorm in training mode). Output, in --output:

    batch.h5            /images float32 [N, 3, 32, 32], /labels int64 [N]   (docs/design.md batch file)
    <variant>.h5        attrs: loss, seed, command, torch_version,
                        torch_float32_worst_error (PyTorch's own float32 gradients against its
                        float64 ones: how well float32 can do on this network at all);
                        /gradients/<name> (float64 run, stored as float32);
                        /weight_norms/<name> float64 (to detect a changed initialiser)

The Swift test (Tests/NetworksTests/TorchGoldenTests.swift) rebuilds the same weights from the
seed, runs the batch, and compares. Requires: pip install torch==2.13.0 h5py numpy.

    python3 scripts/torch_reference.py --gradtrace .build/release/gradtrace \
        --output Tests/NetworksTests/Golden
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

VARIANTS = {
    "vgg08": ["--model", "vgg08"],
    "vgg38": ["--model", "vgg38"],
    "vgg38-bn": ["--model", "vgg38", "--batchnorm"],
    "vgg38-bn-res": ["--model", "vgg38", "--batchnorm", "--residual"],
    "vgg38-bn-sigmoid": ["--model", "vgg38", "--batchnorm", "--activation", "sigmoid"],
}
SEED = 0
BATCH = 16


# The golden batch's shape: 3×32×32 images, 100 classes (`gradtrace init` defaults to Fashion-MNIST's).
SHAPE = ["--dataset", "cifar100"]


def initial_model(gradtrace, flags, dtype):
    """The weights `gradtrace init FLAGS --dataset cifar100 --seed SEED` writes, loaded into the
    PyTorch model."""
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = os.path.join(tmp, "init.h5")
        subprocess.run([gradtrace, "init", *flags, *SHAPE, "--seed", str(SEED), "-o", checkpoint],
                       check=True, stdout=subprocess.DEVNULL)
        return load_checkpoint(checkpoint, dtype=dtype)


def make_batch(path):
    """A fixed batch: normalised-looking images and labels from numpy's seeded generator."""
    rng = np.random.default_rng(20240601)
    images = rng.standard_normal((BATCH, 3, 32, 32)).astype(np.float32)
    labels = rng.integers(0, 100, size=BATCH).astype(np.int64)
    with h5py.File(path, "w") as f:
        f["images"] = images
        f["labels"] = labels
    return images, labels


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gradtrace", default=".build/release/gradtrace")
    parser.add_argument("--output", default="Tests/NetworksTests/Golden")
    args = parser.parse_args()
    os.makedirs(args.output, exist_ok=True)
    torch.use_deterministic_algorithms(True)
    images, labels = make_batch(os.path.join(args.output, "batch.h5"))
    x64 = torch.from_numpy(images).double()
    y = torch.from_numpy(labels)

    optimizer_golden(os.path.join(args.output, "optimizers.h5"))
    curvature_output = os.path.join(os.path.dirname(os.path.abspath(args.output)), "..", "CurvatureTests", "Golden")
    os.makedirs(curvature_output, exist_ok=True)
    make_batch(os.path.join(curvature_output, "batch.h5"))
    curvature_golden(args.gradtrace, curvature_output, images, labels)
    for variant, flags in VARIANTS.items():
        model = initial_model(args.gradtrace, flags, torch.float64)
        model32 = initial_model(args.gradtrace, flags, torch.float32)
        model.train()
        loss = F.cross_entropy(model(x64), y)
        loss.backward()
        model32.train()
        F.cross_entropy(model32(torch.from_numpy(images)), y).backward()
        float32_error = max(
            ((p32.grad.double() - p.grad).norm() / p.grad.norm()).item()
            for (name, p), p32 in zip(model.named_parameters(), model32.parameters())
            if not structurally_zero(name, "--batchnorm" in flags))
        with h5py.File(os.path.join(args.output, f"{variant}.h5"), "w") as f:
            f.attrs["loss"] = loss.item()
            f.attrs["seed"] = SEED
            f.attrs["command"] = " ".join(["gradtrace", "init", *flags, *SHAPE, "--seed", str(SEED)])
            f.attrs["torch_version"] = str(torch.__version__)
            f.attrs["torch_float32_worst_error"] = float32_error
            for name, p in model.named_parameters():
                f.create_dataset(f"gradients/{name}", data=p.grad.numpy().astype(np.float32),
                                 compression="gzip", compression_opts=9)
                f[f"weight_norms/{name}"] = np.float64(p.detach().norm().item())
        grads = {n: p.grad.abs().mean().item() for n, p in model.named_parameters()}
        print(f"{variant:18s} loss {loss.item():.6f}  mean|g| stem {grads['input_conv.conv_0.weight']:.3e}"
              f"  linear {grads['logit_linear_layer.weight']:.3e}"
              f"  torch float32 vs float64 worst {float32_error:.2e}")


def optimizer_golden(path):
    """Three steps of Adam and of SGD (momentum, weight decay) on fixed weights and gradients,
    in float64, plus cosine annealing's learning rates: the optimizers' PyTorch semantics."""
    rng = np.random.default_rng(7)
    weights = rng.standard_normal(10)
    grads = rng.standard_normal((3, 10))
    with h5py.File(path, "w") as f:
        f["weights"] = weights
        f["gradients"] = grads
        settings = {
            "adam": lambda p: torch.optim.Adam(p, lr=1e-2, weight_decay=1e-2),
            "sgd": lambda p: torch.optim.SGD(p, lr=1e-1, momentum=0.9, weight_decay=1e-2),
        }
        for name, make in settings.items():
            w = torch.nn.Parameter(torch.from_numpy(weights.copy()))
            optimizer = make([w])
            steps = []
            for g in grads:
                w.grad = torch.from_numpy(g.copy())
                optimizer.step()
                steps.append(w.detach().numpy().copy())
            f[name] = np.stack(steps)
        w = torch.nn.Parameter(torch.zeros(1))
        optimizer = torch.optim.Adam([w], lr=1e-3)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=10, eta_min=2e-5)
        rates = []
        for _ in range(12):
            rates.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            schedule.step()
        f["cosine_lr"] = np.array(rates)


CURVATURE_VARIANTS = {"vgg08": VARIANTS["vgg08"], "vgg38-bn-res": VARIANTS["vgg38-bn-res"]}


def fixed_direction(model):
    """The direction v of the HVP golden values: v_i = sin(0.37 i + 1) over all parameters
    in order (i counts from 0 across tensors), so Swift rebuilds it without a file."""
    v, offset = [], 0
    for _, p in model.named_parameters():
        index = torch.arange(offset, offset + p.numel(), dtype=torch.float64)
        v.append(torch.sin(0.37 * index + 1.0).reshape(p.shape))
        offset += p.numel()
    return v


def curvature_golden(gradtrace, output, images, labels):
    """gᵀg, gᵀHg and H·v for a fixed v, in float64 by double backward (BatchNorm in training
    mode), on the same weights and batch as the gradient golden values."""
    x = torch.from_numpy(images).double()
    y = torch.from_numpy(labels)
    for variant, flags in CURVATURE_VARIANTS.items():
        model = initial_model(gradtrace, flags, torch.float64)
        model.train()
        params = list(model.parameters())
        loss = F.cross_entropy(model(x), y)
        g = torch.autograd.grad(loss, params, create_graph=True)
        gTg = sum((gi * gi).sum() for gi in g)
        hg = torch.autograd.grad(g, params, grad_outputs=[gi.detach() for gi in g], retain_graph=True)
        gHg = sum((gi.detach() * hi).sum() for gi, hi in zip(g, hg))
        v = fixed_direction(model)
        hv = torch.autograd.grad(g, params, grad_outputs=v)
        float32_error = float32_hv_error(checkpoint_flags=flags, gradtrace=gradtrace, images=images,
                                         labels=y, reference=hv)
        with h5py.File(os.path.join(output, f"curvature-{variant}.h5"), "w") as f:
            f.attrs["loss"] = loss.item()
            f.attrs["gTg"] = gTg.item()
            f.attrs["gHg"] = gHg.item()
            f.attrs["seed"] = SEED
            f.attrs["command"] = " ".join(["gradtrace", "init", *flags, *SHAPE, "--seed", str(SEED)])
            f.attrs["torch_version"] = str(torch.__version__)
            f.attrs["torch_float32_hv_error"] = float32_error
            for (name, _), h in zip(model.named_parameters(), hv):
                f.create_dataset(f"hv/{name}", data=h.numpy().astype(np.float32),
                                 compression="gzip", compression_opts=9)
        print(f"curvature {variant:12s} gTg {gTg.item():.6e}  gHg {gHg.item():.6e}"
              f"  torch float32 Hv vs float64 {float32_error:.2e}")


def float32_hv_error(checkpoint_flags, gradtrace, images, labels, reference):
    """‖Hv in float32 − Hv in float64‖ / ‖Hv in float64‖ for PyTorch itself: how well float32
    can do on this network and direction at all."""
    model = initial_model(gradtrace, checkpoint_flags, torch.float32)
    model.train()
    params = list(model.parameters())
    g = torch.autograd.grad(F.cross_entropy(model(torch.from_numpy(images)), labels), params, create_graph=True)
    hv = torch.autograd.grad(g, params, grad_outputs=[v.float() for v in fixed_direction(model)])
    ours = torch.cat([h.double().flatten() for h in hv])
    exact = torch.cat([h.flatten() for h in reference])
    return ((ours - exact).norm() / exact.norm()).item()


def structurally_zero(name, batchnorm):
    """A convolution bias feeding a training-mode BatchNorm: zero in exact arithmetic."""
    return batchnorm and name.startswith("reduction_block_") and ".conv_" in name and name.endswith(".bias")


if __name__ == "__main__":
    main()
