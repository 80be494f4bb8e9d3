"""One generation run: simulate every scene (batched), down-sample, cut tiles, write everything.

Output layout of ``generate(cfg, out)``::

    out/frames/sim_0000.npz     density_hr (T, R, R), velocity_hr (T, 2, R, R), density_lr
                                (T, r, r), velocity_lr (T, 2, r, r); float32, y up, cell-centred
                                velocity in cells per step of each grid (r = R / factor)
    out/frames/sim_0000.json    the simulation's seed and random scene (randomize.SimParams)
    out/tiles/smoke-tiles-000000.tar ... + sizes.json
                                webdataset samples {key}.lr.npy (3, t, t), {key}.hr.npy
                                (3, t*factor, t*factor) [density, vx, vy], {key}.meta.json
    out/previews/sim_0000.png, sim_0000.mp4
    out/summary.json            counts and timings (also returned)

Same config (seed included) on CPU -> bitwise-identical shards.
"""
from __future__ import annotations

import io
import json
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from datagen.shards import write_shards
from datagen.smoke.config import SmokeDataConfig
from datagen.smoke.downsample import downsample
from datagen.smoke.grid import Domain, centered
from datagen.smoke.pressure import max_fluid_divergence
from datagen.smoke.previews import write_strip, write_video
from datagen.smoke.randomize import draw_params
from datagen.smoke.solver import SmokeSolver
from datagen.smoke.sources import build_sources
from datagen.smoke.tiles import cut_tiles

TILE_STREAM, SHUFFLE_STREAM = 1, 2     # SeedSequence stream ids next to the simulation seeds
SHARD_PREFIX = "smoke-tiles"


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device: 'cuda' requested but torch sees no GPU")
    return torch.device(name)


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def simulate(cfg: SmokeDataConfig, device: torch.device, progress: bool = True):
    """Run all simulations; returns (params, frames dict of numpy arrays (B, T, ...), stats)."""
    b, n, r, t_frames = cfg.n_simulations, cfg.resolution, cfg.lowres_resolution, cfg.frames
    domain = Domain.create(n, device)
    params = [draw_params(cfg, i) for i in range(b)]
    sources = build_sources(params, domain, cfg.noise_anim)
    solver = SmokeSolver(domain, sources, cfg.tolerance, cfg.pressure_solver, cfg.vorticity,
                         cfg.warmup)
    frames = {"density_hr": np.zeros((b, t_frames, n, n), np.float32),
              "velocity_hr": np.zeros((b, t_frames, 2, n, n), np.float32),
              "density_lr": np.zeros((b, t_frames, r, r), np.float32),
              "velocity_lr": np.zeros((b, t_frames, 2, r, r), np.float32)}
    max_div, iterations, step_seconds = 0.0, 0, 0.0
    solver.initialize()
    for t in tqdm(range(cfg.steps), desc=f"smoke {n}x{n} x{b}", unit="step", disable=not progress):
        _sync(device)
        start = time.perf_counter()
        solver.step()
        _sync(device)
        step_seconds += time.perf_counter() - start
        iterations += solver.projector.last_iterations
        max_div = max(max_div, float(max_fluid_divergence(solver.u, solver.v, domain).max()))
        if t < cfg.warmup:
            continue
        f = t - cfg.warmup
        uc, vc = centered(solver.u, solver.v)
        vel = torch.stack([uc, vc], dim=1)                               # (B, 2, R, R)
        d_lr, v_lr = downsample(solver.density, vel, cfg.factor)         # (B, r, r), (B, 2, r, r)
        frames["density_hr"][:, f] = solver.density.cpu().numpy()
        frames["velocity_hr"][:, f] = vel.cpu().numpy()
        frames["density_lr"][:, f] = d_lr.cpu().numpy()
        frames["velocity_lr"][:, f] = v_lr.cpu().numpy()
    stats = {"seconds_simulation": step_seconds, "max_divergence": max_div,
             "mean_pressure_iterations": iterations / cfg.steps}
    return params, frames, stats


def make_tiles(cfg: SmokeDataConfig, frames: dict[str, np.ndarray]) -> tuple[list[dict], int]:
    """Cut, augment and shuffle the GAN tiles; returns (webdataset samples, dropped count)."""
    samples, dropped = [], 0
    for s in range(cfg.n_simulations):
        rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, s, TILE_STREAM]))
        for f in range(cfg.frames):
            lr = np.concatenate([frames["density_lr"][s, f, None], frames["velocity_lr"][s, f]])
            hr = np.concatenate([frames["density_hr"][s, f, None], frames["velocity_hr"][s, f]])
            kept, n_dropped = cut_tiles(lr, hr, s, f, cfg.tiles_per_frame, cfg.lowres_tile,
                                        cfg.factor, cfg.augment, cfg.min_tile_density, rng)
            dropped += n_dropped
            for tile in kept:
                meta = {"sim": tile.sim, "frame": tile.frame, "x0": tile.x0, "y0": tile.y0,
                        "transform": tile.code, "factor": cfg.factor}
                samples.append({"__key__": tile.key, "lr.npy": _npy(tile.lr),
                                "hr.npy": _npy(tile.hr),
                                "meta.json": json.dumps(meta, sort_keys=True).encode()})
    order = np.random.default_rng(np.random.SeedSequence([cfg.seed, SHUFFLE_STREAM]))
    order = order.permutation(len(samples))
    return [samples[i] for i in order], dropped


def generate(cfg: SmokeDataConfig, out_dir: str | Path, progress: bool = True) -> dict:
    """The whole run (see the module docstring); returns the summary dict."""
    t0 = time.perf_counter()
    out = Path(out_dir)
    device = resolve_device(cfg.device)
    params, frames, stats = simulate(cfg, device, progress)

    frames_dir = out / "frames"
    frames_dir.mkdir(parents=True, exist_ok=True)
    for s, p in enumerate(params):
        np.savez_compressed(frames_dir / f"sim_{s:04d}.npz", **{k: v[s] for k, v in frames.items()})
        (frames_dir / f"sim_{s:04d}.json").write_text(json.dumps(p.to_json(), indent=1) + "\n")

    samples, dropped = make_tiles(cfg, frames)
    if not samples:
        raise ValueError(f"min_tile_density: no tile reached a mean density of "
                         f"{cfg.min_tile_density} ({dropped} dropped); lower it or add frames")
    sizes = write_shards(samples, out / "tiles", SHARD_PREFIX, cfg.shard_maxcount,
                         min_shards=min(2, len(samples)))

    previews_dir = out / "previews"
    previews_dir.mkdir(parents=True, exist_ok=True)
    for s in range(cfg.n_simulations):
        d_hr, d_lr = frames["density_hr"][s], frames["density_lr"][s]
        write_strip(previews_dir / f"sim_{s:04d}.png", d_hr, d_lr, cfg.preview_frames)
        write_video(previews_dir / f"sim_{s:04d}.mp4", d_hr, d_lr, cfg.preview_fps)

    sim_seconds = stats["seconds_simulation"]
    summary = {
        "device": str(device), "simulations": cfg.n_simulations, "resolution": cfg.resolution,
        "lowres_resolution": cfg.lowres_resolution, "frames": cfg.frames, "steps": cfg.steps,
        "tiles": len(samples), "tiles_dropped": dropped, "shards": len(sizes),
        "seconds_total": time.perf_counter() - t0, "seconds_simulation": sim_seconds,
        "seconds_per_step": sim_seconds / cfg.steps,
        "steps_per_second": cfg.steps / sim_seconds,                      # batched steps
        "simulation_steps_per_second": cfg.steps * cfg.n_simulations / sim_seconds,
        "max_divergence": stats["max_divergence"],
        "mean_pressure_iterations": stats["mean_pressure_iterations"],
        "pressure_solver": cfg.pressure_solver,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary
