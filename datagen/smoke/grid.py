"""The fixed smoke domain and MAC-grid helpers (shared/notes/smoke.md, "Domain").

Layout, all simulations batched in the first dimension, ``y`` pointing up (buoyancy pushes +y)::

    density, pressure   (B, H, W)      cell (j, i) has its centre at (x, y) = (i + 0.5, j + 0.5)
    u (x-velocity)      (B, H, W + 1)  face (j, i) at (i, j + 0.5), between cells i - 1 and i
    v (y-velocity)      (B, H + 1, W)  face (j, i) at (i + 0.5, j), between cells j - 1 and j

Grid spacing 1 cell, dt = 1 (cell units, as mantaflow's solver runs with ``timestep = 1``).
Cell types as tempoGAN's generator sets them (``initDomain(boundaryWidth=1)`` plus
``setOpenBound(.., 'yY', FlagOutflow | FlagEmpty)``): a one-cell wall column at the left and at the
right, two open (outflow, pressure 0) rows at the bottom and at the top, fluid elsewhere.
"""
from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from datagen.smoke.config import OPEN_ROWS, WALL_COLS


@dataclasses.dataclass(frozen=True)
class Domain:
    """Static masks of one resolution; every tensor lives on ``device``."""

    size: int
    device: torch.device
    cell_fluid: torch.Tensor   # (H, W) bool
    cell_wall: torch.Tensor    # (H, W) bool
    cell_open: torch.Tensor    # (H, W) bool
    u_fluid: torch.Tensor      # (H, W + 1) bool: both neighbouring cells are fluid
    v_fluid: torch.Tensor      # (H + 1, W) bool
    u_wall: torch.Tensor       # (H, W + 1) bool: face touches a wall cell (normal velocity 0)
    v_wall: torch.Tensor       # (H + 1, W) bool
    v_project: torch.Tensor    # (H + 1, W) bool: faces the pressure update moves (fluid|open)

    @staticmethod
    def create(size: int, device: torch.device | str = "cpu") -> "Domain":
        device = torch.device(device)
        h = w = size
        fluid = torch.zeros(h, w, dtype=torch.bool)
        fluid[OPEN_ROWS:h - OPEN_ROWS, WALL_COLS:w - WALL_COLS] = True
        wall = torch.zeros(h, w, dtype=torch.bool)
        wall[:, :WALL_COLS] = True
        wall[:, w - WALL_COLS:] = True
        open_ = ~fluid & ~wall
        pad_x = torch.zeros(h, 1, dtype=torch.bool)
        pad_y = torch.zeros(1, w, dtype=torch.bool)
        left, right = torch.cat([pad_x, fluid], 1), torch.cat([fluid, pad_x], 1)       # (H, W+1)
        below, above = torch.cat([pad_y, fluid], 0), torch.cat([fluid, pad_y], 0)      # (H+1, W)
        wl, wr = torch.cat([pad_x | True, wall], 1), torch.cat([wall, pad_x | True], 1)
        wb, wa = torch.cat([pad_y, wall], 0), torch.cat([wall, pad_y], 0)
        ob, oa = torch.cat([pad_y, open_], 0), torch.cat([open_, pad_y], 0)
        masks = dict(
            cell_fluid=fluid, cell_wall=wall, cell_open=open_,
            u_fluid=left & right, v_fluid=below & above,
            u_wall=wl | wr, v_wall=wb | wa,
            v_project=(below & (above | oa)) | (above & ob),
        )
        return Domain(size=size, device=device, **{k: m.to(device) for k, m in masks.items()})

    @property
    def fluid_rows(self) -> slice:
        return slice(OPEN_ROWS, self.size - OPEN_ROWS)

    @property
    def fluid_cols(self) -> slice:
        return slice(WALL_COLS, self.size - WALL_COLS)

    def cell_positions(self, dtype=torch.float32):
        """(x, y) of cell centres, each (H, W)."""
        return _positions(self.size, self.size, 0.5, 0.5, self.device, dtype)

    def u_positions(self, dtype=torch.float32):
        return _positions(self.size, self.size + 1, 0.0, 0.5, self.device, dtype)

    def v_positions(self, dtype=torch.float32):
        return _positions(self.size + 1, self.size, 0.5, 0.0, self.device, dtype)


def _positions(h: int, w: int, ox: float, oy: float, device, dtype):
    y = torch.arange(h, device=device, dtype=dtype) + oy
    x = torch.arange(w, device=device, dtype=dtype) + ox
    return x.expand(h, w), y[:, None].expand(h, w)


# ---- MAC operators ------------------------------------------------------------------------

def divergence(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Cell divergence (B, H, W) of MAC velocity u (B, H, W+1), v (B, H+1, W)."""
    return u[..., 1:] - u[..., :-1] + v[..., 1:, :] - v[..., :-1, :]


def centered(u: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Velocity at cell centres: two (B, H, W) tensors."""
    return 0.5 * (u[..., :-1] + u[..., 1:]), 0.5 * (v[..., :-1, :] + v[..., 1:, :])


def _pad_x(t: torch.Tensor) -> torch.Tensor:
    return torch.cat([t[..., :1], t, t[..., -1:]], dim=-1)   # clamp-to-edge, (.., W+2)


def _pad_y(t: torch.Tensor) -> torch.Tensor:
    return torch.cat([t[..., :1, :], t, t[..., -1:, :]], dim=-2)


def v_at_u(v: torch.Tensor) -> torch.Tensor:
    """Mean of the 4 v faces around each u face: (B, H+1, W) -> (B, H, W+1)."""
    p = _pad_x(v)
    return 0.25 * (p[..., :-1, :-1] + p[..., :-1, 1:] + p[..., 1:, :-1] + p[..., 1:, 1:])


def u_at_v(u: torch.Tensor) -> torch.Tensor:
    """Mean of the 4 u faces around each v face: (B, H, W+1) -> (B, H+1, W)."""
    p = _pad_y(u)
    return 0.25 * (p[..., :-1, :-1] + p[..., :-1, 1:] + p[..., 1:, :-1] + p[..., 1:, 1:])


def set_wall_bcs(u: torch.Tensor, v: torch.Tensor, domain: Domain) -> None:
    """mantaflow's ``setWallBcs``: normal velocity 0 on every face that touches a wall (in place)."""
    u.masked_fill_(domain.u_wall, 0.0)
    v.masked_fill_(domain.v_wall, 0.0)


def extrapolate_open(u: torch.Tensor, v: torch.Tensor) -> None:
    """Zero-gradient velocity in the open rows (outflow boundary), in place.

    u rows 0..1 copy row 2, rows H-2..H-1 copy row H-3; v faces below the bottom interface face
    (j = 2) copy it, and faces above the top interface face (j = H - 2) copy that one.
    """
    h = u.shape[-2]
    u[..., :OPEN_ROWS, :] = u[..., OPEN_ROWS:OPEN_ROWS + 1, :]
    u[..., h - OPEN_ROWS:, :] = u[..., h - OPEN_ROWS - 1:h - OPEN_ROWS, :]
    v[..., :OPEN_ROWS, :] = v[..., OPEN_ROWS:OPEN_ROWS + 1, :]
    v[..., h - OPEN_ROWS + 1:, :] = v[..., h - OPEN_ROWS:h - OPEN_ROWS + 1, :]


# ---- bilinear lookup ----------------------------------------------------------------------

def bilinear(field: torch.Tensor, ox: float, oy: float, x: torch.Tensor, y: torch.Tensor,
             solid_cols: torch.Tensor | None = None, with_range: bool = False):
    """Sample ``field`` (B, h, w), whose element [j, i] sits at (ox + i, oy + j), at (x, y).

    Positions (B, h', w') are clamped to the grid (clamp-to-edge, as mantaflow's interpolation);
    the bilinear weights come from ``grid_sample`` (one fused kernel on CPU and GPU; its float32
    coordinate normalisation moves sample points by ~1e-5 cells at 256^2). With ``with_range``
    also returns the min and max of the 4 samples around each point (mantaflow's clamp mode 2)
    and whether any of them lies in a solid column (``solid_cols`` (w,) bool: the walls, which
    are whole columns at the left and right edges of this domain).
    """
    b, h, w = field.shape
    fx, fy = x - ox, y - oy                                  # border padding clamps them
    grid = torch.stack((fx * (2.0 / (w - 1)) - 1.0, fy * (2.0 / (h - 1)) - 1.0), dim=-1)
    value = F.grid_sample(field[:, None], grid.expand(b, *grid.shape[-3:]), mode="bilinear",
                          padding_mode="border", align_corners=True)[:, 0]   # (B, h', w')
    if not with_range:
        return value
    # min / max over every 2x2 block, looked up at the block whose lower corner is floor(p)
    lo = torch.minimum(torch.minimum(field[:, :-1, :-1], field[:, :-1, 1:]),
                       torch.minimum(field[:, 1:, :-1], field[:, 1:, 1:]))   # (B, h-1, w-1)
    hi = torch.maximum(torch.maximum(field[:, :-1, :-1], field[:, :-1, 1:]),
                       torch.maximum(field[:, 1:, :-1], field[:, 1:, 1:]))
    i0 = fx.floor().clamp(0, w - 2)
    j0 = fy.floor().clamp(0, h - 2)
    idx = (j0 * (w - 1) + i0).long().expand(b, *fx.shape[-2:]).reshape(b, -1)  # (B, h'*w')
    lo = lo.reshape(b, -1).gather(1, idx).view_as(value)
    hi = hi.reshape(b, -1).gather(1, idx).view_as(value)
    near_solid = None
    if solid_cols is not None:
        first, last = _free_block_range(solid_cols)
        near_solid = ((i0 < first) | (i0 > last)).expand_as(value)
    return value, lo, hi, near_solid


def _free_block_range(solid_cols: torch.Tensor) -> tuple[int, int]:
    """First and last 2-column block index touching no solid column (walls are edge columns)."""
    block = (solid_cols[:-1] | solid_cols[1:]).tolist()
    free = [i for i, s in enumerate(block) if not s]
    if not free or free != list(range(free[0], free[-1] + 1)):
        raise ValueError("solid columns must sit at the edges of the grid")
    return free[0], free[-1]
