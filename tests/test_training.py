"""The training loop: determinism, non-finite losses, checkpoints and resume, phase-II init."""
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from racecar.models import mi_net, mnist_net
from racecar.training import (NonFiniteLossError, TensorBatches, Trainer, TrainConfig,
                              classification_metrics, load_phase1_weights)

REPO = Path(__file__).resolve().parents[1]


def _data(n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 2, (n, 12), generator=g).float()
    return x, (x[:, :6].sum(1) > 3).long()


def _fit(variant, epochs=4, checkpoint=None, seed=0):
    torch.manual_seed(seed)
    net = mi_net()
    x, y = _data()
    config = TrainConfig(variant=variant, epochs=epochs, lr_schedule=((0, 0.01),),
                         racecar_lambdas=0.1, seed=seed)
    history = Trainer(net, config).fit(
        TensorBatches(x, y, 32, seed=seed), lambda m, e: classification_metrics(m, [(x, y)]),
        checkpoint)
    return history, net


@pytest.mark.parametrize("variant", ["std", "racecar", "orthogonal"])
def test_same_seed_gives_identical_metrics_and_weights_on_cpu(variant):
    h1, n1 = _fit(variant)
    h2, n2 = _fit(variant)
    strip = lambda h: [{k: v for k, v in e.items() if k != "epoch_seconds"} for e in h.epochs]
    assert strip(h1) == strip(h2)
    assert all(torch.equal(a, b) for a, b in zip(n1.state_dict().values(), n2.state_dict().values()))


def test_variants_train_toward_the_task():
    history, _ = _fit("racecar", epochs=15)
    assert history.last()["test_acc"] > 0.8
    assert history.epochs[-1]["train_racecar_loss"] < history.epochs[0]["train_racecar_loss"]


def test_a_non_finite_loss_stops_the_run_naming_epoch_and_step():
    net = mi_net()
    x, y = _data()
    x[40] = float("nan")
    trainer = Trainer(net, TrainConfig(epochs=3))
    with pytest.raises(NonFiniteLossError, match=r"epoch 1, step 1"):
        trainer.fit(TensorBatches(x, y, 32, shuffle=False))


def test_interrupted_run_resumes_from_its_checkpoint_to_the_same_result(tmp_path):
    full, _ = _fit("racecar", epochs=6)
    ck = tmp_path / "ck.pt"

    class Killed(Exception):
        pass

    def die_after_three(epoch, metrics, model):
        if epoch == 3:
            raise Killed
    torch.manual_seed(0)
    net = mi_net()
    x, y = _data()
    config = TrainConfig(variant="racecar", epochs=6, lr_schedule=((0, 0.01),), racecar_lambdas=0.1,
                         checkpoint_every=1)
    with pytest.raises(Killed):
        Trainer(net, config).fit(TensorBatches(x, y, 32), lambda m, e: classification_metrics(
            m, [(x, y)]), ck, callbacks=[die_after_three])
    resumed, _ = _fit("racecar", epochs=6, checkpoint=ck)
    assert resumed.last()["test_acc"] == full.last()["test_acc"]
    assert resumed.last()["train_total_loss"] == full.last()["train_total_loss"]


KILL_SCRIPT = textwrap.dedent("""
    import sys, time, torch
    from racecar.models import mi_net
    from racecar.training import Trainer, TrainConfig, TensorBatches, classification_metrics
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 2, (256, 12), generator=g).float(); y = (x[:, :6].sum(1) > 3).long()
    slow = float(sys.argv[2])
    history = Trainer(mi_net(), TrainConfig(variant="racecar", epochs=8, lr_schedule=((0, 0.01),),
                      racecar_lambdas=0.1)).fit(
        TensorBatches(x, y, 32), lambda m, e: classification_metrics(m, [(x, y)]), sys.argv[1],
        callbacks=[lambda e, m, _: time.sleep(slow)])
    print("FINAL", repr(history.last()["test_acc"]), repr(history.last()["train_total_loss"]))
""")


def test_a_process_killed_with_sigkill_resumes_and_matches_an_uninterrupted_run(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(KILL_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = lambda ck, slow: subprocess.run([sys.executable, str(script), str(ck), slow], env=env,
                                          capture_output=True, text=True, check=True).stdout
    reference = [l for l in run(tmp_path / "ref.pt", "0").splitlines() if l.startswith("FINAL")]
    ck = tmp_path / "ck.pt"
    proc = subprocess.Popen([sys.executable, str(script), str(ck), "0.4"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while not ck.exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    done = torch.load(ck, weights_only=False)["epoch"]
    assert 1 <= done < 8
    resumed = [l for l in run(ck, "0").splitlines() if l.startswith("FINAL")]
    assert resumed == reference


def test_a_checkpoint_of_another_configuration_is_not_resumed(tmp_path):
    ck = tmp_path / "ck.pt"
    _fit("std", epochs=2, checkpoint=ck)
    history, _ = _fit("racecar", epochs=2, checkpoint=ck)
    assert [e["epoch"] for e in history.epochs] == [1, 2]
    assert "train_racecar_loss" in history.epochs[0]


def test_phase_two_reuses_all_layers_but_a_resized_head():
    torch.manual_seed(0)
    phase1 = mnist_net(classes=10)
    phase2 = mnist_net(classes=100)
    fresh = load_phase1_weights(phase2, phase1.state_dict())
    assert fresh == ["head.1.bias", "head.1.weight"]
    assert torch.equal(phase2.blocks[0].op.weight, phase1.blocks[0].op.weight)
    with pytest.raises(ValueError, match="blocks.0.op.weight"):
        other = mnist_net()
        other.blocks[0].op = nn.Conv2d(1, 32, 3, padding=1)
        load_phase1_weights(other, phase1.state_dict())
