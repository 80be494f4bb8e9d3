"""The batched smoke solver: projection, MacCormack clamp mode 2, density bounds, mass bookkeeping."""

import pytest
import torch

from datagen.smoke.advect import Advector, maccormack
from datagen.smoke.config import SmokeDataConfig
from datagen.smoke.grid import Domain, bilinear, set_wall_bcs
from datagen.smoke.pressure import Projector, max_fluid_divergence
from datagen.smoke.randomize import draw_params
from datagen.smoke.solver import SmokeSolver
from datagen.smoke.sources import Sources, build_sources

TOL = 1e-3


def random_velocity(domain, batch, seed):
    g = torch.Generator().manual_seed(seed)
    n = domain.size
    u = torch.randn(batch, n, n + 1, generator=g)
    v = torch.randn(batch, n + 1, n, generator=g)
    set_wall_bcs(u, v, domain)
    return u, v


def scene_solver(resolution, batch, solver="fast", seed=0):
    cfg = SmokeDataConfig(resolution=resolution, n_simulations=batch, seed=seed,
                          lowres_tile=resolution // 8, highres_tile=resolution // 2)
    domain = Domain.create(resolution)
    sources = build_sources([draw_params(cfg, i) for i in range(batch)], domain)
    sim = SmokeSolver(domain, sources, TOL, solver, cfg.vorticity, cfg.warmup)
    sim.initialize()
    return sim


@pytest.mark.parametrize("solver", ["fast", "cg"])
def test_projection_leaves_divergence_below_tolerance(solver):
    domain = Domain.create(48)
    u, v = random_velocity(domain, batch=3, seed=1)
    assert max_fluid_divergence(u, v, domain).max() > 1.0
    Projector(domain, solver, TOL).project(u, v)
    # max-norm over fluid cells; the faces between fluid and open rows are part of these cells
    assert max_fluid_divergence(u, v, domain).max() <= TOL


def test_projection_keeps_wall_faces_closed():
    domain = Domain.create(32)
    u, v = random_velocity(domain, batch=2, seed=2)
    Projector(domain, "fast", TOL).project(u, v)
    assert u[:, :, [0, 1, -2, -1]].abs().max() == 0


def test_cg_and_fast_solver_agree_on_random_divergences():
    domain = Domain.create(48)
    u_cg, v_cg = random_velocity(domain, batch=4, seed=3)
    u_fast, v_fast = u_cg.clone(), v_cg.clone()
    cg = Projector(domain, "cg", TOL)
    cg.project(u_cg, v_cg)
    Projector(domain, "fast", TOL).project(u_fast, v_fast)
    assert 0 < cg.last_iterations <= cg.max_iter
    for sim_u, sim_v in ((u_cg, v_cg), (u_fast, v_fast)):
        assert max_fluid_divergence(sim_u, sim_v, domain).max() <= TOL
    # both are the same projection up to the solver tolerance: the velocities differ by the
    # gradient of the pressure error A^-1 r with max|r| <= tol, a few tol at this size
    assert (u_cg - u_fast).abs().max() <= 10 * TOL
    assert (v_cg - v_fast).abs().max() <= 10 * TOL


def test_maccormack_clamp_mode_2_creates_no_new_extrema():
    domain = Domain.create(32)
    g = torch.Generator().manual_seed(4)
    phi = (torch.rand(2, 32, 32, generator=g) > 0.7).float()        # sharp steps: 0 / 1
    phi[:, 10:14, 10:14] = 2.0
    ax = 1.7 * torch.randn(2, 32, 32, generator=g)
    ay = 1.7 * torch.randn(2, 32, 32, generator=g)
    x, y = domain.cell_positions()
    everywhere = torch.ones(32, 32, dtype=torch.bool)
    new = maccormack(phi, 0.5, 0.5, x, y, ax, ay, everywhere, None)
    assert new.min() >= 0.0 and new.max() <= 2.0
    # the test is meaningful: the unclamped second-order correction does overshoot
    fwd = bilinear(phi, 0.5, 0.5, x - ax, y - ay)
    raw = fwd + 0.5 * (phi - bilinear(fwd, 0.5, 0.5, x + ax, y + ay))
    assert raw.min() < -0.05 and raw.max() > 2.05


def test_maccormack_reverts_to_forward_value_not_clipped():
    domain = Domain.create(24)
    g = torch.Generator().manual_seed(6)
    phi = torch.rand(1, 24, 24, generator=g) ** 3
    ax = 0.8 * torch.randn(1, 24, 24, generator=g)
    ay = 0.8 * torch.randn(1, 24, 24, generator=g)
    x, y = domain.cell_positions()
    everywhere = torch.ones(24, 24, dtype=torch.bool)
    new = maccormack(phi, 0.5, 0.5, x, y, ax, ay, everywhere, None)
    fwd, lo, hi, _ = bilinear(phi, 0.5, 0.5, x - ax, y - ay, with_range=True)
    raw = fwd + 0.5 * (phi - bilinear(fwd, 0.5, 0.5, x + ax, y + ay))
    outside = (raw < lo) | (raw > hi)
    assert outside.sum() > 10
    assert torch.equal(new, torch.where(outside, fwd, raw))
    # reverting is not clipping: the forward value lies strictly inside the range somewhere
    clipped = torch.minimum(torch.maximum(raw, lo), hi)
    assert (fwd - clipped)[outside].abs().max() > 1e-2


def test_density_stays_within_zero_and_max_inflow_over_a_run():
    sim = scene_solver(32, batch=2)
    for _ in range(30):
        sim.step()
        assert sim.density.min() >= 0.0
        assert sim.density.max() <= 1.0 + 1e-6            # noise is clamped to [0, 1]
    assert sim.density.max() > 0.3                         # there is smoke to speak of


def test_divergence_stays_below_tolerance_during_a_scene_run():
    sim = scene_solver(32, batch=2, solver="cg")
    for _ in range(8):
        sim.step()
        assert max_fluid_divergence(sim.u, sim.v, sim.domain).max() <= TOL


def test_mass_changes_only_by_inflow_when_nothing_moves():
    sim = scene_solver(32, batch=2)
    sim.sources.buoyancy.zero_()
    sim.sources.u_mask.zero_()
    sim.sources.v_mask.zero_()
    sim.vorticity = 0.0
    for _ in range(3):
        d = sim.step(diagnostics=True)
        assert torch.all(d["inflow"] >= 0) and torch.all(d["outflow"] == 0)
        assert torch.allclose(d["mass_after"], d["mass_before"] + d["inflow"], rtol=1e-5)


def blob_in_uniform_updraft(speed):
    """One Gaussian blob, no sources, a uniform divergence-free upward flow (walls stay closed)."""
    domain = Domain.create(32)
    sim = SmokeSolver(domain, Sources.empty(1, domain), TOL, "fast", vorticity=0.0, warmup=0)
    x, y = domain.cell_positions()
    blob = torch.exp(-((x - 16) ** 2 + (y - 14) ** 2) / (2 * 3.0**2))
    sim.density = torch.where(domain.cell_fluid, blob, 0.0)[None]
    sim.v[:, 1:-1, 1:-1] = speed
    return sim


def test_mass_leaves_only_through_the_open_boundary():
    """Whole-cell transport is exact for MacCormack: fluid mass = before - outflow, every step."""
    sim = blob_in_uniform_updraft(1.0)
    m0 = float(sim._fluid_mass())
    total_out = 0.0
    for _ in range(30):
        d = sim.step(diagnostics=True)
        assert float(d["inflow"]) == 0.0
        assert float(d["mass_after"]) == pytest.approx(float(d["mass_before"] - d["outflow"]),
                                                       abs=1e-4 * m0)
        total_out += float(d["outflow"])
    assert float(sim._fluid_mass()) < 1e-4 * m0          # the blob has left through the top
    assert total_out == pytest.approx(m0, rel=1e-3)


def test_fractional_transport_changes_mass_only_slightly():
    """MacCormack with clamp mode 2 is not conservative (neither is mantaflow's): bounded error."""
    sim = blob_in_uniform_updraft(0.7)
    for _ in range(6):                                   # the blob stays inside the fluid region
        d = sim.step(diagnostics=True)
        assert float(d["outflow"]) < 2e-2
        assert abs(float(d["advection_error"])) <= 2e-3 * float(d["mass_before"])


def test_velocity_advection_keeps_a_uniform_flow():
    domain = Domain.create(24)
    u = torch.full((1, 24, 25), 0.3)
    v = torch.full((1, 25, 24), -0.4)
    new_u, new_v = Advector(domain).velocity(u, v)
    assert torch.allclose(new_u, u, atol=1e-5) and torch.allclose(new_v, v, atol=1e-5)


def test_batched_simulations_are_independent_of_their_neighbours():
    a = scene_solver(32, batch=2, seed=5)
    b = scene_solver(32, batch=2, seed=5)
    b.density[1] = 0.3                                     # disturb the second simulation only
    for _ in range(5):
        a.step()
        b.step()
    assert torch.allclose(a.density[0], b.density[0], atol=1e-5)
    assert not torch.allclose(a.density[1], b.density[1], atol=1e-3)
