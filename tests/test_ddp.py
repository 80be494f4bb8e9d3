"""DistributedDataParallel on CPU (gloo, 2 processes) trains exactly like one process.

Both runs see the same global batches: one process takes each whole batch, each of the two
ranks takes its half. Cross entropy and the racecar loss (``batch_mean``) are means over the
batch and DDP averages gradients over ranks, so the weights must agree to float tolerance."""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from pipeline.mnist_train import fit_model
from racecar.distributed import DistContext, setup, teardown
from racecar.models import mnist_net
from racecar.training import TrainConfig

REPO = Path(__file__).resolve().parents[1]
GLOBAL_BATCH, STEPS, EPOCHS = 8, 3, 2


def global_batches():
    g = torch.Generator().manual_seed(1)
    return [(torch.rand(GLOBAL_BATCH, 1, 28, 28, generator=g),
             torch.randint(0, 10, (GLOBAL_BATCH,), generator=g)) for _ in range(STEPS)]


def config(variant: str) -> TrainConfig:
    return TrainConfig(variant=variant, epochs=EPOCHS, lr_schedule=((0, 1e-3),),
                       racecar_layers=3, racecar_lambdas=41.6, srip_beta=((0, 0.1),), seed=0)


def train(variant: str, ctx: DistContext):
    torch.manual_seed(0)
    net = mnist_net()
    half = GLOBAL_BATCH // ctx.world_size
    mine = [(x[ctx.rank * half:(ctx.rank + 1) * half], y[ctx.rank * half:(ctx.rank + 1) * half])
            for x, y in global_batches()]
    history = fit_model(net, config(variant), ctx, mine)
    return net.state_dict(), history.last()


def _worker(rank: int, world_size: int, port: int, variant: str, out: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    ctx = setup("cpu")
    try:
        state, last = train(variant, ctx)
        if rank == 0:
            torch.save({"state": state, "last": last}, out)
    finally:
        teardown()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_single_process_context_needs_no_process_group():
    ctx = setup("cpu")
    assert (ctx.rank, ctx.world_size, ctx.is_main, ctx.distributed) == (0, 1, True, False)
    net = mnist_net()
    assert ctx.wrap(net) is net and ctx.sum([1.0, 2.0]) == [1.0, 2.0]
    assert ctx.mean({"a": 3.0}) == {"a": 3.0}


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["racecar", "orthogonal"])
def test_two_gloo_ranks_match_one_process_with_the_same_global_batch(tmp_path, variant):
    torch.set_num_threads(1)
    single_state, single_last = train(variant, DistContext())
    out = tmp_path / "ddp.pt"
    mp.start_processes(_worker, args=(2, free_port(), variant, str(out)), nprocs=2,
                       start_method="spawn")
    ddp = torch.load(out, weights_only=False)
    for key, value in single_state.items():
        torch.testing.assert_close(ddp["state"][key], value, rtol=1e-4, atol=1e-5, msg=key)
    for key in ("train_task_loss", "train_total_loss"):
        assert ddp["last"][key] == pytest.approx(single_last[key], rel=1e-4)


@pytest.mark.slow
def test_the_stage_runs_under_torchrun_with_rank_zero_writing_alone(tmp_path):
    """`mnist.nproc: 2`: the stage relaunches itself under torchrun (gloo), trains, and rank 0
    alone writes the model, the history, the DVC metrics and one MLflow run."""
    from mlflow.tracking import MlflowClient

    sys.path.insert(0, str(REPO / "tests"))
    from test_mnist_experiment import make_project

    root = make_project(tmp_path / "proj", nproc=2, seeds=[0],
                        phase1={"epochs": 1, "batch_size": 32, "lr": 0.001})
    env = {**os.environ, "PYTHONPATH": str(REPO), "MLFLOW_TRACKING_URI":
           f"sqlite:///{root / 'mlflow.db'}", "OMP_NUM_THREADS": "1"}
    env = {k: v for k, v in env.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    proc = subprocess.run([sys.executable, "-m", "pipeline.mnist_train", "--phase", "1",
                           "--variant", "rr3"], cwd=root, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    metrics = json.loads((root / "results/mnist/metrics/phase1-rr3.json").read_text())
    assert metrics["world_size"] == 2
    history = json.loads((root / "results/mnist/phase1/rr3/seed0/history.json").read_text())
    assert [h["epoch"] for h in history] == [0, 1]
    client = MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("racecar-mnist").experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1 and parents[0].data.tags["world_size"] == "2"
    assert len(runs) == 2 and all(r.info.status == "FINISHED" for r in runs)
