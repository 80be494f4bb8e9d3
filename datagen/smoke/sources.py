"""Scene tensors built from :class:`SimParams`: density inflows (max semantics) and velocity sources.

Density (notes step 1; mantaflow ``densityInflow(.., scale=1, sigma=1)``)::

    falloff = clamp(1 - 0.5 (sdf + 1), 0, 1)                   sdf of the ellipsoid, cells
    noise_t = n0 cos(w t) + n1 sin(w t)                         unit-variance band-limited noise
    target  = clamp((0.5 + 0.25 noise_t + offset) * scale, 0, 1) * falloff
    density = max(density, target)                              fluid cells only

``n0, n1`` are white noise filtered by a Gaussian (sigma per source) and normalised: our stand-in
for mantaflow's wavelet-noise tile, animated slowly by rotating between two independent fields
(the variance stays 1 at every t). Velocity sources set u and v on the faces at the low side of
every cell whose centre lies inside the sphere (mantaflow ``Shape.applyToGrid`` on a MAC grid).
"""
from __future__ import annotations

import dataclasses
import math

import torch

from datagen.smoke.grid import Domain
from datagen.smoke.randomize import SimParams


@dataclasses.dataclass
class Sources:
    initial: torch.Tensor        # (B, H, W) target of every source at t = 0 (applied once)
    falloff: torch.Tensor        # (B, K, H, W) continuous inflows only (K = most in one sim;
    a0: torch.Tensor             # (B, K, H, W)  padding sources have falloff 0)
    a1: torch.Tensor             # (B, K, H, W)  a_i = 0.25 * valScale * n_i
    c: torch.Tensor              # (B, K, 1, 1)  (0.5 + valOffset) * valScale
    u_mask: torch.Tensor         # (B, H, W+1) bool
    u_value: torch.Tensor        # (B, H, W+1)
    v_mask: torch.Tensor         # (B, H+1, W) bool
    v_value: torch.Tensor        # (B, H+1, W)
    buoyancy: torch.Tensor       # (B, 1, 1) upward force per unit density per step
    noise_anim: float = 0.15     # radians per step

    @property
    def batch(self) -> int:
        return self.buoyancy.shape[0]

    def density_target(self, t: int) -> torch.Tensor:
        """Max over the continuous inflows of noise * falloff at step t: (B, H, W)."""
        b, k, h, w = self.falloff.shape
        if k == 0:
            return self.falloff.new_zeros(b, h, w)
        phase = self.noise_anim * t
        value = torch.add(self.c, self.a0, alpha=math.cos(phase))    # fused, (B, K, H, W)
        value.add_(self.a1, alpha=math.sin(phase)).clamp_(0.0, 1.0).mul_(self.falloff)
        return value.amax(dim=1)

    @staticmethod
    def empty(batch: int, domain: Domain, buoyancy: float = 0.0) -> "Sources":
        """No sources at all (tests): no inflow, no velocity sources."""
        n, dev = domain.size, domain.device
        z = torch.zeros(batch, 0, n, n, device=dev)
        return Sources(initial=torch.zeros(batch, n, n, device=dev), falloff=z, a0=z, a1=z,
                       c=torch.zeros(batch, 0, 1, 1, device=dev),
                       u_mask=torch.zeros(batch, n, n + 1, dtype=torch.bool, device=dev),
                       u_value=torch.zeros(batch, n, n + 1, device=dev),
                       v_mask=torch.zeros(batch, n + 1, n, dtype=torch.bool, device=dev),
                       v_value=torch.zeros(batch, n + 1, n, device=dev),
                       buoyancy=torch.full((batch, 1, 1), buoyancy, device=dev))


def band_limited_noise(size: int, sigma: float, seed: int) -> torch.Tensor:
    """Two independent unit-variance fields (2, size, size), white noise * Gaussian(sigma) (periodic)."""
    g = torch.Generator().manual_seed(seed)
    white = torch.randn(2, size, size, generator=g, dtype=torch.float64)
    k = torch.fft.fftfreq(size, dtype=torch.float64) * 2 * math.pi
    kernel = torch.exp(-0.5 * sigma**2 * (k[:, None] ** 2 + k[None, :] ** 2))
    field = torch.fft.ifft2(torch.fft.fft2(white) * kernel).real
    field = field - field.mean(dim=(-2, -1), keepdim=True)
    return field / field.std(dim=(-2, -1), keepdim=True).clamp_min(1e-12)


def _target(falloff, n0, n1, scale, offset, phase: float) -> torch.Tensor:
    """clamp((0.5 + 0.25 noise_t + offset) * scale, 0, 1) * falloff, any leading shape."""
    noise = n0 * math.cos(phase) + n1 * math.sin(phase)
    return ((0.5 + 0.25 * noise + offset) * scale).clamp(0.0, 1.0) * falloff


def build_sources(params: list[SimParams], domain: Domain, noise_anim: float = 0.15) -> Sources:
    """Stack the scenes of ``params`` into batched tensors on ``domain.device`` (float32).

    Built on the CPU in float64 (same numbers on every device), cast to float32 at the end.
    """
    n = domain.size
    xs, ys = domain.cell_positions(torch.float64)
    xs, ys = xs.cpu(), ys.cpu()
    fluid = domain.cell_fluid.cpu()
    b = len(params)
    k = max([sum(src.inflow for src in p.density_sources) for p in params] + [0])
    initial = torch.zeros(b, n, n, dtype=torch.float64)
    falloff = torch.zeros(b, k, n, n, dtype=torch.float64)
    a0 = torch.zeros(b, k, n, n, dtype=torch.float64)
    a1 = torch.zeros(b, k, n, n, dtype=torch.float64)
    c = torch.zeros(b, k, 1, 1, dtype=torch.float64)
    u_mask = torch.zeros(b, n, n + 1, dtype=torch.bool)
    v_mask = torch.zeros(b, n + 1, n, dtype=torch.bool)
    u_value = torch.zeros(b, n, n + 1, dtype=torch.float64)
    v_value = torch.zeros(b, n + 1, n, dtype=torch.float64)
    for bi, sim in enumerate(params):
        ki = 0
        for src in sim.density_sources:
            dx = (xs - src.center[0]) / src.scale[0]
            dy = (ys - src.center[1]) / src.scale[1]
            sdf = torch.sqrt(dx**2 + dy**2) - src.radius
            weight = torch.where(fluid, (1.0 - 0.5 * (sdf + 1.0)).clamp(0.0, 1.0), 0.0)
            n0, n1 = band_limited_noise(n, src.noise_sigma, src.noise_seed)
            target = _target(weight, n0, n1, src.noise_scale, src.noise_offset, 0.0)
            initial[bi] = torch.maximum(initial[bi], target)
            if src.inflow:
                falloff[bi, ki] = weight
                a0[bi, ki] = 0.25 * src.noise_scale * n0
                a1[bi, ki] = 0.25 * src.noise_scale * n1
                c[bi, ki] = (0.5 + src.noise_offset) * src.noise_scale
                ki += 1
        for src in sim.velocity_sources:                      # later sources overwrite earlier ones
            inside = (xs - src.center[0]) ** 2 + (ys - src.center[1]) ** 2 <= src.radius**2  # (H, W)
            u_mask[bi, :, :n] |= inside
            v_mask[bi, :n, :] |= inside
            u_value[bi, :, :n] = torch.where(inside, src.velocity[0], u_value[bi, :, :n])
            v_value[bi, :n, :] = torch.where(inside, src.velocity[1], v_value[bi, :n, :])
    buoy = torch.tensor([p.buoyancy_force for p in params], dtype=torch.float64).view(b, 1, 1)
    dev, f32 = domain.device, torch.float32
    return Sources(initial=initial.to(dev, f32), falloff=falloff.to(dev, f32),
                   a0=a0.to(dev, f32), a1=a1.to(dev, f32), c=c.to(dev, f32),
                   u_mask=u_mask.to(dev), u_value=u_value.to(dev, f32), v_mask=v_mask.to(dev),
                   v_value=v_value.to(dev, f32), buoyancy=buoy.to(dev, f32), noise_anim=noise_anim)
