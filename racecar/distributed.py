"""Process groups for DistributedDataParallel: one process or many, the same training code.

    ctx = setup()                 # reads torchrun's RANK / WORLD_SIZE / LOCAL_RANK, else 1 process
    model = ctx.wrap(net)         # DDP when world_size > 1, the net itself otherwise
    if ctx.is_main: ...           # rank 0 alone writes files, metrics, MLflow
    totals = ctx.sum([correct, count])
    teardown()

Backend: nccl when the process has a CUDA device, gloo on CPU. Gradients are averaged over ranks
by DDP, so a loss that is a mean over each rank's batch (cross entropy, the racecar loss with the
``batch_mean`` reduction) gives the gradient of the mean over the global batch: N processes with
batch b each train exactly like one process with batch N * b fed the same samples.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping, Sequence

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def wrap(self, model: nn.Module) -> nn.Module:
        """DDP around ``model`` (already on ``device``) when distributed; DDP broadcasts rank 0's
        parameters, so every rank starts from the same weights."""
        if not self.distributed:
            return model
        ids = [self.device.index] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(model, device_ids=ids)

    def sum(self, values: Sequence[float]) -> list[float]:
        """Element-wise sum of ``values`` over all ranks (float64, so counts stay exact)."""
        t = torch.tensor([float(v) for v in values], dtype=torch.float64)
        if self.distributed:
            if dist.get_backend() == "nccl":
                t = t.to(self.device)
            dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t.cpu().tolist()

    def mean(self, metrics: Mapping[str, float]) -> dict[str, float]:
        """Average of per-rank numbers (every rank ran the same number of equal batches)."""
        keys = sorted(metrics)
        totals = self.sum([metrics[k] for k in keys])
        return {k: v / self.world_size for k, v in zip(keys, totals)}

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()


def setup(device: str = "auto") -> DistContext:
    """Join the process group torchrun describes in the environment (or run as one process).

    ``device``: ``auto`` picks ``cuda:LOCAL_RANK`` when CUDA is available, else the CPU.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but CUDA is not available")
    dev = torch.device(f"cuda:{local_rank}") if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(dev)
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo",
                                rank=rank, world_size=world_size)
    return DistContext(rank, world_size, local_rank, dev)


def teardown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
