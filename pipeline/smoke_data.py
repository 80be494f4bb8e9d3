"""DVC stage ``smoke_data``: simulate the smoke data set (paper Sec. 5.3 / A.4) into ``data/smoke/``.

    dvc repro smoke_data                 # params: scale, smoke_data (params.yaml)
    python -m pipeline.smoke_data        # the same, outside DVC

``scale: paper`` switches to 20 simulations x 120 frames at 256x256 (x4 down-sampled to 64x64,
16x16 / 64x64 tiles). The library (``datagen.smoke``) does the work; this script reads the typed
params, writes the outputs atomically (a temporary folder renamed into place), and logs one
MLflow run with the params, the generation time and the previews.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from pathlib import Path

from datagen.smoke.generate import generate
from pipeline.common import write_json
from pipeline.params import load_scale, load_section
from pipeline.tracking import stage_run

OUT = Path("data/smoke")
METRICS = Path("results/smoke_data/metrics.json")
METRIC_KEYS = ("simulations", "frames", "steps", "resolution", "tiles", "tiles_dropped", "shards",
               "seconds_total", "seconds_simulation", "seconds_per_step",
               "simulation_steps_per_second", "max_divergence", "mean_pressure_iterations")


def generate_atomically(cfg, out: Path) -> dict:
    """Generate into a sibling temporary folder, then swap it in: no half-written ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        summary = generate(cfg, tmp, progress=True)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return summary


def main() -> None:
    cfg = load_section("smoke_data")           # validates all of params.yaml before any work
    tags = {"dataset": "smoke-simulated", "scale": load_scale(), "solver": cfg.pressure_solver}
    with stage_run("smoke", tags=tags, params=dataclasses.asdict(cfg)) as run:
        summary = generate_atomically(cfg, OUT)
        metrics = {key: summary[key] for key in METRIC_KEYS}
        write_json(METRICS, metrics)
        run.set_tags({"device": summary["device"]})
        run.log_metrics(metrics)
        run.log_artifact(OUT / "previews", "previews")
        run.log_artifact(OUT / "summary.json")
    print(json.dumps(metrics, indent=1))


if __name__ == "__main__":
    main()
