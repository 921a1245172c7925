#!/usr/bin/env python3
"""The Taylor outliers in float32 and float64 (issue 18): the small reproduction's VGG38 BN and
VGG38 BN+residual runs (Fashion-MNIST, 4,000 images, 3 epochs, their Table 1 batch sizes and
learning rates, curvature every 10th step), trained twice with the same seed: once with the
curvature measurements in float32 (as `reproduce` records them), once in float64
(`--curvature-precision double`). Training is float32 both times and identical; only the
measurement's arithmetic differs. Prints, per run and precision, the correlation of the
second-order prediction with the actual change and every measurement's values: the tables and
the answer in benchmarks/taylor-outliers.md.
Usage: scripts/taylor_precision.py [--out DIR]"""
import argparse, os, subprocess, sys
import h5py
import numpy as np

parser = argparse.ArgumentParser()
parser.add_argument("--out", default="out/taylor-precision")
args = parser.parse_args()
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
gradtrace = os.path.join(root, ".build", "release", "gradtrace")
subprocess.run(["swift", "build", "-c", "release", "--product", "gradtrace"], cwd=root, check=True,
               stdout=subprocess.DEVNULL)
runs = {
    "vgg38-bn": ["--model", "vgg38", "--batchnorm", "--batch-size", "100", "--lr", "1e-3"],
    "vgg38-bn-res": ["--model", "vgg38", "--batchnorm", "--residual", "--batch-size", "256", "--lr", "1e-3",
                     "--weight-decay", "1e-4"],
}
common = ["--dataset", "fashion-mnist", "--subset", "4000", "--validation", "1000", "--test-examples", "5000",
          "--epochs", "3", "--record", "gradients,activations,curvature", "--curvature-every", "10", "--quiet"]
fields = ["step", "gTd", "dHd", "predicted_second", "actual_delta", "alpha"]
for name, flags in runs.items():
    tables = {}
    for precision in ("float", "double"):
        directory = os.path.join(args.out, f"{name}-{precision}")
        trace = directory + ".h5"
        if not os.path.exists(trace):
            subprocess.run([gradtrace, "train", *flags, *common, "--curvature-precision", precision,
                            "--output", directory, "--trace", trace], check=True, stdout=subprocess.DEVNULL)
        with h5py.File(trace, "r") as f:
            tables[precision] = {k: f[f"curvature/{k}"][:].astype(np.float64) for k in fields}
            losses = f["steps/loss"][:]
        tables[precision]["losses"] = losses
    same = np.array_equal(tables["float"]["losses"], tables["double"]["losses"])
    print(f"## {name}: training losses identical in both runs: {same}")
    for precision, t in tables.items():
        r = np.corrcoef(t["predicted_second"], t["actual_delta"])[0, 1]
        print(f"{precision}: correlation(Δ2, Δ) = {r:.4f} over {len(t['step'])} measurements")
    print("| step | gᵀd | ½dᵀHd f32 | ½dᵀHd f64 | Δ2 f32 | Δ2 f64 | Δ f32 | Δ f64 | α f64 |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    f32, f64 = tables["float"], tables["double"]
    for i in range(len(f32["step"])):
        print(f"| {int(f32['step'][i])} | {f64['gTd'][i]:.4g} | {0.5 * f32['dHd'][i]:.4g} | {0.5 * f64['dHd'][i]:.4g} | "
              f"{f32['predicted_second'][i]:.4g} | {f64['predicted_second'][i]:.4g} | {f32['actual_delta'][i]:.4g} | "
              f"{f64['actual_delta'][i]:.4g} | {f64['alpha'][i]:.3g} |")
    print()
