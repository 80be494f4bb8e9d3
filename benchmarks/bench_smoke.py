"""Smoke solver throughput: seconds per step at 64^2, 128^2, 256^2 (20 batched simulations), growth
with resolution, CG vs the fast exact pressure solver, and PhiFlow 3.4 on the same simple plume.

    .venv/bin/python benchmarks/bench_smoke.py            # about 3-5 minutes on 2 CPU cores
    .venv/bin/python benchmarks/bench_smoke.py --quick    # fewer steps, no CG at 256^2

Not a test: it prints a table and ratios. Each configuration first runs ``--warm`` steps with the
fast solver so that the timed steps see a developed flow (CG iteration counts grow with it), then
times ``--steps`` steps with each pressure solver from that same state.

PhiFlow scene (the same on our side is one simulation of our solver): a 256x256 grid, walls left
and right (velocity extrapolation ZERO), open top and bottom (BOUNDARY, pressure 0), a sphere
inflow, buoyancy, ``advect.mac_cormack`` for density and velocity, ``fluid.make_incompressible``
with ``Solve('CG', abs_tol=1e-3, rel_tol=0, rank_deficiency=0)``, torch backend, CPU, one thread
count for both. Throughput = simulation steps per second; ratio = ours / PhiFlow.
"""
from __future__ import annotations

import argparse
import copy
import time

import torch

from datagen.smoke.config import SmokeDataConfig
from datagen.smoke.grid import Domain
from datagen.smoke.pressure import Projector
from datagen.smoke.randomize import draw_params
from datagen.smoke.solver import SmokeSolver
from datagen.smoke.sources import build_sources


def make_solver(resolution: int, batch: int) -> SmokeSolver:
    cfg = SmokeDataConfig(resolution=resolution, n_simulations=batch, lowres_tile=4,
                          highres_tile=16)
    domain = Domain.create(resolution)
    sources = build_sources([draw_params(cfg, i) for i in range(batch)], domain)
    sim = SmokeSolver(domain, sources, cfg.tolerance, "fast", cfg.vorticity, cfg.warmup)
    sim.initialize()
    return sim


def time_steps(sim: SmokeSolver, solver: str, steps: int) -> tuple[float, float]:
    """Seconds per step and mean pressure iterations with ``solver``, on a copy of the state."""
    sim = copy.copy(sim)
    sim.density, sim.u, sim.v = sim.density.clone(), sim.u.clone(), sim.v.clone()
    sim.projector = Projector(sim.domain, solver, sim.projector.tol)
    iters = 0
    start = time.perf_counter()
    for _ in range(steps):
        sim.step()
        iters += sim.projector.last_iterations
    return (time.perf_counter() - start) / steps, iters / steps


def ours(resolutions, batch, warm, steps, cg_max_res):
    rows = {}
    for n in resolutions:
        sim = make_solver(n, batch)
        for _ in range(warm):
            sim.step()
        fast = time_steps(sim, "fast", steps)
        cg = time_steps(sim, "cg", max(1, steps // 2)) if n <= cg_max_res else (float("nan"), 0)
        rows[n] = {"fast": fast, "cg": cg}
        print(f"ours  {n:4d}^2 x{batch:2d}: fast {fast[0]:8.4f} s/step | "
              f"cg {cg[0]:8.4f} s/step ({cg[1]:.0f} iterations)", flush=True)
    return rows


def phiflow_plume(n: int, steps: int, warm: int):
    """Seconds per step of PhiFlow 3.4 (torch backend) on a simple plume, or None if missing."""
    try:
        from phi.torch.flow import (Box, CenteredGrid, Solve, Sphere, StaggeredGrid, advect,
                                    extrapolation, fluid, math, resample)
    except ImportError as err:
        print(f"phiflow not importable ({err}); skipping the comparison")
        return None
    bounds = Box(x=n, y=n)
    vel_bc = extrapolation.combine_sides(x=extrapolation.ZERO, y=extrapolation.BOUNDARY)
    velocity = StaggeredGrid(0, vel_bc, bounds, x=n, y=n)
    smoke = CenteredGrid(0, extrapolation.ZERO, bounds, x=n, y=n)
    inflow = resample(Sphere(x=n / 2, y=n / 8, radius=n / 16), to=smoke, soft=True)
    solve = Solve("CG", rel_tol=0, abs_tol=1e-3, max_iterations=8 * n, rank_deficiency=0)
    force = 3e-4 * 0.5 * n                                    # our buoyancy for factor 0.5

    @math.jit_compile
    def step(v, s):
        s = advect.mac_cormack(s, v, dt=1.0)
        s = s.with_values(math.maximum(s.values, inflow.values))   # max semantics, as ours
        v = advect.mac_cormack(v, v, dt=1.0) + resample(s * (0, force), to=v)
        v, _ = fluid.make_incompressible(v, (), solve)
        return v, s

    for _ in range(warm):
        velocity, smoke = step(velocity, smoke)
    start = time.perf_counter()
    for _ in range(steps):
        velocity, smoke = step(velocity, smoke)
    math.assert_close(0, 0)                                   # forces pending work to finish
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=20, help="simulations per batched step")
    parser.add_argument("--warm", type=int, default=4, help="untimed steps before timing")
    parser.add_argument("--steps", type=int, default=4, help="timed steps per configuration")
    parser.add_argument("--quick", action="store_true", help="2 timed steps, CG only up to 128^2")
    args = parser.parse_args()
    steps = 2 if args.quick else args.steps
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")

    rows = ours((64, 128, 256), args.batch, args.warm, steps, 128 if args.quick else 256)
    print("\ngrowth with resolution (fast solver; x4 cells each row):")
    for lo, hi in ((64, 128), (128, 256)):
        print(f"  {lo}->{hi}: x{rows[hi]['fast'][0] / rows[lo]['fast'][0]:.2f} time per step")
    for n, row in rows.items():
        if row["cg"][0] == row["cg"][0]:                      # not NaN
            print(f"  CG / fast at {n}^2: x{row['cg'][0] / row['fast'][0]:.1f}")

    single = make_solver(256, 1)
    for _ in range(args.warm):
        single.step()
    one_fast = time_steps(single, "fast", steps)[0]
    one_cg = time_steps(single, "cg", max(1, steps // 2))[0]
    phi = phiflow_plume(256, steps=steps, warm=2)
    print("\nat 256^2, simulation steps per second (higher is better):")
    table = {f"ours fast, batch {args.batch}": args.batch / rows[256]["fast"][0],
             f"ours cg, batch {args.batch}": args.batch / rows[256]["cg"][0],
             "ours fast, 1 simulation": 1 / one_fast,
             "ours cg, 1 simulation": 1 / one_cg}
    if phi is not None:
        table["phiflow 3.4 (torch, CG), 1 simulation"] = 1 / phi
    for name, rate in table.items():
        ratio = f"  x{rate * phi:.1f} PhiFlow" if phi is not None and rate == rate else ""
        print(f"  {name:42s} {rate:9.3f}{ratio}")


if __name__ == "__main__":
    main()
