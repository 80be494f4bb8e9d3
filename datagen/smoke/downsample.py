"""High-res -> low-res fields as tempoGAN's generator makes them (notes step 10; A.4 "factor 4").

``blurRealGrid`` / ``blurMacGrid`` with sigma = factor / (2 sqrt(pi)) (tempoGAN: ``fac / 3.544908``,
about 1.13 cells at factor 4), 7 taps, clamp to edge; then ``interpolateGrid``: bilinear sampling
at the centre of each factor x factor block, i.e. high-res index ``k * factor + (factor - 1) / 2``
(the mean of the two middle cells for even factors). Velocities are divided by the factor so they
stay in cells per step of their own grid. Not average pooling.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

TAPS = 7


def blur_sigma(factor: int) -> float:
    return factor / (2.0 * math.sqrt(math.pi))


def gaussian_taps(factor: int, dtype=torch.float32, device="cpu") -> torch.Tensor:
    """Normalised 7-tap kernel (7,)."""
    offsets = torch.arange(TAPS, dtype=torch.float64) - TAPS // 2
    w = torch.exp(-0.5 * (offsets / blur_sigma(factor)) ** 2)
    return (w / w.sum()).to(device, dtype)


def blur(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Separable Gaussian blur of x (N, H, W), clamp-to-edge padding."""
    k = gaussian_taps(factor, x.dtype, x.device)
    r = TAPS // 2
    y = F.pad(x[:, None], (r, r, 0, 0), mode="replicate")
    y = F.conv2d(y, k.view(1, 1, 1, TAPS))
    y = F.pad(y, (0, 0, r, r), mode="replicate")
    return F.conv2d(y, k.view(1, 1, TAPS, 1))[:, 0]


def _sample_axis(x: torch.Tensor, factor: int, dim: int) -> torch.Tensor:
    """Linear interpolation at block centres k * factor + (factor - 1) / 2 along ``dim``."""
    n = x.shape[dim] // factor
    centre = torch.arange(n, dtype=torch.float64) * factor + (factor - 1) / 2.0
    i0 = centre.floor().long()
    t = (centre - i0).to(x.dtype).to(x.device)
    i1 = (i0 + 1).clamp(max=x.shape[dim] - 1)
    a = x.index_select(dim, i0.to(x.device))
    b = x.index_select(dim, i1.to(x.device))
    shape = [1] * x.dim()
    shape[dim] = n
    return a + t.view(shape) * (b - a)


def downsample_scalar(x: torch.Tensor, factor: int) -> torch.Tensor:
    """(N, H, W) -> (N, H / factor, W / factor)."""
    if factor == 1:
        return x.clone()
    return _sample_axis(_sample_axis(blur(x, factor), factor, -1), factor, -2)


def downsample(density: torch.Tensor, velocity: torch.Tensor, factor: int):
    """density (B, H, W), cell-centred velocity (B, 2, H, W) -> low-res pair; velocity / factor."""
    b, _, h, w = velocity.shape
    d = downsample_scalar(density, factor)
    vel = downsample_scalar(velocity.reshape(b * 2, h, w), factor) / factor
    return d, vel.reshape(b, 2, h // factor, w // factor)
