#!/usr/bin/env python3
"""PyTorch reference for `gradtrace train` on padded Fashion-MNIST, same protocol:
zero-pad 28x28 -> 32x32 (black), normalise with the training set's mean/std (0.28604, 0.35302),
hold out 5,000 of the 60,000 training images for validation (seeded permutation), train on the
first --subset of the rest with random crops (4 pixels of zero padding, no flips), Adam
(PyTorch's, coupled weight decay), cosine annealing per epoch (T_max = epochs, eta_min 2e-5),
batch 100, PyTorch-default initialisation, BatchNorm momentum 0.1.

The network and its initial weights are gradtrace's: `gradtrace init FLAGS --seed SEED` writes
them and gradtrace_torch.py builds the same graph from the checkpoint, so both sides start from
identical weights (any family, or --model-file).

    python3 scripts/torch_train.py --flags "--model densenet --batchnorm" --epochs 2 --subset 10000

Prints one JSON line: flags, validation accuracy after the last epoch, test accuracy of the epoch
with the best validation accuracy (gradtrace's best.h5 protocol), seconds of training.
"""
import argparse
import gzip
import json
import math
import os
import shlex
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gradtrace_torch import load_checkpoint  # noqa: E402

MEAN, STD = 0.28604, 0.35302


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    rank = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--flags", required=True, help="gradtrace's model options, e.g. \"--model vgg38 --batchnorm\"")
    parser.add_argument("--gradtrace", default=".build/release/gradtrace")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--subset", type=int, default=10000)
    parser.add_argument("--validation", type=int, default=5000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    images = read_idx(f"{args.data_dir}/train-images-idx3-ubyte.gz")
    labels = read_idx(f"{args.data_dir}/train-labels-idx1-ubyte.gz").astype(np.int64)
    padded = np.zeros((len(images), 1, 32, 32), dtype=np.float32)
    padded[:, 0, 2:30, 2:30] = images / 255.0
    normalised = (padded - MEAN) / STD
    order = np.random.default_rng(0).permutation(len(images))
    valid_idx, train_idx = order[:args.validation], order[args.validation:][:args.subset]
    x_train, y_train = torch.from_numpy(normalised[train_idx]), torch.from_numpy(labels[train_idx])
    x_valid, y_valid = torch.from_numpy(normalised[valid_idx]), torch.from_numpy(labels[valid_idx])
    test_images = read_idx(f"{args.data_dir}/t10k-images-idx3-ubyte.gz")
    test_padded = np.zeros((len(test_images), 1, 32, 32), dtype=np.float32)
    test_padded[:, 0, 2:30, 2:30] = test_images / 255.0
    x_test = torch.from_numpy((test_padded - MEAN) / STD)
    y_test = torch.from_numpy(read_idx(f"{args.data_dir}/t10k-labels-idx1-ubyte.gz").astype(np.int64))
    background = -MEAN / STD

    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([args.gradtrace, "init", *shlex.split(args.flags), "--dataset", "fashion-mnist",
                        "--seed", str(args.seed), "-o", f"{tmp}/init.h5"], check=True, stdout=subprocess.DEVNULL)
        model = load_checkpoint(f"{tmp}/init.h5")

    def accuracy(x, y):
        with torch.no_grad():
            return sum((model(x[i:i + 500]).argmax(1) == y[i:i + 500]).sum().item()
                       for i in range(0, len(x), 500)) / len(x)

    best = (-1.0, 0.0)  # (validation accuracy, test accuracy of that epoch)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    start = time.perf_counter()
    for epoch in range(args.epochs):
        for group in optimizer.param_groups:
            group["lr"] = 2e-5 + (args.lr - 2e-5) * (1 + math.cos(math.pi * epoch / args.epochs)) / 2
        model.train()
        permutation = rng.permutation(len(x_train))
        for first in range(0, len(permutation), args.batch_size):
            index = permutation[first:first + args.batch_size]
            batch = F.pad(x_train[index], (4, 4, 4, 4), value=background)
            dy, dx = rng.integers(0, 9, size=2)
            batch = batch[:, :, dy:dy + 32, dx:dx + 32]  # one crop offset per batch: cheap, same statistics
            loss = F.cross_entropy(model(batch), y_train[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        valid = accuracy(x_valid, y_valid)
        pause = time.perf_counter()
        if valid > best[0]:
            best = (valid, accuracy(x_test, y_test))
        start += time.perf_counter() - pause  # the test pass is not training time
    seconds = time.perf_counter() - start
    print(json.dumps({"flags": args.flags, "valid_accuracy": valid, "test_accuracy": best[1], "seconds": seconds}))


if __name__ == "__main__":
    main()
