"""DVC stage: train one model of the MNIST -> n-MNIST experiment (Sec. 5.1, A.2), every seed.

    python -m pipeline.mnist_train --phase 1 --variant rr3            # RR^3_A on MNIST
    python -m pipeline.mnist_train --phase 2 --variant rr3 --task AB  # RR^3_AB on n-MNIST
    python -m pipeline.mnist_train --phase scratch                    # Std_B on n-MNIST

With ``mnist.nproc: N > 1`` the same command re-launches itself as
``torchrun --standalone --nproc_per_node=N -m pipeline.mnist_train ...`` (DDP: gloo on CPU, nccl
on GPU; ``mnist.batch_size`` stays the global batch, each rank takes 1/N of it). On several
nodes, start it yourself with ``torchrun --nnodes ... --rdzv_backend c10d ...`` on a shared
file system. Rank 0 alone writes models, results, metrics and MLflow runs.

Outputs: models/mnist/<phase>/<name>/seed<k>.pt, results/mnist/<phase>/<name>/seed<k>/history.json
and the stage's DVC metrics results/mnist/metrics/<phase>-<name>.json; one MLflow run per stage
with one nested run per seed.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import sys
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch

from datagen.loaders import eval_loader, train_loader
from datagen.shards import read_sizes
from pipeline.common import checkpoint_path, read_json, train_config, write_json
from pipeline.params import as_dict, load_scale, load_section
from pipeline.tracking import stage_run
from racecar.checkpoint import save_atomic
from racecar.distributed import DistContext, setup, teardown
from racecar.losses import paper_lambda
from racecar.models import mnist_net
from racecar.training import (History, TrainConfig, Trainer, classification_metrics,
                              load_phase1_weights, unwrap)

DATA = Path("data/mnist")
PIXEL_SCALE = 1 / 255  # our inputs are in [0, 1]; the authors fed 0..255 (for lambda conversion)


# ------------------------------------------------------------------------------ data
def shard_urls(cfg, dataset: str, split: str) -> tuple[list[str], dict[str, int]]:
    """URLs (``mnist.shard_url`` with each shard name) and sizes of ``<dataset>-<split>``."""
    sizes = read_sizes(DATA)
    names = sorted(n for n in sizes if n.startswith(f"{dataset}-{split}-"))
    if not names:
        raise FileNotFoundError(f"no {dataset}-{split} shards in {DATA}/sizes.json")
    return [cfg.shard_url.format(name=n) for n in names], {n: sizes[n] for n in names}


def load_test_set(cfg, ctx: DistContext, dataset: str, batch_size: int):
    """This rank's share of the test shards, read once (every sample exactly once over ranks)
    and kept in memory for the per-epoch evaluation; returns (batches, bad samples)."""
    urls, sizes = shard_urls(cfg, dataset, "test")
    loader = eval_loader(urls, batch_size, rank=ctx.rank, world_size=ctx.world_size,
                         num_workers=0, skip_bad_samples=cfg.skip_bad_samples, sizes=sizes)
    batches = [(x.to(ctx.device), y.to(ctx.device)) for x, y in loader]
    return batches, loader.bad_samples


def make_evaluate(ctx: DistContext, batches: list) -> Callable:
    """Test accuracy and loss summed over ranks (the un-wrapped net: no DDP collectives)."""
    n_local = sum(len(y) for _, y in batches)

    def evaluate(model, epoch):
        m = classification_metrics(unwrap(model), batches, "test") if batches else \
            {"test_acc": 0.0, "test_loss": 0.0}
        correct, loss, n = ctx.sum([round(m["test_acc"] * n_local), m["test_loss"] * n_local,
                                    n_local])
        return {"test_acc": correct / max(n, 1), "test_loss": loss / max(n, 1)}
    return evaluate


# ------------------------------------------------------------------------------ training
def fit_model(net: torch.nn.Module, config: TrainConfig, ctx: DistContext,
              train_data: Callable[[int], Iterable] | Iterable, evaluate: Callable | None = None,
              checkpoint: Path | None = None, callbacks=(), evaluate_initial: bool = False
              ) -> History:
    """Train ``net`` in this process, or as one rank of DDP when ``ctx`` is distributed.

    ``train_data`` yields this rank's batches (1/world_size of each global batch). The epoch
    metrics are averaged over ranks; only rank 0 writes the resume checkpoint.
    """
    net.to(ctx.device)
    trainer = Trainer(ctx.wrap(net), config, device=ctx.device,
                      reduce_metrics=ctx.mean if ctx.distributed else None,
                      write_checkpoints=ctx.is_main)
    return trainer.fit(train_data, evaluate, checkpoint, callbacks,
                       evaluate_initial=evaluate_initial)


def variant_for(cfg, variant: str, batch_size: int):
    """Phase-I variant params with lambdas converted to our reduction (racecar.losses)."""
    v = cfg.variants[variant]
    if v.kind != "racecar" or cfg.lambda_convention == "ours":
        return v
    lams = v.lambdas if isinstance(v.lambdas, tuple) else (v.lambdas,)
    converted = tuple(paper_lambda(lam, batch_size, PIXEL_SCALE) for lam in lams)
    return dataclasses.replace(v, lambdas=converted if len(converted) > 1 else converted[0])


def train_seed(cfg, args, ctx, phase, seed, run, out_dir: Path, model_path: Path) -> dict:
    dataset = "nmnist" if args.task in ("AB", "B") else "mnist"   # task B = n-MNIST
    torch.manual_seed(seed)
    net = mnist_net()
    if args.phase == "2":
        load_phase1_weights(net, torch.load(f"models/mnist/phase1/{args.variant}/seed{seed}.pt",
                                            map_location="cpu", weights_only=True))
    vparams = variant_for(cfg, args.variant, phase.batch_size) if args.phase == "1" else None
    config = train_config(phase, vparams, seed, cfg.checkpoint_every, cfg.racecar_reduction)
    urls, sizes = shard_urls(cfg, dataset, "train")
    train = train_loader(urls, phase.batch_size // ctx.world_size, epoch_size=None, seed=seed,
                         rank=ctx.rank, world_size=ctx.world_size, num_workers=cfg.num_workers,
                         shuffle_buffer=cfg.shuffle_buffer,
                         skip_bad_samples=cfg.skip_bad_samples, sizes=sizes)
    test_batches, bad_test = load_test_set(cfg, ctx, dataset, 500)
    history = fit_model(net, config, ctx, lambda epoch: train, make_evaluate(ctx, test_batches),
                        checkpoint_path(f"{args.stage_id}-seed{seed}"),
                        callbacks=[lambda epoch, m, _: run.log_epoch(m, step=epoch)],
                        evaluate_initial=True)
    bad_train, bad_test = ctx.sum([train.bad_samples, bad_test])
    if not ctx.is_main:
        return {}
    save_atomic(net.state_dict(), model_path)
    write_json(out_dir / "history.json", history.epochs)
    final = history.last()
    seconds = [h["epoch_seconds"] for h in history.epochs if "epoch_seconds" in h]
    steady = seconds[1:] or seconds   # the first epoch also starts the loader's workers
    result = {"test_acc": final["test_acc"], "test_loss": final["test_loss"],
              "train_task_loss": final.get("train_task_loss", float("nan")),
              "seconds_per_epoch": float(np.mean(steady or [0])),
              "bad_samples": int(bad_train + bad_test)}
    run.log_metrics({f"final_{k}": v for k, v in result.items()})
    run.log_artifact(out_dir / "history.json")
    run.log_artifact(model_path)
    return result


# ------------------------------------------------------------------------------ stage
class NullRun:
    """What ranks other than 0 get instead of an MLflow run: they log nothing."""

    def log_epoch(self, *args, **kwargs): pass
    def log_metrics(self, *args, **kwargs): pass
    def log_artifact(self, *args, **kwargs): pass

    @contextlib.contextmanager
    def child(self, *args, **kwargs):
        yield self


def relaunch_under_torchrun(nproc: int, argv: list[str]) -> None:
    """Replace this process by torchrun running this module on ``nproc`` local processes."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc_per_node={nproc}", "-m", "pipeline.mnist_train", *argv]
    print(f"[mnist] launching {' '.join(cmd[1:])}", flush=True)
    os.execv(sys.executable, cmd)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phase", choices=["1", "2", "scratch"], required=True)
    parser.add_argument("--variant", default="std",
                        help="phase-1 variant (a key of mnist.variants)")
    parser.add_argument("--task", choices=["AA", "AB"], default="AA",
                        help="phase 2: AA continues on MNIST, AB transfers to n-MNIST")
    args = parser.parse_args(argv)
    cfg = load_section("mnist")  # validates all of params.yaml before any work
    if args.variant not in cfg.variants:
        parser.error(f"--variant {args.variant}: not in mnist.variants ({', '.join(cfg.variants)})")
    if cfg.nproc > 1 and "LOCAL_RANK" not in os.environ:
        relaunch_under_torchrun(cfg.nproc, argv)

    phase_dir = {"1": "phase1", "2": "phase2", "scratch": "scratch"}[args.phase]
    args.task = {"1": "A", "2": args.task, "scratch": "B"}[args.phase]   # A / AA / AB / B
    args.variant = "std" if args.phase == "scratch" else args.variant
    name = f"{args.variant}-{args.task}" if args.phase == "2" else args.variant
    phase = {"1": cfg.phase1, "scratch": cfg.scratch}.get(args.phase) or \
        getattr(cfg.phase2, args.task)
    args.stage_id = f"mnist-{phase_dir}-{name}"

    ctx = setup(cfg.device)
    torch.set_num_threads(max(1, cfg.torch_threads // ctx.world_size))
    source = read_json(DATA / "info.json")["source"]   # the stand-in sentence with its counts
    tags = {"variant": args.variant, "task": args.task, "phase": phase_dir,
            "scale": load_scale(), "seeds": ",".join(map(str, cfg.seeds)), "data": source,
            "world_size": ctx.world_size, "device": str(ctx.device)}
    stage = stage_run("mnist", tags=tags, params={"mnist": as_dict(cfg), "stage": vars(args)}) \
        if ctx.is_main else contextlib.nullcontext(NullRun())
    per_seed = {}
    try:
        with stage as run:
            for seed in cfg.seeds:
                with run.child(f"seed{seed}", tags={"seed": seed}) as seed_run:
                    per_seed[seed] = train_seed(
                        cfg, args, ctx, phase, seed, seed_run,
                        Path("results/mnist") / phase_dir / name / f"seed{seed}",
                        Path("models/mnist") / phase_dir / name / f"seed{seed}.pt")
                if ctx.is_main:
                    print(f"[mnist] {phase_dir}/{name} seed {seed}: test acc "
                          f"{per_seed[seed]['test_acc']:.4f}, "
                          f"{per_seed[seed]['seconds_per_epoch']:.2f} s/epoch", flush=True)
            if ctx.is_main:
                accs = np.array([r["test_acc"] for r in per_seed.values()])
                metrics = {"test_acc_mean": float(accs.mean()), "test_acc_std": float(accs.std()),
                           "n_seeds": len(accs), "epochs": phase.epochs, "scale": load_scale(),
                           "world_size": ctx.world_size, "data": source,
                           "seconds_per_epoch": float(np.mean([r["seconds_per_epoch"]
                                                               for r in per_seed.values()])),
                           "bad_samples": sum(r["bad_samples"] for r in per_seed.values()),
                           "per_seed": {str(k): v for k, v in per_seed.items()}}
                path = write_json(Path("results/mnist/metrics") / f"{phase_dir}-{name}.json",
                                  metrics)
                run.log_metrics({k: v for k, v in metrics.items() if isinstance(v, (int, float))})
                run.log_artifact(path)
        ctx.barrier()
        if ctx.is_main:  # the stage is complete: its resume points are no longer needed
            for seed in cfg.seeds:
                checkpoint_path(f"{args.stage_id}-seed{seed}").unlink(missing_ok=True)
    finally:
        teardown()


if __name__ == "__main__":
    main()
