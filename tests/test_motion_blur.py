"""n-MNIST's motion blur: MATLAB fspecial('motion', 5, 15) applied as imfilter (paper Sec. 5.1)."""
import numpy as np
import pytest

from datagen.motion_blur import (MATLAB_EPS, apply_motion_blur, fspecial_motion,
                                 imfilter_uint8)


def reference_motion_kernel(length, theta):
    """Independent per-pixel re-derivation of MATLAB's 'motion' kernel (no half-matrix unfolding).

    For each kernel offset (u to the right, v upwards) the pixel is folded into the quadrant MATLAB
    evaluates (u * sign(cos) >= 0, v >= 0, the other half follows by point symmetry); pixels in the
    two remaining quadrants are zero. Weight = 1 - distance to the line segment, where the distance
    of pixels past the end point follows MATLAB's code (perpendicular distance combined with the
    overshoot along the line), then the weights are normalised like fspecial does.
    """
    half = (length - 1) / 2
    phi = np.radians(theta % 180)
    c, s = np.cos(phi), np.sin(phi)
    xsign = np.sign(c)
    sx = int(np.fix(half * c + xsign - length * MATLAB_EPS))
    sy = int(np.fix(half * s + 1 - length * MATLAB_EPS))
    nx, ny = abs(sx), sy
    kernel = np.zeros((2 * ny + 1, 2 * nx + 1))
    for row in range(2 * ny + 1):
        for col in range(2 * nx + 1):
            u, v = col - nx, ny - row  # pixel offset from the centre, v pointing up
            if u * xsign < 0 or v < 0:
                u, v = -u, -v  # the point-symmetric half
            if u * xsign < 0 or v < 0:
                continue  # outside both evaluated quadrants
            x, y = u, v
            perp = y * c - x * s
            if np.hypot(x, y) >= half and abs(perp) <= 1:
                along = half - abs((x + perp * s) / c)
                perp = np.hypot(perp, along)
            kernel[row, col] = max(0.0, 1 + MATLAB_EPS - abs(perp))
    return kernel / (kernel.sum() + MATLAB_EPS * length * length)


def test_nmnist_kernel_has_3x5_support():
    h = fspecial_motion(5, 15)
    assert h.shape == (3, 5)
    assert (h >= 0).all()
    assert np.count_nonzero(h) == 11  # two zero corners top-left and bottom-right, 13 - 2


def test_nmnist_kernel_sums_to_one():
    assert abs(fspecial_motion(5, 15).sum() - 1.0) < 1e-12


def test_nmnist_kernel_is_symmetric_under_180_degree_rotation():
    h = fspecial_motion(5, 15)
    np.testing.assert_array_equal(h, np.rot90(h, 2))


def test_nmnist_kernel_equals_independent_rederivation():
    np.testing.assert_allclose(fspecial_motion(5, 15), reference_motion_kernel(5, 15),
                               rtol=0, atol=1e-15)


@pytest.mark.parametrize("length, theta", [(3, 45), (7, 30), (9, 60), (6, 120), (11, 160)])
def test_other_kernels_equal_independent_rederivation(length, theta):
    np.testing.assert_allclose(fspecial_motion(length, theta),
                               reference_motion_kernel(length, theta), rtol=0, atol=1e-15)


def test_kernel_matches_matlab_printed_output_for_3_45():
    # MATLAB R20xx output of fspecial('motion', 3, 45), printed on MathWorks Answers 307822.
    matlab = np.array([[0, 0.0754, 0.1883], [0.0754, 0.3215, 0.0754], [0.1883, 0.0754, 0]])
    np.testing.assert_allclose(fspecial_motion(3, 45), matlab, atol=5e-5)


@pytest.mark.parametrize("length, theta, shape", [(9, 0, (1, 9)), (5, 90, (5, 1))])
def test_horizontal_and_vertical_motion_give_box_vectors(length, theta, shape):
    # MATLAB documents fspecial('motion') as a vector for horizontal and vertical motion.
    h = fspecial_motion(length, theta)
    assert h.shape == shape
    np.testing.assert_allclose(h, np.full(shape, 1 / length), rtol=1e-13)


def test_nmnist_kernel_points_15_degrees_counter_clockwise():
    # The weights' principal axis (x right, y up) lies near +15 degrees: heavier top-right and
    # bottom-left corners, i.e. counter-clockwise, not clockwise.
    h = fspecial_motion(5, 15)
    rows, cols = np.mgrid[:3, :5]
    u, v = cols - 2.0, 1.0 - rows
    cov = np.array([[(h * u * u).sum(), (h * u * v).sum()], [(h * u * v).sum(), (h * v * v).sum()]])
    axis = np.linalg.eigh(cov)[1][:, 1]
    angle = np.degrees(np.arctan2(axis[1], axis[0])) % 180
    assert abs(angle - 15) < 3
    assert h[0, 4] > h[0, 0] and h[2, 0] > h[2, 4]


def test_blur_of_single_bright_pixel_is_kernel_rotated_180_degrees():
    # Correlation: out(r, c) = sum_ij h(i, j) I(r + i - 1, c + j - 2), so an impulse at p gives
    # h rotated by 180 degrees around p (convolution would give h itself).
    kernel = np.arange(1.0, 16.0).reshape(3, 5)  # asymmetric, to tell correlation from convolution
    image = np.zeros((9, 11), dtype=np.uint8)
    image[4, 5] = 10
    out = imfilter_uint8(image, kernel)
    expected = np.zeros((9, 11))
    expected[3:6, 3:8] = 10 * np.rot90(kernel, 2)
    np.testing.assert_array_equal(out, np.clip(expected, 0, 255).astype(np.uint8))


def test_blur_pads_with_zeros_at_the_border():
    image = np.full((6, 8), 200, dtype=np.uint8)
    out = apply_motion_blur(image)
    h = fspecial_motion(5, 15)
    # Top-left pixel: only the kernel taps that land inside the image (rows 1-2, cols 2-4) count.
    assert out[0, 0] == int(np.floor(200 * h[1:, 2:].sum() + 0.5))
    assert out[0, 0] < 200 and out[3, 4] == 200  # interior untouched by a constant image


def test_blur_matches_zero_padded_correlation_rounded_half_away_from_zero():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(4, 28, 28), dtype=np.uint8)
    h = fspecial_motion(5, 15)
    padded = np.pad(images.astype(np.float64), ((0, 0), (1, 1), (2, 2)))  # zero padding
    expected = np.zeros(images.shape)
    for i in range(3):
        for j in range(5):
            expected += h[i, j] * padded[:, i:i + 28, j:j + 28]
    expected = np.clip(np.floor(expected + 0.5), 0, 255).astype(np.uint8)
    out = apply_motion_blur(images)
    assert out.dtype == np.uint8 and out.shape == (4, 28, 28)
    # float64 summation order may differ at exact .5 ties; allow none beyond one grey level
    assert np.abs(out.astype(int) - expected).max() <= 1
    assert (out == expected).mean() > 0.999


def test_rounding_is_half_away_from_zero_like_matlab():
    image = np.zeros((1, 3), dtype=np.uint8)
    image[0, 1] = 5
    out = imfilter_uint8(image, np.array([[0.5]]))  # 2.5 -> 3 (numpy's round would give 2)
    assert out[0, 1] == 3
