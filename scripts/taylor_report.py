#!/usr/bin/env python3
"""How well the second-order Taylor prediction tracks the real loss change in a trace.

For every curvature measurement of a trace (train --record ...,curvature): the predicted change
along the step d, first order gᵀd and second order gᵀd + ½ dᵀHd, against the actual change
f_B(w + d) − f_B(w) on the same batch. Prints the correlation of predicted and actual changes,
the median relative error |predicted − actual| / |actual|, overall and by α bucket (α = 1/s* − 1;
NaN where dᵀHd ≤ 0), as a Markdown table.

    python3 scripts/taylor_report.py run.h5
"""
import sys

import h5py
import numpy as np


def main():
    path = sys.argv[1]
    with h5py.File(path, "r") as f:
        c = {name: f[f"curvature/{name}"][:].astype(np.float64) for name in
             ("step", "predicted_first", "predicted_second", "actual_delta", "alpha", "dHd", "gHg")}
    actual, first, second, alpha = c["actual_delta"], c["predicted_first"], c["predicted_second"], c["alpha"]
    keep = np.isfinite(actual) & np.isfinite(second) & (actual != 0)
    print(f"{path}: {len(actual)} curvature measurements (steps {int(c['step'][0])} to {int(c['step'][-1])}), {keep.sum()} usable")
    print(f"correlation(second-order prediction, actual change) = {np.corrcoef(second[keep], actual[keep])[0, 1]:.4f}")
    print(f"correlation(first-order prediction, actual change)  = {np.corrcoef(first[keep], actual[keep])[0, 1]:.4f}")
    print(f"steps with negative curvature along d (dᵀHd ≤ 0): {(c['dHd'] <= 0).sum()}; along g (gᵀHg ≤ 0): {(c['gHg'] <= 0).sum()}")
    print()
    print("| α bucket | steps | median rel. error, 2nd order | median rel. error, 1st order |")
    print("|---|---:|---:|---:|")
    buckets = [("all", np.ones_like(alpha, dtype=bool)), ("α < −0.5", alpha < -0.5), ("−0.5 ≤ α < 0", (alpha >= -0.5) & (alpha < 0)),
               ("0 ≤ α < 0.5", (alpha >= 0) & (alpha < 0.5)), ("0.5 ≤ α < 1", (alpha >= 0.5) & (alpha < 1)), ("α ≥ 1", alpha >= 1),
               ("undefined (dᵀHd ≤ 0)", np.isnan(alpha))]
    for label, mask in buckets:
        m = mask & keep
        if m.sum() == 0:
            print(f"| {label} | 0 | - | - |")
            continue
        e2 = np.median(np.abs(second[m] - actual[m]) / np.abs(actual[m]))
        e1 = np.median(np.abs(first[m] - actual[m]) / np.abs(actual[m]))
        print(f"| {label} | {m.sum()} | {100 * e2:.1f}% | {100 * e1:.1f}% |")


if __name__ == "__main__":
    main()
