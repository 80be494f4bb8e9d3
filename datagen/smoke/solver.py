"""The batched Stam smoke solver: one step is tempoGAN's high-res loop (shared/notes/smoke.md).

State, B simulations at once on any torch device::

    density (B, H, W)   u (B, H, W+1)   v (B, H+1, W)      (layout in datagen.smoke.grid)

Step t (dt = 1, cell units):
    1. density = max(density, inflow target)         continuous sources only
    2. (u, v) = MacCormack(u, v) by the old velocity  clamp mode 2; zero-gradient in the open rows
    3. wall boundary conditions
    4. buoyancy                                       faces between two fluid cells
    5. velocity sources (set)
    6. vorticity confinement                          only while t < warmup
    7. pressure projection to max |div| <= tolerance  CG (reference) or the exact fast solver
    8. wall boundary conditions
    9. density = MacCormack(density) by the new velocity; what lands in the open rows leaves the
       domain (outflow) and wall cells hold 0.
"""
from __future__ import annotations

import torch

from datagen.smoke.advect import Advector
from datagen.smoke.forces import add_buoyancy, set_velocity_sources, vorticity_confinement
from datagen.smoke.grid import Domain, extrapolate_open, set_wall_bcs
from datagen.smoke.pressure import Projector
from datagen.smoke.sources import Sources


class SmokeSolver:
    def __init__(self, domain: Domain, sources: Sources, tolerance: float = 1e-3,
                 pressure_solver: str = "fast", vorticity: float = 0.05, warmup: int = 20):
        self.domain, self.sources = domain, sources
        self.vorticity, self.warmup = vorticity, warmup
        self.advector = Advector(domain)
        self.projector = Projector(domain, pressure_solver, tolerance)
        b, n, dev = sources.batch, domain.size, domain.device
        self.density = torch.zeros(b, n, n, device=dev)               # (B, H, W)
        self.u = torch.zeros(b, n, n + 1, device=dev)                 # (B, H, W+1)
        self.v = torch.zeros(b, n + 1, n, device=dev)                 # (B, H+1, W)
        self.t = 0

    def initialize(self) -> None:
        """tempoGAN applies every density source once before the loop (noise time 0)."""
        self.density = torch.maximum(self.density, self.sources.initial)

    def step(self, diagnostics: bool = False) -> dict[str, torch.Tensor] | None:
        """Advance all simulations by one step; with ``diagnostics``, mass bookkeeping (B,) each."""
        dom, t = self.domain, self.t
        mass_before = self._fluid_mass() if diagnostics else None
        # 1. inflow, max semantics
        self.density = torch.maximum(self.density, self.sources.density_target(t))
        mass_inflow = self._fluid_mass() if diagnostics else None
        # 2.-3. self-advection of the velocity, open rows extrapolated, walls
        self.u, self.v = self.advector.velocity(self.u, self.v)
        extrapolate_open(self.u, self.v)
        set_wall_bcs(self.u, self.v, dom)
        # 4.-6. forces
        add_buoyancy(self.v, self.density, self.sources.buoyancy, dom)
        set_velocity_sources(self.u, self.v, self.sources)
        if t < self.warmup and self.vorticity > 0:
            vorticity_confinement(self.u, self.v, self.vorticity, dom)
        # 7.-8. projection
        self.projector.project(self.u, self.v)
        set_wall_bcs(self.u, self.v, dom)
        # 9. density by the divergence-free velocity; open cells empty out (outflow), walls hold 0
        advected = self.advector.density(self.density, self.u, self.v)
        outflow = torch.where(dom.cell_open, advected, 0.0).sum(dim=(-2, -1)) if diagnostics else None
        self.density = torch.where(dom.cell_fluid, advected, 0.0)
        self.t += 1
        if not diagnostics:
            return None
        mass_after = self._fluid_mass()
        return {"mass_before": mass_before, "inflow": mass_inflow - mass_before,
                "outflow": outflow, "mass_after": mass_after,
                "advection_error": mass_after - (mass_inflow - outflow)}

    def _fluid_mass(self) -> torch.Tensor:
        return torch.where(self.domain.cell_fluid, self.density, 0.0).sum(dim=(-2, -1))  # (B,)
