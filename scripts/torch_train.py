#!/usr/bin/env python3
"""PyTorch reference for `gradtrace train` on padded Fashion-MNIST, same protocol:
zero-pad 28x28 -> 32x32 (black), normalise with the training set's mean/std (0.28604, 0.35302),
hold out 5,000 of the 60,000 training images for validation (seeded permutation), train on the
first --subset of the rest with random crops (4 pixels of zero padding, no flips), Adam
(PyTorch's, coupled weight decay), cosine annealing per epoch (T_max = epochs, eta_min 2e-5),
batch 100, PyTorch-default initialisation, BatchNorm momentum 0.1.

    python3 scripts/torch_train.py --variant vgg38-bn-res --epochs 2 --subset 10000 --threads 2

Prints one JSON line: variant, validation accuracy after the last epoch, seconds.
"""
import argparse
import gzip
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gradtrace_torch import VGG  # noqa: E402

VARIANTS = {
    "vgg08": dict(blocksPerStage=0),
    "vgg38": dict(blocksPerStage=5),
    "vgg38-bn": dict(blocksPerStage=5, batchNorm=True),
    "vgg38-res": dict(blocksPerStage=5, residual=True),
    "vgg38-bn-res": dict(blocksPerStage=5, batchNorm=True, residual=True),
}
MEAN, STD = 0.28604, 0.35302


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    rank = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--variant", choices=VARIANTS, required=True)
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
    background = -MEAN / STD

    model = VGG(inputChannels=1, classes=10, **VARIANTS[args.variant])
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
        with torch.no_grad():
            correct = sum((model(x_valid[i:i + 500]).argmax(1) == y_valid[i:i + 500]).sum().item()
                          for i in range(0, len(x_valid), 500))
    seconds = time.perf_counter() - start
    print(json.dumps({"variant": args.variant, "valid_accuracy": correct / len(x_valid), "seconds": seconds}))


if __name__ == "__main__":
    main()
