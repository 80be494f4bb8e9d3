"""The one module that knows MLflow.

Every DVC stage that does work opens exactly one MLflow run with :func:`stage_run`::

    with stage_run("mi", tags={"variant": "rr6", "task": "A", "seed": 0}, params=cfg) as run:
        run.log_epoch({"test_acc": 0.93}, step=epoch)   # buffered, flushed every few seconds
        run.log_artifact("results/mi/phase1/rr6-0/metrics.json")

- Tracking store: ``MLFLOW_TRACKING_URI`` if set, else ``sqlite:///<DVC_ROOT>/mlflow.db`` (DVC_ROOT
  points at the real repository even under ``dvc exp run --temp/--queue``, so runs are never lost
  in a temporary copy); artifacts of a sqlite store go to ``<DVC_ROOT>/mlartifacts``.
- Run name: ``DVC_STAGE`` (``mi_phase1@rr6-0``), tags: the matrix axes, git commit and dirty flag,
  ``DVC_EXP_NAME``; params flattened with ``.``; a ``mlflow.parentRunId`` tag when
  ``RACECAR_PARENT_RUN_ID`` is exported by a wrapper.
- A run that raises, is interrupted or receives SIGTERM ends FAILED (reason in the ``failure``
  tag), never RUNNING.
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator, Mapping

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")

import mlflow  # noqa: E402
from mlflow.entities import Metric, RunStatus  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

EXPERIMENT_PREFIX = "racecar"


def repo_root() -> Path:
    """The repository the results belong to: DVC_ROOT under DVC, else the git top level, else cwd."""
    if os.environ.get("DVC_ROOT"):
        return Path(os.environ["DVC_ROOT"]).resolve()
    try:
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True,
                             text=True, check=True).stdout.strip()
        return Path(top)
    except (OSError, subprocess.CalledProcessError):
        return Path.cwd().resolve()


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{repo_root() / 'mlflow.db'}"


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}, "c": [1, 2]}`` -> ``{"a.b": 1, "c": "[1, 2]"}`` (MLflow params are flat)."""
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _git_tags() -> dict[str, str]:
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], capture_output=True, text=True, check=True,
                                  cwd=Path.cwd()).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""
    commit = git("rev-parse", "HEAD")
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return {"git_commit": commit or "unknown", "git_dirty": str(bool(dirty)).lower()}


def _experiment_id(client: MlflowClient, name: str) -> str:
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    artifact_location = None
    if tracking_uri().startswith("sqlite:"):
        artifact_location = (repo_root() / "mlartifacts" / name).as_uri()
    try:
        return client.create_experiment(name, artifact_location=artifact_location)
    except mlflow.exceptions.MlflowException:  # created meanwhile by a parallel stage
        return client.get_experiment_by_name(name).experiment_id


class StageRun:
    """An open MLflow run; metrics are buffered and sent in batches (one HTTP/SQL call per flush)."""

    flush_seconds = 5.0

    def __init__(self, client: MlflowClient, run_id: str):
        self.client = client
        self.run_id = run_id
        self._pending: list[Metric] = []
        self._last_flush = time.monotonic()

    def log_epoch(self, metrics: Mapping[str, float], step: int) -> None:
        now_ms = int(time.time() * 1000)
        self._pending += [Metric(k, float(v), now_ms, int(step)) for k, v in metrics.items()]
        if time.monotonic() - self._last_flush > self.flush_seconds:
            self.flush()

    def log_metrics(self, metrics: Mapping[str, float]) -> None:
        """Final (step-less) numbers, the same ones DVC's metrics files hold."""
        self.log_epoch(metrics, step=0)
        self.flush()

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        for key, value in tags.items():
            self.client.set_tag(self.run_id, key, str(value))

    def log_artifact(self, path: str | os.PathLike, artifact_path: str | None = None) -> None:
        path = Path(path)
        if path.is_dir():
            self.client.log_artifacts(self.run_id, str(path), artifact_path)
        else:
            self.client.log_artifact(self.run_id, str(path), artifact_path)

    @contextlib.contextmanager
    def child(self, name: str, tags: Mapping[str, Any] | None = None) -> Iterator["StageRun"]:
        """A nested run (e.g. one seed of a stage), shown under this run in the MLflow UI."""
        parent = self.client.get_run(self.run_id)
        run_tags = {k: v for k, v in parent.data.tags.items() if not k.startswith("mlflow.")}
        run_tags.update({k: str(v) for k, v in (tags or {}).items()})
        run_tags["mlflow.parentRunId"] = self.run_id
        run = self.client.create_run(parent.info.experiment_id, tags=run_tags,
                                     run_name=f"{parent.info.run_name}/{name}")
        child = StageRun(self.client, run.info.run_id)
        with _closing(child):
            yield child

    def flush(self) -> None:
        for start in range(0, len(self._pending), 1000):  # MLflow's per-batch metric limit
            self.client.log_batch(self.run_id, metrics=self._pending[start:start + 1000])
        self._pending = []
        self._last_flush = time.monotonic()


class _Terminated(BaseException):
    """Raised from the SIGTERM handler so the run is closed as FAILED on the way out."""


@contextlib.contextmanager
def stage_run(experiment: str, tags: Mapping[str, Any] | None = None,
              params: Mapping[str, Any] | None = None) -> Iterator[StageRun]:
    """Open one MLflow run for the executing DVC stage; close it with the right status."""
    client = MlflowClient(tracking_uri())
    experiment_id = _experiment_id(client, f"{EXPERIMENT_PREFIX}-{experiment}")
    run_tags = {"experiment": experiment, **_git_tags(),
                "dvc_stage": os.environ.get("DVC_STAGE", ""),
                "dvc_exp_name": os.environ.get("DVC_EXP_NAME", "")}
    run_tags.update({k: str(v) for k, v in (tags or {}).items()})
    if os.environ.get("RACECAR_PARENT_RUN_ID"):
        run_tags["mlflow.parentRunId"] = os.environ["RACECAR_PARENT_RUN_ID"]
    run_name = os.environ.get("DVC_STAGE") or f"{experiment}-manual"
    run = client.create_run(experiment_id, run_name=run_name,
                            tags={k: str(v) for k, v in run_tags.items()})
    stage = StageRun(client, run.info.run_id)
    if params:
        from mlflow.entities import Param
        flat = [Param(k, str(v)[:6000]) for k, v in flatten(params).items()]
        for start in range(0, len(flat), 100):
            client.log_batch(run.info.run_id, params=flat[start:start + 100])

    def on_sigterm(signum, frame):
        raise _Terminated(f"signal {signum}")
    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        with _closing(stage):
            yield stage
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _closing(stage: StageRun) -> Iterator[StageRun]:
    """End ``stage``'s run FINISHED, or FAILED on an error, Ctrl-C or SIGTERM (with the reason
    in the ``failure`` tag). Only SIGKILL can leave a run RUNNING."""
    status = RunStatus.to_string(RunStatus.FAILED)
    try:
        yield stage
        status = RunStatus.to_string(RunStatus.FINISHED)
    except BaseException as err:
        reason = "terminated by SIGTERM" if isinstance(err, _Terminated) else \
            "interrupted" if isinstance(err, KeyboardInterrupt) else f"{type(err).__name__}: {err}"
        with contextlib.suppress(Exception):
            stage.client.set_tag(stage.run_id, "failure", reason[:5000])
        raise
    finally:
        try:
            stage.flush()
        finally:
            stage.client.set_terminated(stage.run_id, status=status)
