"""The MLflow module against real tracking stores: a sqlite file and a real `mlflow server`."""
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from pipeline.tracking import flatten, stage_run, tracking_uri

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def store(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("DVC_STAGE", "mi_phase1@rr6")
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    return MlflowClient(uri)


def _only_run(client, experiment="racecar-test"):
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 1
    return runs[0]


def test_uri_defaults_to_the_repository_sqlite_file(monkeypatch, tmp_path):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    assert tracking_uri() == f"sqlite:///{tmp_path}/mlflow.db"


def test_flatten_joins_nested_keys_with_dots():
    assert flatten({"a": {"b": 1, "c": {"d": [1, 2]}}, "e": "x"}) == \
        {"a.b": 1, "a.c.d": [1, 2], "e": "x"}


def test_a_stage_run_records_name_tags_params_stepped_metrics_and_artifacts(store, tmp_path):
    artifact = tmp_path / "metrics.json"
    artifact.write_text("{}")
    with stage_run("test", tags={"variant": "rr6", "task": "A", "seed": 0},
                   params={"mi": {"phase1": {"epochs": 3}}}) as run:
        for epoch in range(3):
            run.log_epoch({"test_acc": 0.5 + epoch / 10}, step=epoch)
        run.log_metrics({"final_test_acc": 0.7})
        run.log_artifact(artifact)
    found = _only_run(store)
    assert found.info.run_name == "mi_phase1@rr6"
    assert found.info.status == "FINISHED"
    tags = found.data.tags
    assert (tags["variant"], tags["task"], tags["seed"], tags["experiment"]) == ("rr6", "A", "0", "test")
    assert len(tags["git_commit"]) >= 7
    assert found.data.params == {"mi.phase1.epochs": "3"}
    history = store.get_metric_history(found.info.run_id, "test_acc")
    assert [(m.step, round(m.value, 3)) for m in history] == [(0, 0.5), (1, 0.6), (2, 0.7)]
    assert [a.path for a in store.list_artifacts(found.info.run_id)] == ["metrics.json"]


def test_child_runs_are_nested_under_the_stage_run(store):
    with stage_run("test", tags={"variant": "std"}) as run:
        with run.child("seed1", tags={"seed": 1}) as child:
            child.log_epoch({"loss": 1.0}, step=1)
    exp = store.get_experiment_by_name("racecar-test")
    runs = {r.info.run_name: r for r in store.search_runs([exp.experiment_id])}
    child = runs["mi_phase1@rr6/seed1"]
    assert child.data.tags["mlflow.parentRunId"] == runs["mi_phase1@rr6"].info.run_id
    assert child.data.tags["seed"] == "1" and child.data.tags["variant"] == "std"


def test_a_crashing_stage_is_marked_failed(store):
    with pytest.raises(ZeroDivisionError):
        with stage_run("test") as run:
            run.log_epoch({"x": 1.0}, step=0)
            1 / 0
    found = _only_run(store)
    assert found.info.status == "FAILED"
    assert found.data.tags["failure"] == "ZeroDivisionError: division by zero"
    assert store.get_metric_history(found.info.run_id, "x")[0].value == 1.0  # flushed anyway


def test_a_terminated_stage_is_marked_failed_not_left_running(store, tmp_path):
    script = tmp_path / "stage.py"
    script.write_text(textwrap.dedent("""
        import time
        from pipeline.tracking import stage_run
        with stage_run("test") as run:
            print("started", flush=True)
            time.sleep(60)
    """))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.stdout.readline().strip() == "started"
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    assert proc.returncode != 0
    found = _only_run(store)
    assert found.info.status == "FAILED"
    assert found.data.tags["failure"] == "terminated by SIGTERM"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def mlflow_server(tmp_path):
    port = _free_port()
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--workers", "1", "--host", "127.0.0.1",
         "--port", str(port), "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
         "--artifacts-destination", str(tmp_path / "server-artifacts")],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    uri = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            MlflowClient(uri).search_experiments()
            break
        except Exception:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("mlflow server did not start within 90 s")
    yield uri
    proc.terminate()
    proc.wait(timeout=30)


def test_stage_runs_reach_a_real_mlflow_server_over_http(mlflow_server, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    monkeypatch.setenv("DVC_STAGE", "report")
    artifact = tmp_path / "index.md"
    artifact.write_text("# report\n")
    with stage_run("test", params={"a": {"b": 2}}) as run:
        run.log_epoch({"acc": 0.9}, step=5)
        run.log_artifact(artifact)
    client = MlflowClient(mlflow_server)
    found = _only_run(client)
    assert found.info.status == "FINISHED" and found.data.params == {"a.b": "2"}
    assert client.get_metric_history(found.info.run_id, "acc")[0].step == 5
    assert [a.path for a in client.list_artifacts(found.info.run_id)] == ["index.md"]
