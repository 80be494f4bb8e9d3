"""The racecar loss (eq. 1) and the conversion of the paper's lambdas.

    L_racecar = sum_{m in S} lambda_m * 1/2 * mean_b sum_f (L_m - L'_m)^2          (our reduction)

- ``S`` is the set of constrained layers: RR^s uses the first s layer inputs L_1..L_s (RR^1 =
  the input only, RR^6 = all six layers of Table 1). The reverse chain always runs down to L'_1.
- Reduction ("batch_mean"): squared differences summed over the features of a sample, halved,
  averaged over the batch. It does not change with the batch size, unlike the authors' code,
  which uses ``lambda * 0.5 * sum(diff^2)`` summed over batch **and** features on raw 0..255
  inputs, with no stop-gradient (shared/notes/paper.md). ``paper_lambda`` converts a lambda of that
  convention to ours; the ``"sum"`` reduction reproduces the authors' convention exactly.
- Gradients flow into both L_m and L'_m (no stop-gradient), as in the authors' code.
"""
from __future__ import annotations

from typing import Literal, Sequence

import torch

Reduction = Literal["batch_mean", "sum", "mean"]


def constrained_layers(n_layers: int, layers: int | Sequence[int]) -> list[int]:
    """0-based indices of the constrained inputs: an int s means RR^s (first s); a list is 1-based."""
    if isinstance(layers, int):
        if not 1 <= layers <= n_layers:
            raise ValueError(f"RR^{layers}: the network has {n_layers} constrained layer inputs")
        return list(range(layers))
    chosen = sorted(set(int(m) for m in layers))
    if not chosen or chosen[0] < 1 or chosen[-1] > n_layers:
        raise ValueError(f"layers {list(layers)}: must be 1-based indices in 1..{n_layers}")
    return [m - 1 for m in chosen]


def racecar_loss(states: Sequence[torch.Tensor], regenerated: Sequence[torch.Tensor],
                 lambdas: float | Sequence[float], layers: int | Sequence[int] | None = None,
                 reduction: Reduction = "batch_mean") -> torch.Tensor:
    """Eq. 1 over the constrained layers.

    states / regenerated: [L_1..L_n] and [L'_1..L'_n], each (B, ...) with matching shapes.
    lambdas: one value for all constrained layers or one per constrained layer.
    """
    n = len(states)
    if len(regenerated) != n:
        raise ValueError(f"{n} states but {len(regenerated)} regenerated tensors")
    chosen = constrained_layers(n, n if layers is None else layers)
    if isinstance(lambdas, (int, float)):
        lambdas = [float(lambdas)] * len(chosen)
    if len(lambdas) != len(chosen):
        raise ValueError(f"{len(lambdas)} lambdas for {len(chosen)} constrained layers")
    total = states[0].new_zeros(())
    for lam, m in zip(lambdas, chosen):
        if states[m].shape != regenerated[m].shape:
            raise ValueError(f"L_{m + 1} {tuple(states[m].shape)} vs L'_{m + 1} "
                             f"{tuple(regenerated[m].shape)}: reverse pass does not match")
        sq = (states[m] - regenerated[m]).pow(2)
        if reduction == "batch_mean":
            term = 0.5 * sq.sum() / sq.shape[0]
        elif reduction == "sum":
            term = 0.5 * sq.sum()
        elif reduction == "mean":
            term = sq.mean()
        else:
            raise ValueError(f"unknown reduction {reduction!r}")
        total = total + lam * term
    return total


def paper_lambda(lam_paper: float, batch_size: int, input_scale: float = 1.0) -> float:
    """Convert a lambda of the authors' convention to the ``batch_mean`` reduction.

    The authors sum over the batch (factor ``batch_size``) and feed raw 0..255 pixels; if our
    inputs are ``input_scale`` times theirs (1/255 for images in [0, 1]), squared differences of
    the input reconstruction shrink by ``input_scale**2``. Example: MNIST (Table 4) 1e-5 with
    batch 64 and inputs in [0, 1] -> 1e-5 * 64 / (1/255)**2 = 41.6. For deeper layers the
    scaling is exact only for bias-free ReLU layers; it is the right order of magnitude.
    """
    if batch_size < 1 or input_scale <= 0:
        raise ValueError("batch_size must be >= 1 and input_scale > 0")
    return lam_paper * batch_size / input_scale ** 2
