#!/usr/bin/env python3
"""Throughput model of `mpirun -np R gradtrace train` on vgg38 BN+residual (BENCHMARKS.md).

A step on R ranks = compute on B/R images + the sums over the ranks, nothing overlapped:
  compute      = (B/R) · t_image                 (t_image measured: 1 process on this machine)
  gradient     = 2(R-1)/R · S / bandwidth + 2(R-1) · latency
                 (gradtrace's all-reduce: an all-to-all then an all-gather, each R-1 messages)
  batchnorm    = sums · 2⌈log2 R⌉ · latency
                 (C+1, C and 2C values per BatchNorm layer and pass: latency-bound; Open MPI's
                 small-message all-to-all and all-gather take ⌈log2 R⌉ rounds each)
Usage: scripts/data_parallel_model.py T_IMAGE_MS SUMS_PER_STEP GRADIENT_BYTES
"""
import math
import sys

t_image = float(sys.argv[1]) / 1e3 if len(sys.argv) > 1 else 3.28e-3
sums = int(sys.argv[2]) if len(sys.argv) > 2 else 114
size = float(sys.argv[3]) if len(sys.argv) > 3 else 341572 * 4
networks = {"10 Gbit/s Ethernet (TCP)": (1.25e9, 25e-6), "100 Gbit/s InfiniBand (RDMA)": (12.5e9, 2e-6)}


def step(ranks, batch, bandwidth, latency):
    compute = batch / ranks * t_image
    if ranks == 1:
        return compute, 0.0
    gradient = 2 * (ranks - 1) / ranks * size / bandwidth + 2 * (ranks - 1) * latency
    batchnorm = sums * 2 * math.ceil(math.log2(ranks)) * latency
    return compute, gradient + batchnorm


for title, batch_of in [("global batch 100·R (100 images per rank)", lambda r: 100 * r),
                        ("global batch 128 (the paper's), split over the ranks", lambda r: 128)]:
    print(f"\n{title}\n")
    print("| ranks | " + " | ".join(f"{n}: images/s (efficiency)" for n in networks) + " |")
    print("|---:|" + "---:|" * len(networks))
    for ranks in [1, 2, 4, 8, 16, 32, 64]:
        cells = []
        for bandwidth, latency in networks.values():
            batch = batch_of(ranks)
            compute, exchange = step(ranks, batch, bandwidth, latency)
            rate = batch / (compute + exchange)
            ideal = ranks / t_image
            cells.append(f"{rate:,.0f} ({rate / ideal:.0%})")
        print(f"| {ranks} | " + " | ".join(cells) + " |")
