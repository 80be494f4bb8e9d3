"""Down-sampling: Gaussian blur (sigma = factor / (2 sqrt(pi)), 7 taps) then block-centre samples."""
import math

import pytest
import torch

from datagen.smoke.downsample import blur_sigma, downsample, downsample_scalar, gaussian_taps


def test_blur_sigma_is_tempogans():
    assert blur_sigma(4) == pytest.approx(4 / 3.544908, rel=1e-6)   # gen_sim_data.py: fac / 3.544908
    taps = gaussian_taps(4)
    assert taps.shape == (7,) and float(taps.sum()) == pytest.approx(1.0, abs=1e-6)


def test_constant_field_stays_that_constant():
    x = torch.full((2, 64, 64), 0.37)
    out = downsample_scalar(x, 4)
    assert out.shape == (2, 16, 16)
    assert torch.allclose(out, torch.full_like(out, 0.37), atol=1e-7)


def test_smooth_sinusoid_matches_the_analytic_blur_and_sample():
    """sin(k x + phi) blurred by a Gaussian is exp(-sigma^2 k^2 / 2) sin(k x + phi); sampled at the
    block centres X = 4 m + 2 (cell centres at i + 0.5). Tolerance 3e-3 of the amplitude: the
    7-tap truncation, the discrete kernel and the linear interpolation between the two middle
    cells (1 - cos(k / 2) ~ 1.2e-3 at k = 2 pi / 64) stay below it; edges (clamped) excluded."""
    n, factor, amplitude, phase = 128, 4, 0.8, 0.3
    k = 2 * math.pi / 64
    xs = torch.arange(n, dtype=torch.float64) + 0.5
    field = amplitude * torch.sin(k * xs + phase).expand(n, n)              # varies along x
    out = downsample_scalar(torch.stack([field, field.T]).float(), factor)  # along x, along y
    centres = torch.arange(n // factor, dtype=torch.float64) * factor + factor / 2
    sigma = blur_sigma(factor)
    expected = amplitude * math.exp(-0.5 * sigma**2 * k**2) * torch.sin(k * centres + phase)
    inner = slice(2, n // factor - 2)
    assert (out[0, 5, inner].double() - expected[inner]).abs().max() <= 3e-3 * amplitude
    assert (out[1, inner, 5].double() - expected[inner]).abs().max() <= 3e-3 * amplitude


def test_velocity_is_divided_by_the_factor():
    density = torch.rand(1, 32, 32)
    velocity = torch.stack([torch.full((32, 32), 2.0), torch.full((32, 32), -1.0)])[None]
    d, v = downsample(density, velocity, 4)
    assert d.shape == (1, 8, 8) and v.shape == (1, 2, 8, 8)
    assert torch.allclose(v[0, 0], torch.full((8, 8), 0.5)) and torch.allclose(v[0, 1], torch.full((8, 8), -0.25))


def test_downsampling_is_not_average_pooling():
    x = torch.zeros(1, 16, 16)
    x[0, 0:4, 0:4] = 1.0                                          # one bright block
    out = downsample_scalar(x, 4)
    pooled = torch.nn.functional.avg_pool2d(x[None], 4)[0]
    assert not torch.allclose(out, pooled, atol=1e-3)
    assert 0 < float(out[0, 0, 1]) < 0.2                           # the blur leaks into the neighbour
