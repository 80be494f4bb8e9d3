"""``SmokeDataConfig``: every knob of the smoke data generator, validated before any work.

Defaults are the small offline values (a 64x64 plume, 2 simulations, 24 saved frames: seconds on
2 CPU cores). The paper's setting (A.4 / tempoGAN's generator, see shared/notes/smoke.md) is
``resolution=256, n_simulations=20, frames=120, warmup=20, factor=4, lowres_tile=16,
highres_tile=64``: set it in the ``paper:`` block of ``params.yaml``.

Field types are restricted to int / float / str / bool / Literal so ``pipeline.params`` can check
them; value checks raise ``ValueError("field: why")``.
"""
from __future__ import annotations

import dataclasses
from typing import Literal

# Rows of open (outflow) cells at the top and at the bottom, columns of wall at left and right
# (shared/notes/smoke.md, "Domain"). The fluid region is (resolution - 4) x (resolution - 2).
OPEN_ROWS = 2
WALL_COLS = 1
MIN_RESOLUTION = 16


@dataclasses.dataclass(frozen=True)
class SmokeDataConfig:
    # --- simulation -----------------------------------------------------------------------
    resolution: int = 64            # high-res grid is resolution x resolution cells
    n_simulations: int = 2          # all simulated together in one batched tensor
    frames: int = 24                # saved frames per simulation (paper: 120)
    warmup: int = 20                # steps simulated before the first saved frame (discarded)
    tolerance: float = 1e-3         # max-norm divergence after projection (cell units)
    pressure_solver: Literal["cg", "fast"] = "fast"  # cg: mantaflow's 2D solver; fast: exact DCT/DST
    vorticity: float = 0.05         # vorticity confinement strength during warm-up
    gravity: float = 3e-4           # tempoGAN: buoy = (0, -1e-3 * 0.3, 0) * buoyancy factor
    n_density_sources: int = 12     # noise-modulated spheres; ~half become continuous inflows
    noise_anim: float = 0.15        # phase speed (radians / step) of the band-limited inflow noise
    device: Literal["auto", "cpu", "cuda"] = "auto"
    seed: int = 0
    # --- low-res fields and GAN tiles -----------------------------------------------------
    factor: int = 4                 # low res = high res / factor (paper: 4)
    lowres_tile: int = 8            # paper: 16
    highres_tile: int = 32          # must be lowres_tile * factor (paper: 64)
    tiles_per_frame: int = 4        # random crops per saved frame and simulation
    augment: bool = True            # random flip / 90-degree rotation per tile (both resolutions)
    min_tile_density: float = 0.02  # tiles with a smaller mean high-res density are dropped
    shard_maxcount: int = 512       # tiles per webdataset shard
    # --- previews -------------------------------------------------------------------------
    preview_frames: int = 8         # frames in each PNG strip
    preview_fps: int = 12           # frame rate of the per-simulation MP4

    def __post_init__(self) -> None:
        positive = ("resolution", "n_simulations", "frames", "factor", "lowres_tile",
                    "highres_tile", "tiles_per_frame", "shard_maxcount", "preview_frames",
                    "preview_fps")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be >= 1, got {getattr(self, name)}")
        for name in ("warmup", "n_density_sources", "seed"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: must be >= 0, got {getattr(self, name)}")
        for name in ("vorticity", "gravity", "noise_anim"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: must be >= 0, got {getattr(self, name)}")
        if self.resolution < MIN_RESOLUTION:
            raise ValueError(f"resolution: must be >= {MIN_RESOLUTION}, got {self.resolution}")
        if self.resolution % self.factor:
            raise ValueError(f"resolution: {self.resolution} is not divisible by factor {self.factor}")
        if not 0 < self.tolerance < 1:
            raise ValueError(f"tolerance: must be in (0, 1), got {self.tolerance}")
        if not 0 <= self.min_tile_density < 1:
            raise ValueError(f"min_tile_density: must be in [0, 1), got {self.min_tile_density}")
        if self.highres_tile > self.resolution:
            raise ValueError(f"highres_tile: {self.highres_tile} larger than the frame "
                             f"{self.resolution}")
        if self.lowres_tile > self.lowres_resolution:
            raise ValueError(f"lowres_tile: {self.lowres_tile} larger than the low-res frame "
                             f"{self.lowres_resolution}")
        if self.highres_tile != self.lowres_tile * self.factor:
            raise ValueError(f"highres_tile: must equal lowres_tile * factor = "
                             f"{self.lowres_tile * self.factor}, got {self.highres_tile}")
        if self.pressure_solver not in ("cg", "fast"):
            raise ValueError(f"pressure_solver: must be 'cg' or 'fast', got {self.pressure_solver!r}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device: must be 'auto', 'cpu' or 'cuda', got {self.device!r}")

    @property
    def lowres_resolution(self) -> int:
        return self.resolution // self.factor

    @property
    def steps(self) -> int:
        """Simulated steps: warm-up plus one step per saved frame (dt = 1 frame)."""
        return self.warmup + self.frames
