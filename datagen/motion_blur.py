"""Linear motion blur of n-MNIST (Basu et al. 2017), re-created with opencv.

The paper's task B (Sec. 5.1, App. A.2, Fig. 13) is "n-MNIST with motion blur": MNIST digits
blurred by a linear camera motion of 5 pixels at 15 degrees counter-clockwise, generated in the
original work with MATLAB::

    h = fspecial('motion', 5, 15);   % 3x5 correlation kernel
    B = imfilter(I, h);              % correlation, zero padding, output the size of I (uint8)

n-MNIST is **re-created** here from the same MNIST images, not downloaded: this module ports
``fspecial('motion', len, theta)`` line by line (Image Processing Toolbox, ``fspecial.m``, 'motion'
branch) and applies the kernel the way ``imfilter`` does by default.

MATLAB's documentation describes the kernel as "h = max(1 - distance to the ideal line segment, 0),
normalised", but the code differs at the segment ends (its ``x2lastpix`` term measures the
overshoot along the line from the end point's projection); we follow the code, which is what
produced the original data set. Check: our port gives MATLAB's printed ``fspecial('motion', 3, 45)``
= [0 .0754 .1883; .0754 .3215 .0754; .1883 .0754 0] (tests/test_motion_blur.py).
"""
from __future__ import annotations

import cv2
import numpy as np

MATLAB_EPS = float(np.finfo(np.float64).eps)  # MATLAB's ``eps`` = 2^-52

# n-MNIST's blur (Basu et al. 2017; paper Sec. 5.1 / Fig. 13).
NMNIST_LENGTH = 5
NMNIST_ANGLE = 15


def fspecial_motion(length: float = NMNIST_LENGTH, theta: float = NMNIST_ANGLE) -> np.ndarray:
    """MATLAB ``fspecial('motion', length, theta)``: a (H, W) float64 correlation kernel.

    ``theta`` is in degrees, counter-clockwise with the image's y axis pointing up (row 0 is the
    top). For (5, 15) the result is 3x5, sums to 1 (up to MATLAB's ``eps*len^2`` guard in the
    normalisation) and is symmetric under a 180-degree rotation.
    """
    eps = MATLAB_EPS
    length = max(1.0, float(length))
    half = (length - 1) / 2  # the line is rotated around the kernel centre, half on each side
    phi = np.mod(theta, 180) / 180 * np.pi
    cosphi, sinphi = np.cos(phi), np.sin(phi)
    xsign = np.sign(cosphi)
    linewdt = 1.0

    # Mesh of the half kernel (one quadrant); the eps terms give the right size for 0 and 90 deg.
    sx = np.fix(half * cosphi + linewdt * xsign - length * eps)
    sy = np.fix(half * sinphi + linewdt - length * eps)
    xs = _matlab_range(0.0, xsign, sx)  # MATLAB 0:xsign:sx
    ys = _matlab_range(0.0, 1.0, sy)  # MATLAB 0:sy
    x, y = np.meshgrid(xs, ys)  # (sy+1, |sx|+1), x along columns, y along rows

    # Signed distance of each pixel centre to the (infinite) rotated line.
    dist2line = y * cosphi - x * sinphi
    rad = np.sqrt(x**2 + y**2)
    # Pixels beyond the line's end point but within the line width: distance to the end point.
    lastpix = (rad >= half) & (np.abs(dist2line) <= linewdt)
    x2lastpix = half - np.abs((x[lastpix] + dist2line[lastpix] * sinphi) / cosphi)
    dist2line[lastpix] = np.sqrt(dist2line[lastpix] ** 2 + x2lastpix**2)
    dist2line = linewdt + eps - np.abs(dist2line)
    dist2line[dist2line < 0] = 0  # zero out anything beyond the line width

    # Unfold the half matrix to the full size: the 180-degree rotated copy at the top left, the
    # original at the bottom right, sharing the centre pixel (MATLAB: h(end+(1:end)-1, ...) = ...).
    a, b = dist2line.shape
    h = np.zeros((2 * a - 1, 2 * b - 1))
    h[:a, :b] = np.rot90(dist2line, 2)
    h[a - 1:, b - 1:] = dist2line
    h = h / (h.sum() + eps * length * length)
    if cosphi > 0:
        h = np.flipud(h)  # rows grow downwards: flip so that positive angles go counter-clockwise
    return np.ascontiguousarray(h)


def _matlab_range(start: float, step: float, stop: float) -> np.ndarray:
    """MATLAB's ``start:step:stop`` for integer-valued floats (empty when it does not reach)."""
    if step == 0:
        return np.array([start])
    count = int(np.floor((stop - start) / step)) + 1
    return start + step * np.arange(max(count, 0))


def imfilter_uint8(images: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """MATLAB ``imfilter(I, h)`` defaults for uint8 ``I``: correlation, zero padding, 'same' size.

    images: (H, W) or (N, H, W) uint8. The correlation runs in float64 with
    ``cv2.filter2D`` (which correlates; its default anchor (-1, -1) is the kernel centre);
    the result is rounded half away from zero and saturated to 0..255, as MATLAB converts
    a double result back to uint8.
    """
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise TypeError(f"expected uint8 images, got {images.dtype}")
    if images.ndim not in (2, 3):
        raise ValueError(f"expected (H, W) or (N, H, W) images, got shape {images.shape}")
    kernel = np.asarray(kernel, dtype=np.float64)
    if kernel.shape[0] % 2 == 0 or kernel.shape[1] % 2 == 0:
        # MATLAB's centre of an even kernel is floor((size+1)/2); opencv's is size//2. Only odd
        # kernels (all that fspecial('motion') builds) are supported, so the two agree.
        raise ValueError(f"kernel sides must be odd, got {kernel.shape}")
    stack = images[None] if images.ndim == 2 else images
    out = np.empty(stack.shape, dtype=np.uint8)
    for i, image in enumerate(stack):  # (H, W) each; filter2D is ~10 us for 28x28
        filtered = cv2.filter2D(image.astype(np.float64), cv2.CV_64F, kernel,
                                borderType=cv2.BORDER_CONSTANT)  # zero padding outside
        out[i] = _round_saturate_uint8(filtered)
    return out[0] if images.ndim == 2 else out


def _round_saturate_uint8(values: np.ndarray) -> np.ndarray:
    """MATLAB's double -> uint8: round half away from zero, then clip to 0..255."""
    rounded = np.sign(values) * np.floor(np.abs(values) + 0.5)
    return np.clip(rounded, 0, 255).astype(np.uint8)


def apply_motion_blur(images: np.ndarray, length: float = NMNIST_LENGTH,
                      theta: float = NMNIST_ANGLE) -> np.ndarray:
    """n-MNIST's blur: ``imfilter(I, fspecial('motion', 5, 15))`` on (N, 28, 28) uint8 images."""
    return imfilter_uint8(images, fspecial_motion(length, theta))
