"""SmokeDataConfig and the CLI reject impossible settings with a clear message, before any work."""
import pytest

from datagen.smoke.__main__ import parse_args
from datagen.smoke.config import SmokeDataConfig


def test_defaults_are_valid_and_small():
    cfg = SmokeDataConfig()
    assert cfg.resolution <= 64 and cfg.n_simulations <= 4
    assert cfg.highres_tile == cfg.lowres_tile * cfg.factor


def test_paper_setting_is_valid():
    cfg = SmokeDataConfig(resolution=256, n_simulations=20, frames=120, warmup=20, factor=4,
                          lowres_tile=16, highres_tile=64)
    assert cfg.lowres_resolution == 64 and cfg.steps == 140


@pytest.mark.parametrize("kwargs, message", [
    (dict(resolution=250), "resolution: 250 is not divisible by factor 4"),
    (dict(resolution=256, lowres_tile=75, highres_tile=300), "highres_tile: 300 larger than the frame 256"),
    (dict(resolution=64, lowres_tile=32, highres_tile=128), "highres_tile: 128 larger than the frame 64"),
    (dict(n_simulations=0), "n_simulations: must be >= 1"),
    (dict(frames=0), "frames: must be >= 1"),
    (dict(lowres_tile=8, highres_tile=30), "highres_tile: must equal lowres_tile * factor = 32"),
    (dict(tolerance=0.0), "tolerance: must be in (0, 1)"),
    (dict(min_tile_density=1.5), "min_tile_density: must be in [0, 1)"),
    (dict(pressure_solver="jacobi"), "pressure_solver: must be 'cg' or 'fast'"),
])
def test_bad_values_name_the_field(kwargs, message):
    with pytest.raises(ValueError) as err:
        SmokeDataConfig(**kwargs)
    assert str(err.value).startswith(message)


def test_cli_rejects_bad_values_before_any_work(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["--out", str(tmp_path / "out"), "--resolution", "250"])
    assert exit_info.value.code == 2
    assert "resolution: 250 is not divisible by factor 4" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_cli_options_map_onto_the_config(tmp_path):
    cfg, args = parse_args(["--out", str(tmp_path), "--resolution", "32", "--lowres-tile", "4",
                            "--highres-tile", "16", "--pressure-solver", "cg", "--no-augment"])
    assert (cfg.resolution, cfg.pressure_solver, cfg.augment) == (32, "cg", False)
