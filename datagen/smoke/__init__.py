"""2D smoke data for the paper's Sec. 5.3 / A.4, following mantaflow / tempoGAN's generator
(shared/notes/smoke.md): a batched MAC-grid Stam solver in PyTorch (``solver.py``), x4
down-sampling (``downsample.py``), paired GAN tiles with flip / rotation augmentation
(``tiles.py``), webdataset shards and previews (``generate.py``). No DVC or MLflow here.

Where we differ from mantaflow / tempoGAN, and why:
- Inflow noise: mantaflow's wavelet-noise tile is not available; each source uses Gaussian-filtered
  white noise (sigma = resolution / (4 posScale), 1..resolution/4 cells), animated by rotating
  between two independent fields, mapped as ``clamp((0.5 + 0.25 n + offset) * scale, 0, 1)``.
- Scales: tempoGAN's velocities are "parametrized for 64 base" and multiplied by 4 at 256^2; we
  multiply by resolution / 64 (the same at 256^2). Velocity-source radii are at least one cell so
  that sources do not vanish at the offline 64^2 (at 256^2 the formula already gives >= 1.5).
- Open rows: density advected into them leaves the domain (set to 0, counted as outflow);
  velocity there is extrapolated with zero gradient; pressure is 0 (Dirichlet).
- MacCormack falls back to the forward value when one of the 4 source samples lies in a wall
  (first order next to walls) besides mantaflow's fluid-only correction. Like mantaflow's, the
  scheme is not mass-conservative (tests bound the error; whole-cell transport is exact).
- Saved velocities are cell-centred (mantaflow's npz holds raw MAC components) so that flips and
  rotations of tiles transform them exactly.
- Pressure: the default ``fast`` solver is exact for this fixed domain; ``cg`` is mantaflow's 2D
  plain CG (restarted on the true residual when float32 drift would leave it above tolerance).
"""
from datagen.smoke.config import SmokeDataConfig
from datagen.smoke.generate import generate

__all__ = ["SmokeDataConfig", "generate"]
