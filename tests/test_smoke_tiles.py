"""Tiles: flips and 90-degree rotations move velocity vectors with the field; lr and hr stay paired."""
import numpy as np
import pytest

from datagen.smoke.tiles import TRANSFORM_NAMES, cut_tiles, transform

# Linear map of each code acting on (x, y), in the documented order: transpose, flip x, flip y.
T, FX, FY = np.array([[0, 1], [1, 0]]), np.diag([-1, 1]), np.diag([1, -1])


def matrix(code):
    m = np.eye(2)
    if code & 4:
        m = T @ m
    if code & 1:
        m = FX @ m
    if code & 2:
        m = FY @ m
    return m


def analytic_tile(n, fn):
    """(3, n, n) [density, vx, vy] sampled at centred coordinates (x right, y up; row = y)."""
    c = np.arange(n) - (n - 1) / 2
    x, y = np.meshgrid(c, c)                     # x varies along columns, y along rows
    d, vx, vy = fn(x, y)
    return np.stack([d, vx, vy]).astype(np.float64)


def field(x, y):                                  # no symmetry at all
    return np.exp(-(x - 1.3) ** 2 / 9 - (y + 0.7) ** 2 / 4), 0.3 * x + y**2 / 5, np.sin(x) - 0.2 * y


@pytest.mark.parametrize("code", range(8))
def test_transform_maps_the_field_and_its_vectors(code):
    """T(field)(p) = M field(M^-1 p) for density (scalar) and velocity (vector)."""
    m = matrix(code)
    mi = np.linalg.inv(m)

    def expected(x, y):
        xs, ys = mi[0, 0] * x + mi[0, 1] * y, mi[1, 0] * x + mi[1, 1] * y
        d, vx, vy = field(xs, ys)
        return d, m[0, 0] * vx + m[0, 1] * vy, m[1, 0] * vx + m[1, 1] * vy

    got = transform(analytic_tile(8, field), code)
    assert np.allclose(got, analytic_tile(8, expected), atol=1e-12)


def test_rotation_codes_are_rotations():
    for code, angle in ((5, 90), (3, 180), (6, -90)):
        rad = np.deg2rad(angle)
        rot = np.array([[np.cos(rad), -np.sin(rad)], [np.sin(rad), np.cos(rad)]])
        assert np.allclose(matrix(code), rot), TRANSFORM_NAMES[code]


def test_rigid_rotation_flow_is_kept_by_rotations_and_reversed_by_reflections():
    vortex = analytic_tile(6, lambda x, y: (x * 0 + 1, -y, x))   # counter-clockwise rotation
    for code in range(8):
        sign = 1 if code in (0, 3, 5, 6) else -1                 # reflections flip the spin
        out = transform(vortex, code)
        assert np.allclose(out[1:], sign * vortex[1:]), TRANSFORM_NAMES[code]


def test_flip_x_negates_vx_only():
    tile = analytic_tile(4, field)
    out = transform(tile, 1)
    assert np.allclose(out[1], -tile[1][:, ::-1]) and np.allclose(out[2], tile[2][:, ::-1])


def test_low_and_high_res_tiles_stay_paired():
    rng = np.random.default_rng(0)
    lr = rng.random((3, 8, 8)) + 0.1
    hr = np.kron(lr, np.ones((1, 4, 4)))                          # hr block (i, j) = lr[i, j]
    tiles, dropped = cut_tiles(lr, hr, sim=0, frame=0, n_tiles=40, lowres_tile=4, factor=4,
                               augment=True, min_density=0.0, rng=np.random.default_rng(1))
    assert dropped == 0 and len({t.code for t in tiles}) > 4
    for t in tiles:
        assert t.lr.shape == (3, 4, 4) and t.hr.shape == (3, 16, 16)
        assert np.allclose(np.kron(t.lr, np.ones((1, 4, 4))), t.hr)
        assert np.allclose(transform(lr[:, t.y0:t.y0 + 4, t.x0:t.x0 + 4], t.code), t.lr)


def test_near_empty_tiles_are_dropped():
    lr = np.zeros((3, 8, 8))
    hr = np.zeros((3, 32, 32))
    hr[0, :16, :16] = 1.0                                          # smoke in one quarter only
    tiles, dropped = cut_tiles(lr, hr, 0, 0, n_tiles=50, lowres_tile=2, factor=4, augment=False,
                               min_density=0.02, rng=np.random.default_rng(2))
    assert dropped > 0 and len(tiles) + dropped == 50
    assert all(t.hr[0].mean() >= 0.02 for t in tiles)
