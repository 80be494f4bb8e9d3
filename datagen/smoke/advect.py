"""MacCormack advection with mantaflow's clamp mode 2 (shared/notes/smoke.md, "MacCormack").

For a quantity ``phi`` sampled at fixed points P (cell centres for density, each MAC component at
its own faces) and the velocity ``a`` at those points::

    fwd = phi(P - dt a)                 semi-Lagrangian, first-order Euler back-trace, bilinear
    bwd = fwd(P + dt a)                 the same step backwards in time
    new = fwd + 0.5 (phi - bwd)         only where ``correct`` (fluid cells / fluid-fluid faces)
    new = fwd   if new is outside [min, max] of the 4 samples of phi around P - dt a,
                or if one of them is solid (next to walls: first order)

Because ``fwd`` is a convex combination of those 4 samples, the result never leaves their range:
no new extrema, so density stays within [0, max inflow].
"""
from __future__ import annotations

import torch

from datagen.smoke.grid import Domain, bilinear, u_at_v, v_at_u


def maccormack(phi: torch.Tensor, ox: float, oy: float, px: torch.Tensor, py: torch.Tensor,
               ax: torch.Tensor, ay: torch.Tensor, correct: torch.Tensor,
               solid_cols: torch.Tensor | None, dt: float = 1.0) -> torch.Tensor:
    """Advect ``phi`` (B, h, w) located at (ox + i, oy + j); P = (px, py) (h, w), a (B, h, w).

    ``correct`` (h, w) bool: where the second-order correction applies; ``solid_cols`` (w,) bool.
    """
    sx, sy = px - dt * ax, py - dt * ay                      # back-traced source points (B, h, w)
    fwd, lo, hi, near_solid = bilinear(phi, ox, oy, sx, sy, solid_cols, with_range=True)
    bwd = bilinear(fwd, ox, oy, px + dt * ax, py + dt * ay)
    new = torch.where(correct, fwd + 0.5 * (phi - bwd), fwd)
    revert = (new < lo) | (new > hi)                         # clamp mode 2: revert, don't clip
    if near_solid is not None:
        revert |= near_solid
    return torch.where(revert, fwd, new)


def semi_lagrangian(phi: torch.Tensor, ox: float, oy: float, px: torch.Tensor, py: torch.Tensor,
                    ax: torch.Tensor, ay: torch.Tensor, dt: float = 1.0) -> torch.Tensor:
    """First-order step alone (used by tests as the reference of ``fwd``)."""
    return bilinear(phi, ox, oy, px - dt * ax, py - dt * ay)


class Advector:
    """Caches sample positions of one domain; advects density and MAC velocity (B, ...) tensors."""

    def __init__(self, domain: Domain, dtype=torch.float32):
        self.domain = domain
        self.cx, self.cy = domain.cell_positions(dtype)      # (H, W)
        self.ux, self.uy = domain.u_positions(dtype)         # (H, W+1)
        self.vx, self.vy = domain.v_positions(dtype)         # (H+1, W)
        # walls are whole columns: one row of each mask describes them, (W,) / (W+1,) / (W,)
        self.cell_solid, self.u_solid, self.v_solid = (
            domain.cell_wall[0], domain.u_wall[domain.size // 2], domain.v_wall[domain.size // 2])

    def density(self, d: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """d (B, H, W) by the MAC velocity; correction in fluid cells, first order next to walls."""
        dom = self.domain
        ax = 0.5 * (u[..., :-1] + u[..., 1:])
        ay = 0.5 * (v[..., :-1, :] + v[..., 1:, :])
        return maccormack(d, 0.5, 0.5, self.cx, self.cy, ax, ay, dom.cell_fluid, self.cell_solid)

    def velocity(self, u: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Self-advection of the MAC velocity; each component at its own face positions.

        Both components are traced through the *old* velocity (mantaflow advects a copy).
        """
        dom = self.domain
        new_u = maccormack(u, 0.0, 0.5, self.ux, self.uy, u, v_at_u(v), dom.u_fluid, self.u_solid)
        new_v = maccormack(v, 0.5, 0.0, self.vx, self.vy, u_at_v(u), v, dom.v_fluid, self.v_solid)
        return new_u, new_v
