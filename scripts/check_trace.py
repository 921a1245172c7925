#!/usr/bin/env python3
"""Checks a gradtrace trace with h5py alone: schema v1's paths, dtypes and shapes, and, with
--expect, that the recorded values equal those the Swift side logged (a JSON file of
{"path": [values...]} with rows flattened).

    python3 scripts/check_trace.py run.h5 [--expect logged.json]
Exit status 0 when everything holds; each problem is printed.
"""
import argparse
import json
import sys

import h5py
import numpy as np

STEP_SCALARS = {"steps/step": "int64", "steps/epoch": "int32", "steps/loss": "float32",
                "steps/accuracy": "float32", "steps/learning_rate": "float32"}
PER_LAYER = ["gradients/mean_abs", "gradients/l2_norm", "gradients/max_abs", "updates/l2_norm", "weights/l2_norm"]
ACTIVATIONS = ["activations/mean", "activations/std", "activations/fraction_negative", "activations/fraction_saturated"]
CURVATURE = ["gTg", "gHg", "gTd", "dHd", "predicted_first", "predicted_second", "actual_delta", "epsilon_star",
             "alpha", "hessian_trace", "hessian_top_eigenvalue"]
EPOCHS = ["epoch", "train_loss", "train_accuracy", "valid_loss", "valid_accuracy", "seconds"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("trace")
    parser.add_argument("--expect")
    args = parser.parse_args()
    problems = []

    def check(condition, message):
        if not condition:
            problems.append(message)

    # swmr=True: a live trace (or one whose writer was killed) opens as well as a closed one.
    with h5py.File(args.trace, "r", swmr=True) as f:
        check(f.attrs.get("format") in (b"gradtrace", "gradtrace"), "root attribute format != gradtrace")
        check(int(f.attrs.get("format_version", -1)) == 1, "format_version != 1")
        for name in ("tool_version", "created", "config", "model"):
            check(name in f.attrs, f"missing root attribute {name}")
        json.loads(f.attrs["config"])
        json.loads(f.attrs["model"])
        layers = len(f["layers/name"])
        check(f["layers/name"].dtype.kind == "O", "/layers/name is not a string dataset")
        check(f["layers/parameters"].dtype == np.int64, "/layers/parameters is not int64")
        n = len(f["steps/step"])
        for path, dtype in STEP_SCALARS.items():
            check(f[path].dtype == np.dtype(dtype), f"/{path} has dtype {f[path].dtype}, expected {dtype}")
            check(f[path].shape == (n,), f"/{path} has shape {f[path].shape}, expected ({n},)")
            check(f[path].maxshape == (None,), f"/{path} is not extendible")
        for path in PER_LAYER:
            check(f[path].shape == (n, layers), f"/{path} has shape {f[path].shape}, expected ({n}, {layers})")
            check(f[path].dtype == np.float32, f"/{path} is not float32")
        if "activations" in f:
            blocks = len(f["activations/name"])
            for path in ACTIVATIONS:
                check(f[path].shape == (n, blocks), f"/{path} has shape {f[path].shape}, expected ({n}, {blocks})")
        if "curvature" in f:
            m = len(f["curvature/step"])
            check(f["curvature/step"].dtype == np.int64, "/curvature/step is not int64")
            for name in CURVATURE:
                check(f[f"curvature/{name}"].shape == (m,), f"/curvature/{name} has shape {f['curvature/' + name].shape}")
            for name in ("layer_gHg", "layer_trace"):
                check(f[f"curvature/{name}"].shape == (m, layers), f"/curvature/{name} has the wrong shape")
        e = len(f["epochs/epoch"])
        for name in EPOCHS:
            check(f[f"epochs/{name}"].shape == (e,), f"/epochs/{name} has the wrong shape")
        for name in ("status", "test_loss", "test_accuracy", "best_epoch"):
            check(name in f["summary"].attrs, f"missing /summary attribute {name}")
        check(np.all(np.diff(f["steps/step"][:]) > 0), "/steps/step is not increasing")
        if args.expect:
            with open(args.expect) as handle:
                expected = json.load(handle)
            for path, values in expected.items():
                recorded = f[path][:].reshape(-1).astype(np.float64)
                wanted = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
                same = recorded.shape == wanted.shape and np.allclose(recorded, wanted, rtol=1e-6, atol=0, equal_nan=True)
                check(same, f"/{path}: recorded {recorded[:5]}... differs from logged {wanted[:5]}...")
    for problem in problems:
        print(f"{args.trace}: {problem}")
    print(f"{args.trace}: {'ok' if not problems else f'{len(problems)} problems'} ({n} steps)")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
