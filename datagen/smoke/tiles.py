"""Paired low-res / high-res GAN tiles with flip and 90-degree rotation augmentation (A.4).

A tile is a (3, t, t) float32 array: channel 0 density, 1 x-velocity, 2 y-velocity (cell-centred,
cells per step of its own grid), indexed [y, x] with y up. The high-res tile covers exactly the
area of the low-res one (offsets and sizes times the factor), and both get the same transform.

The 8 transforms of the square (dihedral group) are coded by 3 bits, applied in this order:
    4: transpose  (x, y) -> (y, x):  field swaps axes, velocity swaps components
    1: flip x     (x, y) -> (-x, y): field reversed along x, vx negated
    2: flip y     (x, y) -> (x, -y): field reversed along y, vy negated
so 5 (transpose, then flip x) is a 90-degree counter-clockwise rotation, 3 is 180 degrees and 6
is 90 degrees clockwise. Vectors transform with the field, so a rotated flow stays the same flow
seen rotated (tests check it on analytic fields).
"""
from __future__ import annotations

import dataclasses

import numpy as np

TRANSFORM_NAMES = {0: "identity", 1: "flip_x", 2: "flip_y", 3: "rot180", 4: "transpose",
                   5: "rot90_ccw", 6: "rot90_cw", 7: "anti_transpose"}


def transform(tile: np.ndarray, code: int) -> np.ndarray:
    """Apply dihedral transform ``code`` (0..7) to a (3, h, w) [density, vx, vy] array (copy)."""
    out = np.array(tile, copy=True)
    if code & 4:
        out = out.swapaxes(-1, -2)[[0, 2, 1]]
    if code & 1:
        out = out[..., ::-1]
        out[1] = -out[1]
    if code & 2:
        out = out[..., ::-1, :]
        out[2] = -out[2]
    return np.ascontiguousarray(out)


@dataclasses.dataclass(frozen=True)
class Tile:
    sim: int
    frame: int
    index: int
    x0: int                # low-res offset of the tile (high-res offset = x0 * factor)
    y0: int
    code: int              # dihedral transform applied
    lr: np.ndarray         # (3, lowres_tile, lowres_tile) float32
    hr: np.ndarray         # (3, highres_tile, highres_tile) float32

    @property
    def key(self) -> str:
        return f"s{self.sim:04d}f{self.frame:04d}t{self.index:02d}"


def cut_tiles(lr: np.ndarray, hr: np.ndarray, sim: int, frame: int, n_tiles: int, lowres_tile: int,
              factor: int, augment: bool, min_density: float,
              rng: np.random.Generator) -> tuple[list[Tile], int]:
    """Random paired crops of one frame: lr (3, r, r), hr (3, R, R). Returns (kept, dropped).

    Every tile draws its offset and transform from ``rng`` whether or not it is kept, so the
    random stream does not depend on the data.
    """
    r = lr.shape[-1]
    t_lr, t_hr = lowres_tile, lowres_tile * factor
    kept, dropped = [], 0
    for k in range(n_tiles):
        x0, y0 = (int(v) for v in rng.integers(0, r - t_lr + 1, size=2))
        code = int(rng.integers(0, 8)) if augment else 0
        hr_tile = hr[:, y0 * factor:y0 * factor + t_hr, x0 * factor:x0 * factor + t_hr]
        if float(hr_tile[0].mean()) < min_density:     # near-empty: nothing for the GAN to learn
            dropped += 1
            continue
        lr_tile = lr[:, y0:y0 + t_lr, x0:x0 + t_lr]
        kept.append(Tile(sim, frame, k, x0, y0, code,
                         transform(lr_tile, code).astype(np.float32),
                         transform(hr_tile, code).astype(np.float32)))
    return kept, dropped
