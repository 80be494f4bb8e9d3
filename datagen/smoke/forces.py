"""Body forces on the MAC velocity, as mantaflow's plugins compute them (all in place, batched).

- :func:`add_buoyancy` (``addBuoyancy``): ``v(j) += f * 0.5 (d(j) + d(j-1))`` on faces between two
  fluid cells, f = -gravity * dt / dx (notes step 4), one value per simulation.
- :func:`set_velocity_sources` (``Shape.applyToGrid``): overwrite, not add (notes step 5).
- :func:`vorticity_confinement` (``vorticityConfinement``, strength 0.05 during warm-up, step 6):
  w = curl of the centred velocity (central differences), N = grad|w| / |grad|w||,
  force = strength * N x w, averaged onto the faces between two fluid cells.
"""
from __future__ import annotations

import torch

from datagen.smoke.grid import Domain, centered
from datagen.smoke.sources import Sources


def add_buoyancy(v: torch.Tensor, density: torch.Tensor, force: torch.Tensor, domain: Domain) -> None:
    """v (B, H+1, W), density (B, H, W), force (B, 1, 1)."""
    face_density = 0.5 * (density[:, 1:] + density[:, :-1])          # faces 1..H-1, (B, H-1, W)
    v[:, 1:-1] += torch.where(domain.v_fluid[1:-1], force * face_density, 0.0)


def set_velocity_sources(u: torch.Tensor, v: torch.Tensor, sources: Sources) -> None:
    u.copy_(torch.where(sources.u_mask, sources.u_value, u))
    v.copy_(torch.where(sources.v_mask, sources.v_value, v))


def _central(t: torch.Tensor, dim: int) -> torch.Tensor:
    """0.5 (t[k+1] - t[k-1]) on interior cells, 0 on the border (mantaflow kernels use bnd=1)."""
    out = torch.zeros_like(t)
    n = t.shape[dim]
    inner = out.narrow(dim, 1, n - 2)
    inner.copy_(0.5 * (t.narrow(dim, 2, n - 2) - t.narrow(dim, 0, n - 2)))
    return out


def vorticity_confinement(u: torch.Tensor, v: torch.Tensor, strength: float, domain: Domain) -> None:
    uc, vc = centered(u, v)                                            # (B, H, W) each
    curl = _central(vc, -1) - _central(uc, -2)                         # z-vorticity (B, H, W)
    mag = curl.abs()
    gx, gy = _central(mag, -1), _central(mag, -2)
    length = torch.sqrt(gx * gx + gy * gy)
    inv = torch.where(length > 1e-12, 1.0 / length.clamp_min(1e-12), 0.0)
    fx = strength * gy * inv * curl                                    # (N x w)_x = Ny w
    fy = -strength * gx * inv * curl                                   # (N x w)_y = -Nx w
    u[..., 1:-1] += torch.where(domain.u_fluid[:, 1:-1], 0.5 * (fx[..., :-1] + fx[..., 1:]), 0.0)
    v[:, 1:-1] += torch.where(domain.v_fluid[1:-1], 0.5 * (fy[:, :-1] + fy[:, 1:]), 0.0)
