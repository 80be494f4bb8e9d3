"""Small previews a person can look at: a PNG frame strip and an MP4 per simulation (opencv).

Each image shows density (inferno colour map, 0..1) with y up: the high-res frame on the left and
the low-res frame, enlarged by nearest neighbour to the same size, on the right.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def _colour(density: np.ndarray, size: int) -> np.ndarray:
    """(h, w) density in [0, 1] -> (size, size, 3) uint8 BGR, flipped so that y points up."""
    img = np.clip(density[::-1] * 255.0 + 0.5, 0, 255).astype(np.uint8)
    img = cv2.resize(img, (size, size), interpolation=cv2.INTER_NEAREST)
    return cv2.applyColorMap(img, cv2.COLORMAP_INFERNO)


def pair_image(d_hr: np.ndarray, d_lr: np.ndarray, size: int) -> np.ndarray:
    """High-res | low-res side by side, (size, 2 * size + 2, 3) uint8."""
    gap = np.full((size, 2, 3), 255, np.uint8)
    return np.concatenate([_colour(d_hr, size), gap, _colour(d_lr, size)], axis=1)


def write_strip(path: Path, d_hr: np.ndarray, d_lr: np.ndarray, n_frames: int) -> None:
    """PNG: ``n_frames`` evenly spaced frames, high-res above low-res. d_*: (T, h, w)."""
    size = d_hr.shape[-1]
    picks = np.unique(np.linspace(0, len(d_hr) - 1, min(n_frames, len(d_hr))).round().astype(int))
    top = np.concatenate([_colour(d_hr[t], size) for t in picks], axis=1)
    bottom = np.concatenate([_colour(d_lr[t], size) for t in picks], axis=1)
    gap = np.full((2, top.shape[1], 3), 255, np.uint8)
    if not cv2.imwrite(str(path), np.concatenate([top, gap, bottom], axis=0)):
        raise OSError(f"opencv could not write {path}")


def write_video(path: Path, d_hr: np.ndarray, d_lr: np.ndarray, fps: int) -> Path:
    """MP4 (mp4v) of every frame; falls back to an animated GIF if no MP4 encoder is available."""
    size = max(d_hr.shape[-1], 128)                      # small grids are enlarged to be visible
    frames = [pair_image(d_hr[t], d_lr[t], size) for t in range(len(d_hr))]
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (w, h))
    if writer.isOpened():
        for frame in frames:
            writer.write(frame)
        writer.release()
        return path
    gif = path.with_suffix(".gif")
    animation = cv2.Animation()
    animation.frames = frames
    animation.durations = [int(1000 / fps)] * len(frames)
    if not cv2.imwriteanimation(str(gif), animation):
        raise OSError(f"opencv could write neither {path} nor {gif}")
    return gif
