#!/usr/bin/env python3
"""Golden values for gradtrace's gradient-noise estimators, computed independently in PyTorch.

For each variant this writes the initial weights with `gradtrace init`, loads them into the
PyTorch model of gradtrace_torch.py in float64, and on the fixed batch of the curvature golden
values (Tests/CurvatureTests/Golden/batch.h5, 16 images) cuts the loss terms into 4 groups of 4
consecutive rows. With BatchNorm in training mode (batch statistics over all 16 images) it takes
the batch gradient g and each group's gradient g_j (the gradient of the group's mean loss through
the same forward pass), and forms McCandlish et al.'s two-batch-size estimators (appendix A.1 of
"An Empirical Model of Large-Batch Training", 2018) with B_big = 16, B_small = 4:

    |G|²   = (B_big |g|² − B_small mean_j |g_j|²) / (B_big − B_small)
    tr(Σ)  = (mean_j |g_j|² − |g|²) / (1/B_small − 1/B_big)
    tr(HΣ) = (mean_j g_jᵀHg_j − gᵀHg) / (1/B_small − 1/B_big)      (H·v by double backward)
    GᵀHG   = (B_big gᵀHg − B_small mean_j g_jᵀHg_j) / (B_big − B_small)

per layer (a module's parameters together: weight, bias, BatchNorm γ and β) and for the whole
model. gradtrace computes the same quantities from the spread Σ_j b_j |g_j − g|² (docs/design.md);
the two forms agree algebraically for equal groups, so agreement checks the group gradients, the
sums and the bias corrections at once. Output: Tests/CurvatureTests/Golden/noise-<variant>.h5.

    python3 scripts/torch_noise_golden.py --gradtrace .build/release/gradtrace
"""
import argparse
import os
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_reference import SEED, SHAPE, VARIANTS, initial_model  # noqa: E402

NOISE_VARIANTS = {"vgg08-bn": ["--model", "vgg08", "--batchnorm"], "vgg38-bn-res": VARIANTS["vgg38-bn-res"]}
GROUPS = 4


def layer_of(name):
    """The module a parameter belongs to (gradtrace's LayerGroups: the name without its last part)."""
    return name.rsplit(".", 1)[0].replace(".", "_")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gradtrace", default=".build/release/gradtrace")
    parser.add_argument("--output", default="Tests/CurvatureTests/Golden")
    args = parser.parse_args()
    torch.use_deterministic_algorithms(True)
    with h5py.File(os.path.join(args.output, "batch.h5"), "r") as f:
        x = torch.from_numpy(np.asarray(f["images"])).double()
        y = torch.from_numpy(np.asarray(f["labels"]))
    big = len(y)
    small = big // GROUPS
    for variant, flags in NOISE_VARIANTS.items():
        model = initial_model(args.gradtrace, flags, torch.float64)
        model.train()
        names = [n for n, _ in model.named_parameters()]
        params = list(model.parameters())
        logits = model(x)
        terms = F.cross_entropy(logits, y, reduction="none")
        g = torch.autograd.grad(terms.mean(), params, create_graph=True)
        groups = [torch.autograd.grad(terms[j * small:(j + 1) * small].mean(), params, retain_graph=True)
                  for j in range(GROUPS)]

        def hvp(v):
            return torch.autograd.grad(g, params, grad_outputs=v, retain_graph=True)

        def quadratic(v):
            return sum((a * b).sum() for a, b in zip(v, hvp(v))).item()

        g_detached = [t.detach() for t in g]
        gHg = quadratic(g_detached)
        mean_gjHgj = np.mean([quadratic(list(gj)) for gj in groups])

        layers = list(dict.fromkeys(layer_of(n) for n in names))
        def per_layer(vectors):
            sums = dict.fromkeys(layers, 0.0)
            for n, t in zip(names, vectors):
                sums[layer_of(n)] += (t * t).sum().item()
            return np.array([sums[l] for l in layers])
        batch_sq = per_layer(g_detached)
        group_sq = np.mean([per_layer(gj) for gj in groups], axis=0)
        layer_norm = (big * batch_sq - small * group_sq) / (big - small)
        layer_trace = (group_sq - batch_sq) / (1 / small - 1 / big)
        norm, trace = layer_norm.sum(), layer_trace.sum()
        h_trace = (mean_gjHgj - gHg) / (1 / small - 1 / big)
        expected_curvature = (big * gHg - small * mean_gjHgj) / (big - small)
        b_noise = h_trace / expected_curvature
        # No minimum along G without positive curvature there: ε_max is NaN (as in gradtrace).
        epsilon_max = norm / expected_curvature if expected_curvature > 0 else float("nan")
        with h5py.File(os.path.join(args.output, f"noise-{variant}.h5"), "w") as f:
            f.attrs["seed"] = SEED
            f.attrs["groups"] = GROUPS
            f.attrs["command"] = " ".join(["gradtrace", "init", *flags, *SHAPE, "--seed", str(SEED)])
            f.attrs["torch_version"] = str(torch.__version__)
            f.attrs["gHg"] = gHg
            f.attrs["gradient_norm_squared"] = norm
            f.attrs["covariance_trace"] = trace
            f.attrs["b_simple"] = trace / norm
            f.attrs["hessian_covariance_trace"] = h_trace
            f.attrs["expected_curvature"] = expected_curvature
            f.attrs["b_noise"] = b_noise
            f.attrs["epsilon_max"] = epsilon_max
            f.attrs["epsilon_opt"] = epsilon_max / (1 + b_noise / big)
            f.attrs["layers"] = ",".join(layers)
            f["layer_gradient_norm_squared"] = layer_norm
            f["layer_covariance_trace"] = layer_trace
            f["layer_b_simple"] = layer_trace / layer_norm
        print(f"noise {variant:12s} |G|² {norm:.6e}  tr(Σ) {trace:.6e}  B_simple {trace / norm:.4g}"
              f"  tr(HΣ) {h_trace:.6e}  B_noise {b_noise:.4g}")


if __name__ == "__main__":
    main()
