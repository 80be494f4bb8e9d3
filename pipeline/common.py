"""Glue shared by the stage scripts: params -> TrainConfig, atomic JSON, stage identity."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from racecar.training import TrainConfig
from pipeline.sections import PhaseParams, VariantParams


def train_config(phase: PhaseParams, variant: VariantParams | None, seed: int,
                 checkpoint_every: int, reduction: str = "batch_mean",
                 optimizer: str = "adam") -> TrainConfig:
    """The library's TrainConfig for one phase; ``variant=None`` means phase II / scratch (std)."""
    kind = variant.kind if variant is not None else "std"
    return TrainConfig(
        variant=kind, epochs=phase.epochs, lr_schedule=phase.lr_schedule, optimizer=optimizer,
        racecar_layers=variant.layers if variant else 0,
        racecar_lambdas=variant.lambdas if variant else 0.0, racecar_reduction=reduction,
        srip_beta=variant.beta if variant else ((0, 0.0),),
        srip_power=variant.power if variant else 2,
        checkpoint_every=checkpoint_every, seed=seed)


def write_json(path: str | os.PathLike, data: Any) -> Path:
    """Write JSON atomically (temp file + rename): a killed stage never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True, default=float) + "\n")
    os.replace(tmp, path)
    return path


def read_json(path: str | os.PathLike) -> Any:
    return json.loads(Path(path).read_text())


def checkpoint_path(run_id: str) -> Path:
    """Resume checkpoints live outside DVC's outputs (``.checkpoints/``, ignored by git and DVC):
    a stage killed mid-run and repeated resumes from here; the file is removed on success."""
    return Path(".checkpoints") / f"{run_id}.pt"
