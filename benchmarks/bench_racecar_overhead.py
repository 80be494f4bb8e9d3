"""Benchmark: cost of racecar training and of our training loop, as ratios measured side by side.

    python benchmarks/bench_racecar_overhead.py [--rounds 7] [--threads 2]

1. Racecar overhead: seconds per training step of RR^s vs Std on the MI net (Table 1, RR^6,
   batch 512) and the MNIST CNN (Table 3, RR^3, batch 64). The reverse pass is about one more
   forward (transposed convolutions with the same kernels) and its backward, so ~2x is the
   expected ceiling; the paper reports 1.61x on MNIST on a GPU.
2. Framework overhead: one epoch of ``racecar.training.Trainer`` (Std) vs a minimal hand-written
   PyTorch loop (plain nn.Sequential, CE, Adam) on the same weights and batches.

Measurements alternate A/B in rounds and report the median of per-round ratios, so a noisy
machine affects both sides alike. Not a test: it prints, it asserts nothing.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from racecar.models import mi_net, mnist_net  # noqa: E402
from racecar.training import Trainer, TrainConfig  # noqa: E402


def make_data(kind: str, steps: int):
    g = torch.Generator().manual_seed(0)
    if kind == "mi":
        x = torch.randint(0, 2, (steps, 512, 12), generator=g).float()
        return [(b, (b[:, :6].sum(1) > 3).long()) for b in x]
    x = torch.rand(steps, 64, 1, 28, 28, generator=g)
    return [(b, torch.randint(0, 10, (64,), generator=g)) for b in x]


def timed(fn) -> float:
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


def racecar_ratio(kind: str, rounds: int, steps: int) -> tuple[float, float, float]:
    data = make_data(kind, steps)
    build, s = (mi_net, 6) if kind == "mi" else (mnist_net, 3)
    trainers = {}
    for variant in ("std", "racecar"):
        torch.manual_seed(0)
        trainers[variant] = Trainer(build(), TrainConfig(variant=variant, racecar_layers=s,
                                                         racecar_lambdas=0.01))
    for t in trainers.values():  # warm-up
        t.train_epoch(data[:2], 0)
    per_step = {"std": [], "racecar": []}
    for _ in range(rounds):
        for variant, t in trainers.items():
            per_step[variant].append(timed(lambda: t.train_epoch(data, 0)) / steps)
    ratios = [r / s for r, s in zip(per_step["racecar"], per_step["std"])]
    return (statistics.median(per_step["std"]), statistics.median(per_step["racecar"]),
            statistics.median(ratios))


def framework_ratio(kind: str, rounds: int, steps: int) -> float:
    data = make_data(kind, steps)
    build = mi_net if kind == "mi" else mnist_net
    torch.manual_seed(0)
    ours = build()
    plain = nn.Sequential(*[m for b in ours.blocks for m in b.layers], ours.head)
    plain.load_state_dict(nn.Sequential(*[m for b in ours.blocks for m in b.layers],
                                        ours.head).state_dict())
    trainer = Trainer(ours, TrainConfig(variant="std"))
    opt = torch.optim.Adam(plain.parameters(), lr=1e-3, foreach=True)

    def minimal_epoch():
        plain.train()
        for x, y in data:
            loss = F.cross_entropy(plain(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    trainer.train_epoch(data[:2], 0)
    minimal_epoch()
    ratios = []
    for _ in range(rounds):
        ratios.append(timed(lambda: trainer.train_epoch(data, 0)) / timed(minimal_epoch))
    return statistics.median(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, CPU, {args.rounds} rounds")
    print("\n1. racecar overhead (time per training step, RR vs Std)")
    for kind, steps, label in (("mi", 60, "MI net, Table 1, RR^6, batch 512"),
                               ("mnist", 12, "MNIST CNN, Table 3, RR^3, batch 64")):
        std, rr, ratio = racecar_ratio(kind, args.rounds, steps)
        print(f"   {label:38s} Std {std * 1e3:7.2f} ms  RR {rr * 1e3:7.2f} ms  ratio {ratio:.2f}x")
    print("   paper: 1.61x on MNIST (GPU, Fig. 14: 5.675 / 3.522 s per epoch)")
    print("\n2. framework overhead (our Trainer epoch / minimal hand-written loop, Std)")
    for kind, steps, label in (("mi", 60, "MI net, batch 512"), ("mnist", 12, "MNIST CNN, batch 64")):
        print(f"   {label:38s} ratio {framework_ratio(kind, args.rounds, steps):.3f}x")


if __name__ == "__main__":
    main()
