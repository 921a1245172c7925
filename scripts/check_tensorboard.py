#!/usr/bin/env python3
"""Reads gradtrace's TensorBoard event files back with TensorBoard's own reader
(EventAccumulator) and checks every scalar against the trace it came from (h5py), as float32:

1. a finished run: `gradtrace export TRACE --format tensorboard` (and the release-0.1.0
   fixture, a version 1 trace);
2. a live run: `gradtrace train --trace T --tensorboard DIR`, read while it writes (every
   scalar seen so far equals the trace's value at that step), then once it has finished.

Every dataset of the trace that follows an index must appear, tagged by its path with the
layer or block inserted for per-layer and per-block datasets; the configuration and model
are text summaries.

    python3 scripts/check_tensorboard.py --gradtrace .build/release/gradtrace
Exit status 0 when everything holds; each problem is printed.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_trace import documented_datasets  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
FIXTURE = os.path.join(ROOT, "Tests", "Fixtures", "release-0.1.0", "trace-sparse-curvature.h5")
# Version 1 kept the sparse quantities as NaN rows of /curvature (docs/trace-format.md).
VERSION_ONE = {"/layer_curvature/gHg": ("/curvature/layer_gHg", "/curvature/step"),
               "/hessian_trace/trace": ("/curvature/hessian_trace", "/curvature/step"),
               "/hessian_trace/layer_trace": ("/curvature/layer_trace", "/curvature/step"),
               "/eigenvalue/top": ("/curvature/hessian_top_eigenvalue", "/curvature/step")}
RUN = ["--model", "vgg08", "--residual", "--classes", "4", "--input", "1x16x16", "--dataset", "synthetic",
       "--batch-size", "25", "--validation", "50", "--subset", "300", "--record", "gradients,activations,curvature,noise",
       "--noise-every", "3",
       "--curvature-every", "2", "--layer-curvature-every", "2", "--trace-every", "3", "--eigen-every", "2",
       "--spectrum-every", "5", "--spectrum-steps", "6", "--spectrum-probes", "1", "--spectrum-top-k", "2",
       "--quiet", "--threads", "1"]


def names(f, path):
    return [n.decode() if isinstance(n, bytes) else n for n in f[path][:]] if path in f else []


def expected_scalars(trace):
    """{tag: {step: float32}} for every value of every dataset that follows an index."""
    scalars = {}
    with h5py.File(trace, "r", swmr=True) as f:
        version = int(f.attrs["format_version"])
        layers, blocks = names(f, "/layers/name"), names(f, "/activations/name")
        # An add or concat input: "<layer> <- <input>" (TensorBoardRun's entry).
        merges = [f"{a} <- {b}" for a, b in zip(names(f, "/merges/layer"), names(f, "/merges/input"))]
        for path, _, shape, follows, _ in documented_datasets():
            if not follows or path == follows:
                continue
            stored, index = (path, follows)
            if version == 1:
                stored, index = VERSION_ONE.get(path, (path, follows))
                if index == "/epochs/epoch" and follows != index:
                    continue
            if stored not in f or index not in f:
                continue
            rows = min(len(f[stored]), len(f[index]))
            if rows == 0:
                continue
            values = f[stored][:rows].astype(np.float32).reshape(rows, -1)
            steps = f[index][:rows]
            if version == 1 and path in VERSION_ONE:  # only the measured rows
                keep = ~np.all(np.isnan(values), axis=1)
                values, steps = values[keep], steps[keep]
            if len(shape) == 1:
                entries = [None]
            elif shape[1] in ("B", "L", "J"):
                entries = {"B": blocks, "L": layers, "J": merges}[shape[1]]
            elif shape[1] == "k":  # the top-k eigenvalues, by rank from 1
                entries = [str(i + 1) for i in range(values.shape[1])]
            else:  # quadrature nodes and density grids are not scalars
                continue
            parts = path.strip("/").split("/")
            for column, entry in enumerate(entries):
                tag = "/".join(parts if entry is None else parts[:-1] + [entry, parts[-1]])
                scalars[tag] = {int(s): np.float32(v) for s, v in zip(steps, values[:, column])}
    return scalars


def read_events(directory):
    accumulator = EventAccumulator(directory, size_guidance={"scalars": 0, "tensors": 0})
    accumulator.Reload()
    tags = accumulator.Tags()
    scalars = {tag: {e.step: np.float32(e.value) for e in accumulator.Scalars(tag)} for tag in tags["scalars"]}
    return scalars, tags["tensors"]


def same(a, b):
    return a == b or (np.isnan(a) and np.isnan(b))


def compare(expected, found, problems, label, complete=True):
    """Every scalar found equals the trace's; with `complete`, every one the trace has is found."""
    checked = 0
    for tag, steps in found.items():
        if tag not in expected:
            problems.append(f"{label}: tag {tag} is not in the trace")
            continue
        for step, value in steps.items():
            checked += 1
            if step not in expected[tag]:
                problems.append(f"{label}: {tag} at step {step} is not in the trace")
            elif not same(expected[tag][step], value):
                problems.append(f"{label}: {tag} at step {step}: event {value}, trace {expected[tag][step]}")
    if complete:
        for tag, steps in expected.items():
            missing = set(steps) - set(found.get(tag, {}))
            if missing:
                problems.append(f"{label}: {tag} lacks steps {sorted(missing)[:5]}")
    return checked


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--gradtrace", default=os.path.join(ROOT, ".build", "release", "gradtrace"))
    args = parser.parse_args()
    problems = []
    work = tempfile.mkdtemp(prefix="gradtrace-tensorboard-")

    # 1. Finished runs, exported.
    trace = os.path.join(work, "finished.h5")
    subprocess.run([args.gradtrace, "train"] + RUN + ["--epochs", "2", "--output", os.path.join(work, "finished"),
                                                     "--trace", trace], check=True)
    for label, path in [("finished run", trace), ("release 0.1.0 (version 1)", FIXTURE)]:
        out = os.path.join(work, "export-" + os.path.basename(path))
        subprocess.run([args.gradtrace, "export", path, "--format", "tensorboard", "-o", out], check=True,
                       stdout=subprocess.DEVNULL)
        runs = [os.path.join(d, "") for d, _, files in os.walk(out) if any("tfevents" in n for n in files)]
        if len(runs) != 1:
            problems.append(f"{label}: expected one run directory, found {runs}")
            continue
        found, tensors = read_events(runs[0])
        expected = expected_scalars(path)
        checked = compare(expected, found, problems, label)
        for text in ("config", "model"):
            if text not in tensors:
                problems.append(f"{label}: no {text} text summary")
        print(f"{label}: {checked} scalars in {len(found)} tags equal the trace's")

    # 2. A live run, read while it writes.
    live_trace, live_dir = os.path.join(work, "live.h5"), os.path.join(work, "live-tb")
    process = subprocess.Popen([args.gradtrace, "train"] + RUN + [
        "--epochs", "8", "--flush-every", "3", "--output", os.path.join(work, "live"), "--trace", live_trace,
        "--tensorboard", live_dir], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    partial_reads, seen = 0, 0
    while process.poll() is None:
        time.sleep(0.3)
        if not os.path.isdir(live_dir) or not os.path.exists(live_trace):
            continue
        try:
            found, _ = read_events(live_dir)
            expected = expected_scalars(live_trace)
        except (OSError, KeyError, RuntimeError):
            continue  # the trace between its creation and its first flush
        steps = len(found.get("steps/loss", {}))
        if steps and process.poll() is None:
            partial_reads += 1
            seen = max(seen, steps)
            compare(expected, found, problems, f"live run at {steps} steps", complete=False)
    if process.returncode != 0:
        problems.append(f"live run failed: {process.stderr.read().decode()}")
    if partial_reads == 0:
        problems.append("the live run was never read while it wrote")
    found, _ = read_events(live_dir)
    checked = compare(expected_scalars(live_trace), found, problems, "live run, finished")
    print(f"live run: read {partial_reads} times while writing (up to {seen} steps); "
          f"finished: {checked} scalars equal the trace's")

    for problem in problems[:40]:
        print(problem)
    print("ok" if not problems else f"{len(problems)} problems")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
