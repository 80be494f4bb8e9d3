"""SRIP (eq. 2): power iteration against an SVD, zero for orthogonal weights, schedules."""
import pytest
import torch
from torch import nn

from racecar.srip import orthogonality_residual, spectral_norm_estimate, srip_penalty, step_schedule


@pytest.mark.parametrize("shape", [(10, 12), (64, 3, 3, 3), (5, 40), (30, 7)])
def test_power_iteration_agrees_with_the_svd_spectral_norm(shape):
    torch.manual_seed(1)
    residual = orthogonality_residual(torch.randn(shape, dtype=torch.float64) * 0.3)
    exact = torch.linalg.matrix_norm(residual, ord=2)
    estimate = spectral_norm_estimate(residual, n_iter=200, generator=torch.Generator().manual_seed(0))
    assert float(estimate) == pytest.approx(float(exact), rel=1e-4)
    # the two-product estimate of the SRIP reference is a lower bound of the same quantity
    assert float(spectral_norm_estimate(residual, 2)) <= float(exact) * (1 + 1e-9)


def test_the_smaller_gram_matrix_is_used():
    assert orthogonality_residual(torch.randn(64, 3, 3, 3)).shape == (27, 27)
    assert orthogonality_residual(torch.randn(10, 12)).shape == (10, 10)


def test_orthogonal_weights_have_zero_penalty_and_others_a_positive_differentiable_one():
    lin = nn.Linear(6, 6)
    nn.init.orthogonal_(lin.weight)
    assert float(srip_penalty(lin, n_iter=20)) == pytest.approx(0.0, abs=1e-10)
    conv = nn.Conv2d(3, 8, 3)
    penalty = srip_penalty(conv)
    penalty.backward()
    assert float(penalty) > 0 and conv.weight.grad is not None


def test_step_schedule_is_piecewise_constant():
    schedule = ((0, 0.1), (80, 0.01), (120, 0.001))   # Table 6
    assert [step_schedule(schedule, e) for e in (0, 79, 80, 119, 120, 179)] == \
        [0.1, 0.1, 0.01, 0.01, 0.001, 0.001]
