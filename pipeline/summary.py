"""The closing step shared by the evaluation stages: write the summary (DVC metrics), log it to
MLflow with the figures, and print which of the paper's claims hold."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

from pipeline.common import write_json


def publish_summary(run, summary: dict, path: Path, figures: Path, label: str,
                    extra_metrics: Mapping[str, float] | None = None) -> None:
    """summary: {"models": {name: {"test_acc_mean": ...}}, "claims": [{claim, holds, ours}], ...}."""
    write_json(path, summary)
    run.log_metrics({f"{name.replace('^', '')}.test_acc_mean": m["test_acc_mean"]
                     for name, m in summary["models"].items()})
    run.log_metrics({**(extra_metrics or {}),
                     "claims_holding": sum(c["holds"] for c in summary["claims"])})
    run.log_artifact(figures)
    run.log_artifact(path)
    for c in summary["claims"]:
        print(f"[{label}] {'HOLDS ' if c['holds'] else 'DIFFERS'} {c['claim']}: {c['ours']}")
