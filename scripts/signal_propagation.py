#!/usr/bin/env python3
"""Signal propagation at initialisation (issue 18): q-value (mean squared output) and c-value
(mean cosine similarity between examples' outputs) of every block of plain VGG38, VGG38 BN and
VGG38 BN+residual, and the residual-branch ratio ‖F(x)‖/‖x‖ at each add of VGG38 BN+residual,
on the same Fashion-MNIST batch, read from step 0 of a one-epoch trace (step 0's forward pass
runs at the initial weights). Usage: scripts/signal_propagation.py [--seed S]"""
import argparse, os, subprocess, sys, tempfile
import h5py

parser = argparse.ArgumentParser()
parser.add_argument("--seed", default="0")
args = parser.parse_args()
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
gradtrace = os.path.join(root, ".build", "release", "gradtrace")
subprocess.run(["swift", "build", "-c", "release", "--product", "gradtrace"], cwd=root, check=True,
               stdout=subprocess.DEVNULL)
models = {"VGG38": [], "VGG38 BN": ["--batchnorm"], "VGG38 BN+res": ["--batchnorm", "--residual"]}
columns = {}
ratios = {}
with tempfile.TemporaryDirectory() as work:
    for name, flags in models.items():
        run = os.path.join(work, name.replace(" ", "_").replace("+", "_"))
        subprocess.run([gradtrace, "train", "--model", "vgg38", *flags, "--dataset", "fashion-mnist", "--subset", "100",
                        "--validation", "100", "--test-examples", "100", "--epochs", "1", "--batch-size", "100",
                        "--seed", args.seed, "--name", name, "--output", run, "--trace", os.path.join(run, "t.h5"), "--quiet"],
                       check=True, stdout=subprocess.DEVNULL)
        with h5py.File(os.path.join(run, "t.h5"), "r") as f:
            names = [n.decode() for n in f["activations/name"][:]]
            columns[name] = (names, f["activations/q_value"][0], f["activations/c_value"][0], int(f["steps/step"][0]))
            if "merges/input_norm" in f:
                layers = [n.decode() for n in f["merges/layer"][:]]
                norms = f["merges/input_norm"][0]
                # Each residual add's columns: its branch F(x) first, then its shortcut x.
                ratios[name] = {layers[j]: norms[j] / norms[j + 1] for j in range(0, len(layers), 2)}
    # The figure of the same three traces (q, c per block; ‖F(x)‖/‖x‖ per add).
    figure = os.path.join(root, "benchmarks", "signal-propagation.svg")
    subprocess.run([gradtrace, "plot", *[os.path.join(work, m.replace(" ", "_").replace("+", "_"), "t.h5") for m in models],
                    "--figure", "signal", "-o", figure], check=True, stdout=subprocess.DEVNULL)
names = columns["VGG38"][0]
print("| block | " + " | ".join(f"{m} q | {m} c" for m in models) + " |")
print("|---|" + "---:|---:|" * len(models))
for b, block in enumerate(names):
    cells = []
    for m in models:
        _, q, c, _ = columns[m]
        cells += [f"{q[b]:.3g}", f"{c[b]:.3f}"]
    print(f"| {block} | " + " | ".join(cells) + " |")
for name, by_add in ratios.items():
    print()
    print(f"{name}, ‖F(x)‖/‖x‖ at each residual add (branch over shortcut):")
    print("| add | ‖F(x)‖/‖x‖ |")
    print("|---|---:|")
    for add, ratio in by_add.items():
        print(f"| {add} | {ratio:.3g} |")
