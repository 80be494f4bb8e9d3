"""DVC stage: train one model of the information-plane experiment (Sec. 4, A.1), every seed.

    python -m pipeline.mi_train --phase 1 --variant rr6            # RR^6_A
    python -m pipeline.mi_train --phase 2 --variant rr6 --task AB  # RR^6_AB (from RR^6_A)
    python -m pipeline.mi_train --phase scratch                    # Std_B

Phase 1 trains task A with the variant's loss; phase 2 starts from the phase-1 weights and trains
task A (AA) or the inverted labels (AB) with the task loss only; scratch trains Std_B.
One MLflow run per stage with one nested run per seed. Writes
models/mi/<phase>/<name>/seed<k>.pt, results/mi/<phase>/<name>/seed<k>/{history,mi}.json
and the stage's DVC metrics results/mi/metrics/<phase>-<name>.json.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from pipeline.common import checkpoint_path, train_config, write_json
from pipeline.params import as_dict, load_scale, load_section
from pipeline.tracking import stage_run
from racecar.checkpoint import save_atomic
from racecar.information import log_spaced_epochs, mutual_information
from racecar.models import mi_net
from racecar.training import Trainer, TensorBatches, classification_metrics, load_phase1_weights


def load_task(task: str):
    """x (4096, 12) float in {0,1}, y (4096,) int64 (inverted for task B), split indices."""
    data = np.load("data/ib12/ib12.npz")
    x = torch.from_numpy(data["x"].astype(np.float32))
    y = torch.from_numpy(data["y"].astype(np.int64))
    if task.endswith("B"):
        y = 1 - y
    return x, y, torch.from_numpy(data["train_idx"]), torch.from_numpy(data["test_idx"])


def train_seed(cfg, args, phase, variant, task, seed, run, out_dir, model_path):
    x, y, tr, te = load_task(task)
    torch.manual_seed(seed)
    net = mi_net(cfg.widths)
    if args.phase == "2":
        load_phase1_weights(net, torch.load(f"models/mi/phase1/{variant}/seed{seed}.pt",
                                            weights_only=True))
    vparams = cfg.variants[variant] if args.phase == "1" else None
    trainer = Trainer(net, train_config(phase, vparams, seed, cfg.checkpoint_every,
                                        cfg.racecar_reduction))
    mi_epochs = set(log_spaced_epochs(phase.epochs, cfg.mi_points))

    def evaluate(model, epoch):
        metrics = classification_metrics(model, [(x[te], y[te])], "test")
        metrics.update(classification_metrics(model, [(x[tr], y[tr])], "train"))
        if epoch in mi_epochs:  # information plane over all 4096 samples (Figs. 2-4)
            model.eval()
            fwd = model(x)
            for k, t in enumerate(fwd.states[1:] + [fwd.top], start=1):   # T_1..T_6
                ixt, ity = mutual_information(t.numpy(), y.numpy(), cfg.mi_bins)
                metrics[f"mi_x_layer{k}"], metrics[f"mi_y_layer{k}"] = ixt, ity
            model.train()
        return metrics

    history = trainer.fit(TensorBatches(x[tr], y[tr], phase.batch_size, seed=seed), evaluate,
                          checkpoint_path(f"{args.stage_id}-seed{seed}"),
                          callbacks=[lambda epoch, m, _: run.log_epoch(m, step=epoch)],
                          evaluate_initial=True)
    n_layers = len(cfg.widths) - 1
    mi_record = [{"epoch": h["epoch"], "ixt": [h[f"mi_x_layer{k}"] for k in range(1, n_layers + 1)],
                  "ity": [h[f"mi_y_layer{k}"] for k in range(1, n_layers + 1)]}
                 for h in history.epochs if "mi_x_layer1" in h]
    save_atomic(net.state_dict(), model_path)
    write_json(out_dir / "history.json", history.epochs)
    write_json(out_dir / "mi.json", mi_record)
    final = history.last()
    seconds = [h["epoch_seconds"] for h in history.epochs if "epoch_seconds" in h]
    result = {"test_acc": final["test_acc"], "train_acc": final["train_acc"],
              "test_loss": final["test_loss"], "seconds_per_epoch": float(np.mean(seconds or [0]))}
    run.log_metrics({f"final_{k}": v for k, v in result.items()})
    run.log_artifact(out_dir / "mi.json")
    run.log_artifact(model_path)
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phase", choices=["1", "2", "scratch"], required=True)
    parser.add_argument("--variant", default="std", help="phase-1 variant (a key of mi.variants)")
    parser.add_argument("--task", choices=["AA", "AB"], default="AA",
                        help="phase 2: AA keeps task A, AB inverts the labels")
    args = parser.parse_args(argv)
    cfg = load_section("mi")  # validates all of params.yaml before any work
    if args.variant not in cfg.variants:
        parser.error(f"--variant {args.variant}: not in mi.variants ({', '.join(cfg.variants)})")
    torch.set_num_threads(cfg.torch_threads)

    phase_dir = {"1": "phase1", "2": "phase2", "scratch": "scratch"}[args.phase]
    task = {"1": "A", "2": args.task, "scratch": "B"}[args.phase]   # A / AA / AB / B
    variant = "std" if args.phase == "scratch" else args.variant
    name = f"{variant}-{task}" if args.phase == "2" else variant
    phase = {"1": cfg.phase1, "2": cfg.phase2, "scratch": cfg.scratch}[args.phase]
    args.stage_id = f"mi-{phase_dir}-{name}"

    tags = {"variant": variant, "task": task, "phase": phase_dir, "scale": load_scale(),
            "seeds": ",".join(map(str, cfg.seeds)), "data": "ib12 (exact rule, 4096 patterns)"}
    per_seed = {}
    with stage_run("mi", tags=tags, params={"mi": as_dict(cfg), "stage": vars(args)}) as run:
        for seed in cfg.seeds:
            with run.child(f"seed{seed}", tags={"seed": seed}) as seed_run:
                per_seed[seed] = train_seed(
                    cfg, args, phase, variant, task, seed, seed_run,
                    Path("results/mi") / phase_dir / name / f"seed{seed}",
                    Path("models/mi") / phase_dir / name / f"seed{seed}.pt")
            print(f"[mi] {phase_dir}/{name} seed {seed}: test acc {per_seed[seed]['test_acc']:.4f}")
        accs = np.array([r["test_acc"] for r in per_seed.values()])
        metrics = {"test_acc_mean": float(accs.mean()), "test_acc_std": float(accs.std(ddof=0)),
                   "n_seeds": len(accs), "epochs": phase.epochs, "scale": load_scale(),
                   "seconds_per_epoch": float(np.mean([r["seconds_per_epoch"]
                                                       for r in per_seed.values()])),
                   "per_seed": {str(k): v for k, v in per_seed.items()}}
        path = write_json(Path("results/mi/metrics") / f"{phase_dir}-{name}.json", metrics)
        run.log_metrics({k: v for k, v in metrics.items() if isinstance(v, (int, float))})
        run.log_artifact(path)
    for seed in cfg.seeds:  # the stage is complete: its resume points are no longer needed
        checkpoint_path(f"{args.stage_id}-seed{seed}").unlink(missing_ok=True)


if __name__ == "__main__":
    main()
