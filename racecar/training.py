"""One training loop for phase I (Std / RR^s / Ort) and phase II (task loss only).

    trainer = Trainer(net, TrainConfig(variant="racecar", epochs=100, racecar_layers=3, ...))
    history = trainer.fit(train_data, evaluate=lambda net, epoch: {...}, checkpoint="ck.pt")

- ``train_data`` is ``epoch -> iterable of (x, y)`` (or a re-iterable): shuffling is a function of
  (seed, epoch), so a resumed run sees exactly the batches an uninterrupted one would.
- Phase I variants add eq. 1 (``racecar``) or eq. 2 (``orthogonal``) to the task loss; ``std``
  and every phase-II run use the forward structure and the task loss only.
- Every epoch: lr from the schedule, train, evaluate, callbacks(epoch, metrics, net); every
  ``checkpoint_every`` epochs an atomic checkpoint; a matching checkpoint is resumed.
- A non-finite loss stops the run with :class:`NonFiniteLossError` naming epoch and step.
"""
from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Literal, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from racecar.checkpoint import fingerprint, load_if_matching, save_atomic
from racecar.losses import racecar_loss
from racecar.network import RacecarNet
from racecar.srip import srip_penalty, step_schedule

Variant = Literal["std", "racecar", "orthogonal"]


class NonFiniteLossError(RuntimeError):
    pass


@dataclass(frozen=True)
class TrainConfig:
    variant: Variant = "std"
    epochs: int = 10
    lr_schedule: tuple = ((0, 1e-3),)           # ((start_epoch, lr), ...), epochs counted from 0
    optimizer: Literal["adam", "sgd"] = "adam"
    momentum: float = 0.9                        # sgd only
    weight_decay: float = 0.0
    racecar_layers: int | tuple = 0              # RR^s: s, or 1-based indices; 0 = all layers
    racecar_lambdas: float | tuple = 1.0         # one per constrained layer or one for all
    racecar_reduction: str = "batch_mean"        # see racecar.losses
    srip_beta: tuple = ((0, 0.1),)               # ((start_epoch, beta), ...)
    srip_iters: int = 2
    srip_power: int = 2
    checkpoint_every: int = 1
    seed: int = 0

    def __post_init__(self):
        if self.epochs < 0:
            raise ValueError(f"epochs: must be >= 0, got {self.epochs}")
        if not self.lr_schedule or any(lr <= 0 for _, lr in self.lr_schedule):
            raise ValueError("lr_schedule: needs at least one [epoch, lr] with lr > 0")
        if self.checkpoint_every < 1:
            raise ValueError("checkpoint_every: must be >= 1")


@dataclass
class History:
    epochs: list[dict] = field(default_factory=list)

    def last(self) -> dict:
        return self.epochs[-1] if self.epochs else {}


def unwrap(model: nn.Module) -> RacecarNet:
    """The RacecarNet inside a DistributedDataParallel (or the model itself)."""
    return model.module if hasattr(model, "module") else model


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    lr = config.lr_schedule[0][1]
    # foreach: one multi-tensor kernel per update instead of one per parameter (same numbers)
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=config.weight_decay, foreach=True)
    return torch.optim.SGD(params, lr=lr, momentum=config.momentum,
                           weight_decay=config.weight_decay, foreach=True)


class Trainer:
    def __init__(self, model: nn.Module, config: TrainConfig,
                 task_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy,
                 device: str | torch.device = "cpu", run_fingerprint: str | None = None,
                 reduce_metrics: Callable[[dict], dict] | None = None,
                 write_checkpoints: bool = True):
        """Under DDP (``model`` a DistributedDataParallel): ``reduce_metrics`` combines each
        epoch's training metrics over ranks (e.g. ``DistContext.mean``), and only rank 0 should
        ``write_checkpoints``; every rank resumes from the same checkpoint file."""
        self.model = model
        self.reduce_metrics = reduce_metrics
        self.write_checkpoints = write_checkpoints
        self.config = config
        self.task_loss = task_loss
        self.device = torch.device(device)
        self.optimizer = make_optimizer(model, config)
        self.fingerprint = run_fingerprint or fingerprint(dataclasses.asdict(config))
        net = unwrap(model)
        layers = config.racecar_layers or net.n_layers
        self.racecar_layers = layers if isinstance(layers, int) else tuple(layers)

    # --- one step -------------------------------------------------------------------------
    def losses(self, x: torch.Tensor, y: torch.Tensor, epoch: int,
               srip_generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Task loss plus the variant's regulariser for one batch; ``total`` is optimised."""
        fwd = self.model(x)
        out = {"task_loss": self.task_loss(fwd.output, y)}
        total = out["task_loss"]
        if self.config.variant == "racecar":
            regenerated = unwrap(self.model).reverse(fwd.top)
            out["racecar_loss"] = racecar_loss(fwd.states, regenerated, self.config.racecar_lambdas,
                                               self.racecar_layers, self.config.racecar_reduction)
            total = total + out["racecar_loss"]
        elif self.config.variant == "orthogonal":
            beta = step_schedule(self.config.srip_beta, epoch)
            out["srip_loss"] = beta * srip_penalty(unwrap(self.model), self.config.srip_iters,
                                                   self.config.srip_power, srip_generator)
            total = total + out["srip_loss"]
        out["total_loss"] = total
        return out

    def train_epoch(self, batches: Iterable, epoch: int) -> dict[str, float]:
        self.model.train()
        lr = step_schedule(self.config.lr_schedule, epoch)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        srip_generator = torch.Generator().manual_seed(self.config.seed * 100_003 + epoch)
        sums: dict[str, float] = {}
        count = 0
        for step, (x, y) in enumerate(batches):
            x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
            parts = self.losses(x, y, epoch, srip_generator)
            as_float = {id(v): float(v.detach()) for v in parts.values()}  # one sync per tensor
            values = {k: as_float[id(v)] for k, v in parts.items()}  # also the finiteness check
            if not math.isfinite(values["total_loss"]):
                raise NonFiniteLossError(f"non-finite loss at epoch {epoch + 1}, step {step}: "
                                         f"{values} (lower the lr or the lambdas)")
            self.optimizer.zero_grad(set_to_none=True)
            parts["total_loss"].backward()
            self.optimizer.step()
            n = x.shape[0]
            for key, value in values.items():
                sums[key] = sums.get(key, 0.0) + value * n
            count += n
        if count == 0:
            raise RuntimeError(f"epoch {epoch + 1}: the training data yielded no batches")
        metrics = {f"train_{k}": v / count for k, v in sums.items()}
        if self.reduce_metrics is not None:
            metrics = self.reduce_metrics(metrics)
        return {**metrics, "lr": lr}

    # --- the loop -------------------------------------------------------------------------
    def fit(self, train_data: Callable[[int], Iterable] | Iterable,
            evaluate: Callable[[nn.Module, int], dict[str, float]] | None = None,
            checkpoint: str | Path | None = None,
            callbacks: Sequence[Callable[[int, dict, nn.Module], None]] = (),
            evaluate_initial: bool = False) -> History:
        """Train ``config.epochs`` epochs (resuming from ``checkpoint`` when it matches).

        Epochs are reported 1-based; ``evaluate_initial`` also evaluates the untrained model as
        epoch 0 (the start of an information-plane trajectory).
        """
        history = History()
        start = 0
        state = load_if_matching(checkpoint, self.fingerprint)
        if state is not None:
            unwrap(self.model).load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            history.epochs = state["history"]
            start = state["epoch"]
            print(f"[train] resumed from {checkpoint} after epoch {start}")
        batches_for = train_data if callable(train_data) else (lambda epoch: train_data)

        def report(epoch: int, metrics: dict) -> None:
            if evaluate is not None:
                with torch.no_grad():
                    metrics.update(evaluate(self.model, epoch))
            history.epochs.append({"epoch": epoch, **metrics})
            for callback in callbacks:
                callback(epoch, metrics, self.model)

        if start == 0 and evaluate_initial:
            report(0, {})
        for epoch in range(start, self.config.epochs):
            torch.manual_seed(self.config.seed * 100_003 + epoch)  # dropout etc.: per-epoch state
            began = time.perf_counter()
            metrics = self.train_epoch(batches_for(epoch), epoch)
            metrics["epoch_seconds"] = time.perf_counter() - began
            report(epoch + 1, metrics)
            done = epoch + 1
            due = done % self.config.checkpoint_every == 0 or done == self.config.epochs
            if checkpoint is not None and self.write_checkpoints and due:
                save_atomic({"model": unwrap(self.model).state_dict(),
                             "optimizer": self.optimizer.state_dict(),
                             "epoch": done, "history": history.epochs,
                             "fingerprint": self.fingerprint}, checkpoint)
        return history


class TensorBatches:
    """In-memory data set as ``epoch -> batches``, reshuffled from (seed, epoch) each epoch."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, seed: int = 0,
                 shuffle: bool = True):
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.x, self.y, self.batch_size, self.seed, self.shuffle = x, y, batch_size, seed, shuffle

    def __call__(self, epoch: int):
        n = self.x.shape[0]
        if self.shuffle:
            order = torch.randperm(n, generator=torch.Generator().manual_seed(self.seed * 7919 + epoch))
        else:
            order = torch.arange(n)
        for start in range(0, n, self.batch_size):
            idx = order[start:start + self.batch_size]
            yield self.x[idx], self.y[idx]


@torch.no_grad()
def classification_metrics(model: nn.Module, batches: Iterable, prefix: str = "test") -> dict:
    """Accuracy and mean cross entropy over every sample of ``batches`` (eval mode)."""
    was_training = model.training
    model.eval()
    correct, total, loss = 0, 0, 0.0
    for x, y in batches:
        logits = model(x).output
        loss += float(F.cross_entropy(logits, y, reduction="sum"))
        correct += int((logits.argmax(1) == y).sum())
        total += y.shape[0]
    model.train(was_training)
    return {f"{prefix}_acc": correct / max(total, 1), f"{prefix}_loss": loss / max(total, 1)}


def load_phase1_weights(model: RacecarNet, state_dict: dict, reinit_mismatched_head: bool = True
                        ) -> list[str]:
    """Initialise a phase-II model from phase-I weights (all layers, or all but a resized head).

    Returns the keys left at their fresh initialisation. Reverse-only parameters (``input_post``)
    are not needed in phase II and are skipped; a shape mismatch outside the head is an error.
    """
    own = model.state_dict()
    skipped = []
    loadable = {}
    for key, value in state_dict.items():
        if key.startswith("input_post."):
            continue
        if key not in own:
            raise KeyError(f"phase-I weight {key!r} has no counterpart in the phase-II model")
        if own[key].shape != value.shape:
            if reinit_mismatched_head and key.startswith("head."):
                skipped.append(key)
                continue
            raise ValueError(f"{key}: phase-I shape {tuple(value.shape)} vs {tuple(own[key].shape)}")
        loadable[key] = value
    missing = [k for k in own if k not in loadable and not k.startswith("input_post.")]
    model.load_state_dict(loadable, strict=False)
    return sorted(set(skipped) | set(missing))
