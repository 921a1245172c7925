#!/usr/bin/env python3
"""SIGKILL traced training runs at random moments, recover and resume each to the end, and check
that nothing is lost: every trace opens in plain h5py after `gradtrace recover`, every finished
run's weights and trace rows equal an uninterrupted run's (1 thread: bit for bit).

    python3 scripts/fault_campaign.py --gradtrace .build/release/gradtrace --kills 50 [--seed 0]
    python3 scripts/fault_campaign.py --gradtrace .build/release/gradtrace --kills 50 --aim flushes

--aim flushes trains a deeper network (vgg38 BN+residual: 39 layers, so each per-layer chunk
spans ten 4 KiB pages), flushes the trace after every step, and times each kill by the trace
itself: after a random delay it polls the file's modification time and sends SIGKILL the moment
the next flush starts writing, so the kill lands inside that flush. recover then reports the chunks it
found torn and the dataset groups it cut back to their last complete flush.

Prints one line per kill (where it landed, what recovery did) and a summary; exits 1 on any
unreadable file, lost row or difference. Needs h5py and numpy.
"""
import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

RUN = ["--model", "vgg08", "--dataset", "synthetic", "--input", "1x16x16", "--classes", "4", "--batch-size", "25",
       "--validation", "50", "--subset", "300", "--epochs", "6", "--schedule", "constant", "--threads", "1",
       "--record", "gradients,activations,curvature", "--curvature-every", "3", "--flush-every", "2", "--quiet"]
# Aimed at flushes: every step flushed, per-layer chunks of 256 rows x 39 layers (40 KB).
RUN_FLUSHES = ["--model", "vgg38", "--batchnorm", "--residual", "--dataset", "synthetic", "--input", "1x16x16",
               "--classes", "4", "--batch-size", "25", "--validation", "50", "--subset", "200", "--epochs", "3",
               "--schedule", "constant", "--threads", "1", "--record", "gradients,activations,curvature",
               "--curvature-every", "2", "--flush-every", "1", "--quiet"]
COMPARED = ["steps/step", "steps/loss", "gradients/mean_abs", "updates/l2_norm", "activations/mean",
            "curvature/step", "curvature/gHg", "curvature/actual_delta", "epochs/train_loss", "epochs/valid_loss"]


def opens_plainly(path):
    try:
        with h5py.File(path, "r"):
            return True
    except OSError:
        return False


def rows(path):
    with h5py.File(path, "r") as f:
        status = f["summary"].attrs["status"]
        return {k: f[k][:] for k in COMPARED}, status.decode() if isinstance(status, bytes) else status


def weights(directory):
    with h5py.File(os.path.join(directory, "last.h5"), "r") as f:
        return {k: f["parameters"][k][:] for k in f["parameters"]}


def same(a, b):
    return all(np.array_equal(a[k], b[k], equal_nan=True) for k in a) and a.keys() == b.keys()


def kill_inside_a_flush(process, trace, delay):
    """Returns (for the caller's SIGKILL) at the first change of the trace's modification time
    after `delay` seconds: the file changes only when a flush writes it, so the kill lands
    inside that flush."""
    time.sleep(delay)
    last = None
    while process.poll() is None:
        try:
            stamp = os.stat(trace).st_mtime_ns
        except FileNotFoundError:
            continue
        if last is not None and stamp != last:
            return
        last = stamp


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--gradtrace", required=True)
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", help="a directory to copy the killed traces that recover failed on into")
    parser.add_argument("--aim", choices=["anywhere", "flushes"], default="anywhere",
                        help="anywhere: the small run above; flushes: a deep run flushed every step")
    args = parser.parse_args()
    run = RUN_FLUSHES if args.aim == "flushes" else RUN
    gradtrace = os.path.abspath(args.gradtrace)
    work = tempfile.mkdtemp(prefix="fault-campaign-")
    rng = random.Random(args.seed)

    reference_dir, reference_trace = os.path.join(work, "reference"), os.path.join(work, "reference.h5")
    start = time.time()
    subprocess.run([gradtrace, "train", *run, "--output", reference_dir, "--trace", reference_trace], check=True)
    duration = time.time() - start
    reference_rows, _ = rows(reference_trace)
    reference_weights = weights(reference_dir)
    print(f"reference run: {duration:.1f} s, {len(reference_rows['steps/step'])} step rows")

    failures, landed = [], {"checkpoint write": 0, "before the first checkpoint": 0, "elsewhere": 0}
    torn, cut = 0, 0
    for kill in range(args.kills):
        directory, trace = os.path.join(work, f"run{kill}"), os.path.join(work, f"run{kill}.h5")
        process = subprocess.Popen([gradtrace, "train", *run, "--output", directory, "--trace", trace],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if args.aim == "flushes":
            kill_inside_a_flush(process, trace, rng.uniform(0.05, duration * 0.95))
        else:
            time.sleep(rng.uniform(0.05, duration * 0.95))
        process.send_signal(signal.SIGKILL)
        process.wait()
        partial = [n for n in os.listdir(directory) if n.endswith(".partial")] if os.path.isdir(directory) else []
        has_checkpoint = os.path.exists(os.path.join(directory, "last.h5"))
        where = "checkpoint write" if partial else ("elsewhere" if has_checkpoint else "before the first checkpoint")
        landed[where] += 1
        flushed = None
        if os.path.exists(trace):
            shutil.copy(trace, trace + ".killed")
            recovered = subprocess.run([gradtrace, "recover", trace], capture_output=True, text=True)
            if recovered.returncode != 0 or not opens_plainly(trace):
                failures.append(f"kill {kill}: trace unreadable after recover: {recovered.stderr.strip()}")
                print(failures[-1])
                shutil.copy(trace + ".killed", os.path.join(args.keep, f"kill{kill}.h5")) if args.keep else None
                continue
            torn += recovered.stdout.count("last chunk was torn")
            cut += recovered.stdout.count("of the interrupted flush")
            with h5py.File(trace, "r") as f:
                flushed = f["steps/step"][:]
        if has_checkpoint:
            command = [gradtrace, "train", "--resume", directory, "--quiet"]
        else:
            command = [gradtrace, "train", *run, "--output", directory, "--trace", trace, "--overwrite"]
        finished = subprocess.run(command, capture_output=True, text=True)
        if finished.returncode != 0:
            failures.append(f"kill {kill}: {' '.join(command[1:3])} exited {finished.returncode}: {finished.stderr.strip()}")
            print(failures[-1])
            continue
        before = len(failures)
        final_rows, status = rows(trace)
        if flushed is not None and not np.array_equal(final_rows["steps/step"][:len(flushed)], flushed):
            failures.append(f"kill {kill}: flushed steps lost")
        if status != "finished" or not same(final_rows, reference_rows) or not same(weights(directory), reference_weights):
            failures.append(f"kill {kill}: the finished run differs from the uninterrupted one (status {status})")
        print(f"kill {kill:3d}: {where}, {0 if flushed is None else len(flushed)} rows flushed, "
              f"{'resumed' if has_checkpoint else 'restarted'}, {'identical' if len(failures) == before else 'DIFFERS'}")
        shutil.rmtree(directory, ignore_errors=True)
    print(f"{args.kills} kills ({landed}); torn chunks rewritten by recover: {torn}; "
          f"dataset groups cut back to their last complete flush: {cut}; {len(failures)} failures")
    for failure in failures:
        print("  " + failure)
    shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
