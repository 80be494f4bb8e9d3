"""End to end: `dvc repro` on a temporary copy of the repository with tiny params, then the
outputs, the MLflow runs (through MLflow's client) and `dvc exp run -S` rerunning exactly the
affected stages. Real DVC, real MLflow sqlite store, real training: nothing is mocked."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient

REPO = Path(__file__).resolve().parents[1]
COPY = ["racecar", "datagen", "pipeline", "dvc.yaml", "params.yaml", ".dvcignore", ".gitignore",
        "pyproject.toml"]

# Tiny settings: a few epochs, one seed. Keys are dotted paths into params.yaml.
TINY = {
    "mi.seeds": [0],
    "mi.phase1": {"epochs": 3, "batch_size": 512, "lr": 0.005},
    "mi.phase2": {"epochs": 2, "batch_size": 512, "lr": 0.005},
    "mi.scratch": {"epochs": 2, "batch_size": 512, "lr": 0.005},
    "mi.mi_points": 3,
    "smoke_data.resolution": 32, "smoke_data.n_simulations": 2, "smoke_data.frames": 4,
    "smoke_data.warmup": 2, "smoke_data.lowres_tile": 4, "smoke_data.highres_tile": 16,
    "mnist.seeds": [0],
    "mnist.phase1": {"epochs": 1, "batch_size": 64, "lr": 0.001},
    "mnist.phase2": {"AA": {"epochs": 1, "batch_size": 64, "lr": 0.001},
                     "AB": {"epochs": 1, "batch_size": 64, "lr": 0.001}},
    "mnist.scratch": {"epochs": 1, "batch_size": 64, "lr": 0.001},
}


def _set(tree: dict, dotted: str, value) -> None:
    *parents, leaf = dotted.split(".")
    for key in parents:
        tree = tree[key]
    tree[leaf] = value


def _run(cmd, cwd, env):
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("racecar-e2e")
    for name in COPY:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, root / name)
    params = yaml.safe_load((root / "params.yaml").read_text())
    for key, value in TINY.items():
        _set(params, key, value)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_TRACKING", "DVC_"))}
    env.update(PATH=f"{Path(sys.executable).parent}:{env['PATH']}", DVC_NO_ANALYTICS="1",
               MLFLOW_DISABLE_TELEMETRY="true", PYTHONPATH=str(root))
    _run(["git", "init", "-q"], root, env)
    _run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty",
          "-m", "empty"], root, env)
    _run([sys.executable, "-m", "dvc", "init", "-q"], root, env)
    _run([sys.executable, "-m", "dvc", "config", "core.analytics", "false"], root, env)
    _run(["git", "add", "-A"], root, env)
    _run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "copy"], root, env)
    repro = _run([sys.executable, "-m", "dvc", "repro"], root, env)
    return root, env, repro


pytestmark = pytest.mark.slow


def test_repro_builds_the_report_figures_and_metrics(project):
    root, _, _ = project
    report = (root / "reports/index.md").read_text()
    assert "## Information plane" in report and "RR^6_AB" in report
    for group in ("A", "AA", "AB"):
        assert (root / f"reports/figures/mi/mi_planes_{group}.png").stat().st_size > 5000
    summary = json.loads((root / "results/mi/summary.json").read_text())
    assert summary["scale"] == "offline" and summary["epochs"]["phase1"] == 3
    assert set(summary["models"]) >= {"Std_A", "RR^1_A", "RR^6_A", "Ort_A", "RR^6_AB", "Std_B"}
    assert all(0.0 <= m["test_acc_mean"] <= 1.0 for m in summary["models"].values())


def test_every_executed_stage_has_one_finished_mlflow_run_with_metrics_params_artifacts(project):
    root, env, repro = project
    client = MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    exp = client.get_experiment_by_name("racecar-mi")
    runs = client.search_runs([exp.experiment_id], max_results=500)
    stage_runs = {r.info.run_name: r for r in runs if "mlflow.parentRunId" not in r.data.tags}
    executed = {line.split("'")[1] for line in repro.splitlines() if line.startswith("Running stage")}
    mi_stages = {s for s in executed if s.startswith("mi_")}
    assert set(stage_runs) == mi_stages and len(mi_stages) == 14
    assert all(r.info.status == "FINISHED" for r in runs)
    rr6 = stage_runs["mi_phase1@rr6"]
    assert rr6.data.tags["variant"] == "rr6" and rr6.data.tags["task"] == "A"
    assert rr6.data.params["mi.phase1.epochs"] == "3"
    assert 0 <= rr6.data.metrics["test_acc_mean"] <= 1
    child = next(r for r in runs if r.data.tags.get("mlflow.parentRunId") == rr6.info.run_id)
    assert child.data.tags["seed"] == "0"
    history = client.get_metric_history(child.info.run_id, "test_acc")
    assert [m.step for m in history] == [0, 1, 2, 3]
    assert {a.path for a in client.list_artifacts(child.info.run_id)} >= {"mi.json", "seed0.pt"}
    report = client.search_runs([client.get_experiment_by_name("racecar-report").experiment_id])
    assert {a.path for a in client.list_artifacts(report[0].info.run_id)} >= {"index.md", "dvc.lock"}


def test_dvc_metrics_and_plots_commands_work(project):
    root, env, _ = project
    metrics = json.loads(_run([sys.executable, "-m", "dvc", "metrics", "show", "--json"], root, env))
    assert any("results/mi/summary.json" in json.dumps(v) for v in metrics.values())
    _run([sys.executable, "-m", "dvc", "plots", "show", "-o", "dvc_plots"], root, env)
    assert (root / "dvc_plots/index.html").exists()
    assert "Data and pipelines are up to date" in _run([sys.executable, "-m", "dvc", "status"],
                                                       root, env)


def test_exp_run_with_a_changed_param_reruns_exactly_the_affected_stages(project):
    root, env, _ = project
    _run(["git", "add", "-A"], root, env)
    _run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "repro"], root, env)
    out = _run([sys.executable, "-m", "dvc", "exp", "run", "-S", "mi.phase2.epochs=1"], root, env)
    ran = {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")}
    phase2 = {f"mi_phase2@{v}-{t}" for v in ("std", "rr1", "rr6", "ort") for t in ("AA", "AB")}
    assert ran == phase2 | {"mi_evaluate", "report"}
    summary = json.loads((root / "results/mi/summary.json").read_text())
    assert summary["epochs"]["phase2"] == 1
