"""SRIP orthogonality penalty (eq. 2; Bansal et al. 2018), the Ort baseline.

    L_SRIP = beta * sum_W sigma(W^T W - I)^p

For each Linear / Conv weight reshaped to W (out, in*kh*kw) we take the smaller Gram matrix
(``W W^T - I`` when out <= in, else ``W^T W - I``) and estimate its spectral norm sigma by power
iteration: a fresh random vector each step, then ``n_iter`` matrix-vector products (the SRIP
reference code uses two: u = G v, sigma = ||G u/||u|| ||). The reference PyTorch code penalises
sigma^2 (``power=2``, our default); the paper's eq. 2 writes sigma (``power=1``).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


def orthogonality_residual(weight: torch.Tensor) -> torch.Tensor:
    """The smaller Gram matrix minus identity: (k, k) with k = min(out, in*kh*kw)."""
    w = weight.reshape(weight.shape[0], -1)
    gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    return gram - torch.eye(gram.shape[0], dtype=w.dtype, device=w.device)


def spectral_norm_estimate(matrix: torch.Tensor, n_iter: int = 2,
                           generator: torch.Generator | None = None) -> torch.Tensor:
    """Power-iteration estimate of sigma_max of a symmetric matrix; differentiable."""
    v = torch.randn(matrix.shape[1], 1, generator=generator, dtype=matrix.dtype).to(matrix.device)
    v = v / v.norm().clamp_min(1e-12)
    for _ in range(max(n_iter - 1, 0)):
        v = matrix @ v
        v = v / v.norm().clamp_min(1e-12)
    return (matrix @ v).norm()


def srip_penalty(modules: Sequence[nn.Module] | nn.Module, n_iter: int = 2, power: int = 2,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Sum over every Linear / Conv weight of sigma(W^T W - I)^power (multiply by beta outside)."""
    if isinstance(modules, nn.Module):
        modules = list(modules.modules())
    weights = [m.weight for m in modules
               if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d))]
    if not weights:
        raise ValueError("no Linear/Conv weights to regularise")
    total = weights[0].new_zeros(())
    for w in weights:
        total = total + spectral_norm_estimate(orthogonality_residual(w), n_iter, generator) ** power
    return total


def step_schedule(schedule: Sequence[Sequence[float]], epoch: int) -> float:
    """Piecewise-constant value at ``epoch`` from ``[[start_epoch, value], ...]`` (sorted).

    Used for learning rates (Table 6: 0.1 / 0.01 / 0.001 from epochs 0 / 80 / 120) and SRIP's
    beta (1e-2 then x1e-3 / 1e-4 / 1e-6 / 0 after epochs 20 / 50 / 70 / 120 in Bansal et al.).
    """
    value = schedule[0][1]
    for start, v in schedule:
        if epoch >= start:
            value = v
    return float(value)
