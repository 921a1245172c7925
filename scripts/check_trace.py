#!/usr/bin/env python3
"""Checks a gradtrace trace with h5py alone, against the schema as docs/trace-format.md
publishes it: every dataset the document lists that the file holds has the documented dtype,
shape and `index` attribute, one row per row of its index; the datasets every trace holds are
present; sparse indices (per-layer curvature, Hessian trace, eigenvalue, spectrum) hold only measured rows
(no row that is NaN throughout); every dataset carries a `description` attribute. With
--expect, the recorded values also equal those the Swift side logged (a JSON file of
{"path": [values...]} with rows flattened).

    python3 scripts/check_trace.py run.h5 [--expect logged.json]
Exit status 0 when everything holds; each problem is printed.
"""
import argparse
import json
import os
import re
import sys

import h5py
import numpy as np

DOCUMENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "trace-format.md")
# Indices whose rows are every recorded step, measurement or epoch, where a single quantity may be
# NaN by definition (ε* without positive curvature, ε_max where GᵀHG ≤ 0): the rest are sparse,
# and a row of them is never all NaN.
DENSE_INDICES = {"/steps/step", "/curvature/step", "/noise/step", "/epochs/epoch"}


def documented_datasets():
    """(path, dtype, shape, follows, optional) for each row of the document's datasets table."""
    rows = []
    with open(DOCUMENT, encoding="utf-8") as handle:
        for line in handle:
            match = re.match(r"\| `(/[^`]+)` \| (\w+) \| \[([^\]]*)\] \| (?:`([^`]+)`)? \| [^|]* \| (.*) \|$", line)
            if match:
                path, dtype, shape, follows, meaning = match.groups()
                rows.append((path, dtype, [s.strip() for s in shape.split(",")], follows, any(f"(with `--{flag}" in meaning for flag in ("record", "spectrum", "histogram", "noise"))))
    if not rows:
        raise SystemExit(f"{DOCUMENT}: no datasets table found")
    return rows


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
        check(int(f.attrs.get("format_version", -1)) == 2, "format_version != 2")
        for name in ("tool_version", "created", "config", "model"):
            check(name in f.attrs, f"missing root attribute {name}")
        json.loads(f.attrs["config"])
        json.loads(f.attrs["model"])
        sizes = {"L": len(f["layers/name"]), "B": len(f["activations/name"]) if "activations/name" in f else 0,
                 "J": len(f["merges/layer"]) if "merges/layer" in f else 0}
        if "spectrum/nodes" in f:  # the spectrum's sizes are the trace's own: every dataset must agree
            sizes.update(k=f["spectrum/top"].shape[1], P=f["spectrum/nodes"].shape[1], m=f["spectrum/nodes"].shape[2],
                         G=f["spectrum/density"].shape[1])
            weights = f["spectrum/weights"][:].astype(np.float64)
            sums = np.nansum(weights, axis=2)
            check(np.allclose(sums, 1, atol=1e-4), f"/spectrum/weights: a probe's weights sum to {sums.min()}-{sums.max()}, not 1")
        if "histograms/edges" in f:  # the bins are the trace's own; every tensor's elements counted once
            edges = f["histograms/edges"][:]
            sizes.update({"b": len(edges) - 1, "b + 1": len(edges), "7": 7})
            check(np.allclose(np.diff(edges), edges[1] - edges[0], atol=1e-4), "/histograms/edges are not evenly spaced")
            parameters = f["layers/parameters"][:]
            for tensor in ("gradient", "update", "weight"):
                path = f"histograms/{tensor}s"
                if path not in f:
                    continue
                totals = f[path][:].astype(np.int64).sum(axis=2) + f[f"histograms/{tensor}_specials"][:, :, :6].sum(axis=2)
                check(np.all(totals == parameters[None, :]),
                      f"/{path}: counts and specials do not add up to each layer's parameters")
        for path, dtype, shape, follows, optional in documented_datasets():
            if path not in f:
                check(optional, f"{path} is missing")
                continue
            data = f[path]
            wanted = np.dtype("O") if dtype == "string" else np.dtype(dtype)
            check(data.dtype.kind in "OS" if dtype == "string" else data.dtype == wanted,
                  f"{path} has dtype {data.dtype}, expected {dtype}")
            check("description" in data.attrs, f"{path} has no description attribute")
            if follows:
                check(data.attrs.get("index") in (follows, follows.encode()), f"{path}: index attribute != {follows}")
                rows = len(f[follows])
                expected = (rows,) + tuple(sizes[s] for s in shape[1:])
                check(data.shape == expected, f"{path} has shape {data.shape}, expected {expected}")
                check(data.maxshape[0] is None, f"{path} is not extendible")
                if follows not in DENSE_INDICES and data.dtype == np.float32 and rows > 0:
                    empty = np.all(np.isnan(data[:].reshape(rows, -1)), axis=1)
                    check(not empty.any(), f"{path} holds rows that were not measured (all NaN): {np.flatnonzero(empty)}")
            else:
                check(data.shape == (sizes[shape[0]],), f"{path} has shape {data.shape}, expected [{shape[0]}]")
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
        n = len(f["steps/step"])
    for problem in problems:
        print(f"{args.trace}: {problem}")
    print(f"{args.trace}: {'ok' if not problems else f'{len(problems)} problems'} ({n} steps)")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
