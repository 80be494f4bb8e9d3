"""Per-simulation random scene parameters, following tempoGAN's ``gen_sim_data.py`` (notes/smoke.md).

Every simulation draws from its own ``torch.Generator`` seeded with :func:`simulation_seed`, in the
generator script's order: buoyancy factor, velocity factor, noise seeds, the 12 x 14 source table,
the velocity-source count, then 10 numbers per velocity source. The result is plain data
(:class:`SimParams`) written as JSON beside the frames; :mod:`datagen.smoke.sources` turns it into
tensors. Lengths are in high-res cells, velocities in cells per step (dt = 1).
"""
from __future__ import annotations

import dataclasses

import numpy as np
import torch

from datagen.smoke.config import SmokeDataConfig

BASE_RESOLUTION = 64   # tempoGAN's velocities and noise scales are "parametrized for 64 base"


@dataclasses.dataclass(frozen=True)
class DensitySource:
    center: tuple[float, float]        # (x, y) cells
    radius: float                      # cells
    scale: tuple[float, float]         # ellipsoid axes scale (tempoGAN's ``upz``)
    inflow: bool                       # continuous inflow (every step) or only at t = 0
    noise_seed: int
    noise_sigma: float                 # cells: Gaussian filter of the band-limited noise
    noise_scale: float                 # mantaflow NoiseField.valScale
    noise_offset: float                # mantaflow NoiseField.valOffset


@dataclasses.dataclass(frozen=True)
class VelocitySource:
    center: tuple[float, float]        # (x, y) cells
    radius: float                      # cells
    velocity: tuple[float, float]      # (vx, vy) cells / step, set (not added) every step


@dataclasses.dataclass(frozen=True)
class SimParams:
    index: int
    seed: int
    buoyancy_factor: float             # U(0,1) + 0.1, switched off (0) below 0.3
    velocity_factor: float             # 1, or 1.4 + 1.5 U(0,1) when buoyancy is off
    buoyancy_force: float              # gravity * factor * resolution (mantaflow: -g dt / dx)
    density_sources: tuple[DensitySource, ...]
    velocity_sources: tuple[VelocitySource, ...]

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def simulation_seed(seed: int, index: int) -> int:
    """Independent 63-bit seed of simulation ``index`` (SeedSequence mixing, no collisions in practice)."""
    state = np.random.SeedSequence([seed, index]).generate_state(2, np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1])) & (2**63 - 1)


def draw_params(cfg: SmokeDataConfig, index: int) -> SimParams:
    seed = simulation_seed(cfg.seed, index)
    g = torch.Generator().manual_seed(seed)

    def rand(*shape: int) -> np.ndarray:
        return torch.rand(*shape, generator=g, dtype=torch.float64).numpy()

    res = float(cfg.resolution)
    buoy_fac, vel_fac = float(rand(1)[0]) + 0.1, 1.0
    if buoy_fac < 0.3:                                    # "make sure we have some sims without buoyancy"
        buoy_fac, vel_fac = 0.0, 1.4 + 1.5 * float(rand(1)[0])
    n_src = cfg.n_density_sources
    noise_seeds = torch.randint(0, 10000, (n_src,), generator=g).tolist()
    table = rand(n_src, 14)

    density_sources = []
    for n in range(n_src):
        r = table[n]
        coff = 0.4 * (r[0:2] - 0.5)                       # centre offset from (0.5, 0.5), domain units
        radius = max(r[3] * r[7] * r[12] * 0.7, 1e-6)
        while radius < 0.04:
            radius *= 1.1
        while radius > 0.45:
            radius /= 1.1
        inflow = bool(r[8] > 0.5)
        if inflow:                                        # inflows move to the lower half
            if coff[1] > -0.2:
                coff[1] -= 0.4
            coff[1] *= 0.5
        pos_scale = (BASE_RESOLUTION * 0.1 * r[7] + 1.0) * r[12]
        density_sources.append(DensitySource(
            center=(float(res * (0.5 + coff[0])), float(res * (0.5 + coff[1]))),
            radius=float(res * radius),
            scale=(float(0.95 + 0.1 * r[4]), float(0.95 + 0.1 * r[5])),
            inflow=inflow,
            noise_seed=int(noise_seeds[n]),
            # Substitute for mantaflow's wavelet noise tile (not available): Gaussian-filtered white
            # noise whose feature size shrinks with tempoGAN's posScale (blobs ~ resolution/posScale).
            noise_sigma=float(min(max(res / (4.0 * max(pos_scale, 0.5)), 1.0), res / 4.0)),
            noise_scale=0.6 + n / 12.0,
            noise_offset=float(-0.05 * r[9]),
        ))

    mode = 3 + int(torch.randint(0, 3, (1,), generator=g))   # tempoGAN's "sub" modes 3..5
    num_fac, size_fac = {3: (1, 0.9), 4: (3, 0.7), 5: (5, 0.6)}[mode]
    velocity_sources = []
    for _ in range(num_fac * 2):                              # numFac * dim: 2, 6 or 10 sources
        vr = rand(10)
        p = 0.5 + (vr[0:2] - 0.5) * 0.6
        size = (0.05 + 0.1 * vr[3]) * size_fac
        vel = -(vr[0:2] - 0.5) * 0.6 * 2.0 + (vr[4:6] - 0.5) * 0.3   # towards the middle, jittered
        vel = vel * 0.9 * 0.5 * (1.0 + 0.5 * vr[7]) * (res / BASE_RESOLUTION) * vel_fac
        velocity_sources.append(VelocitySource(
            center=(float(res * p[0]), float(res * p[1])),
            # tempoGAN: radius = size * 0.2 of the width; at least one cell so that sources do not
            # vanish at the small offline resolutions (at 256 the formula gives >= 1.5 cells).
            radius=float(max(res * size * 0.2, 1.0)),
            velocity=(float(vel[0]), float(vel[1])),
        ))

    return SimParams(index=index, seed=seed, buoyancy_factor=buoy_fac, velocity_factor=vel_fac,
                     buoyancy_force=cfg.gravity * buoy_fac * res,
                     density_sources=tuple(density_sources),
                     velocity_sources=tuple(velocity_sources))
