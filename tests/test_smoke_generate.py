"""End to end: the generator and its CLI on tiny settings; same seed -> bitwise-identical shards."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from datagen.shards import read_sizes, shard_pattern
from datagen.smoke.__main__ import main
from datagen.smoke.config import SmokeDataConfig
from datagen.smoke.generate import generate

TINY = dict(resolution=32, n_simulations=2, frames=3, warmup=2, lowres_tile=4, highres_tile=16,
            tiles_per_frame=3, min_tile_density=0.01, device="cpu")


def shard_bytes(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((out / "tiles").glob("*.tar"))}


@pytest.fixture(scope="module")
def run_seed0(tmp_path_factory):
    out = tmp_path_factory.mktemp("seed0")
    return out, generate(SmokeDataConfig(**TINY, seed=0), out, progress=False)


def test_writes_frames_params_shards_and_previews(run_seed0):
    out, summary = run_seed0
    assert summary["tiles"] > 0 and summary["max_divergence"] <= 1e-3
    with np.load(out / "frames" / "sim_0001.npz") as z:
        assert z["density_hr"].shape == (3, 32, 32) and z["velocity_hr"].shape == (3, 2, 32, 32)
        assert z["density_lr"].shape == (3, 8, 8) and z["velocity_lr"].shape == (3, 2, 8, 8)
        assert z["density_hr"].dtype == np.float32
    params = json.loads((out / "frames" / "sim_0001.json").read_text())
    assert params["index"] == 1 and len(params["density_sources"]) == 12
    assert sum(read_sizes(out / "tiles").values()) == summary["tiles"]
    for s in range(2):
        assert (out / "previews" / f"sim_{s:04d}.png").stat().st_size > 0
        assert (out / "previews" / f"sim_{s:04d}.mp4").stat().st_size > 0


def test_shards_decode_with_webdataset(run_seed0):
    import webdataset as wds
    out, summary = run_seed0
    url = shard_pattern(out / "tiles", "smoke-tiles")
    samples = list(wds.WebDataset(url, shardshuffle=False).decode())
    assert len(samples) == summary["tiles"]
    sample = samples[0]
    assert sample["lr.npy"].shape == (3, 4, 4) and sample["hr.npy"].shape == (3, 16, 16)
    assert sample["hr.npy"][0].mean() >= 0.01
    assert set(sample["meta.json"]) >= {"sim", "frame", "x0", "y0", "transform"}


def test_same_seed_gives_bitwise_identical_shards(run_seed0, tmp_path):
    out0, _ = run_seed0
    generate(SmokeDataConfig(**TINY, seed=0), tmp_path, progress=False)
    assert shard_bytes(tmp_path) == shard_bytes(out0)
    assert (tmp_path / "tiles" / "sizes.json").read_bytes() == (out0 / "tiles" / "sizes.json").read_bytes()


def test_different_seeds_give_different_data(run_seed0, tmp_path):
    out0, _ = run_seed0
    generate(SmokeDataConfig(**TINY, seed=1), tmp_path, progress=False)
    assert shard_bytes(tmp_path) != shard_bytes(out0)
    with np.load(out0 / "frames" / "sim_0000.npz") as a, np.load(tmp_path / "frames" / "sim_0000.npz") as b:
        assert not np.array_equal(a["density_hr"], b["density_hr"])


def test_cli_runs_end_to_end(tmp_path, capsys):
    summary = main(["--out", str(tmp_path), "--quiet", "--resolution", "32", "--n-simulations", "1",
                    "--frames", "2", "--warmup", "1", "--lowres-tile", "4", "--highres-tile", "16",
                    "--min-tile-density", "0.0", "--pressure-solver", "cg"])
    assert summary["simulations"] == 1 and summary["pressure_solver"] == "cg"
    assert json.loads(capsys.readouterr().out)["tiles"] == summary["tiles"]
    assert (tmp_path / "summary.json").exists()


def test_python_dash_m_entry_point_reports_bad_params():
    proc = subprocess.run([sys.executable, "-m", "datagen.smoke", "--out", "/nonexistent/x",
                           "--resolution", "30"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "resolution: 30 is not divisible by factor 4" in proc.stderr
