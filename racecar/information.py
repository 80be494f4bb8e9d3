"""Mutual information by binning, for information planes (Sec. 4; Shwartz-Ziv & Tishby 2017).

Each layer's activations T (N, d) are discretised with ``n_bins`` bin edges on [low, high]
(30 edges on [-1, 1] for tanh layers): every value is snapped to the left edge of its bin, and a
sample's whole binned row is one symbol. With all N = 4096 distinct inputs X equally likely,

    I(X;T) = H(T)                       (T is a deterministic function of distinct X)
    I(T;Y) = H(T) - sum_y p(y) H(T | Y=y)

with plug-in entropies in bits.
"""
from __future__ import annotations

import numpy as np


def bin_activations(activations: np.ndarray, n_bins: int = 30, low: float = -1.0,
                    high: float = 1.0) -> np.ndarray:
    """Bin indices (N, d) int: value v -> index of the largest edge <= v (clamped to the range)."""
    edges = np.linspace(low, high, n_bins)
    idx = np.digitize(np.asarray(activations, dtype=np.float64), edges) - 1
    return np.clip(idx, 0, n_bins - 1)


def entropy_bits(symbols: np.ndarray) -> float:
    """Plug-in entropy (bits) of the rows of ``symbols`` (N, d) or of a 1-D array (N,)."""
    symbols = np.asarray(symbols)
    if symbols.ndim == 1:
        symbols = symbols[:, None]
    if symbols.shape[0] == 0:
        return 0.0
    # one opaque byte-string per row: a 1-D unique, far faster than np.unique(axis=0)
    rows = np.ascontiguousarray(symbols)
    keys = rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel()
    _, counts = np.unique(keys, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def mutual_information(activations: np.ndarray, labels: np.ndarray, n_bins: int = 30,
                       low: float = -1.0, high: float = 1.0) -> tuple[float, float]:
    """(I(X;T), I(T;Y)) in bits for one layer's activations (N, d) and labels (N,)."""
    t = bin_activations(activations, n_bins, low, high)
    labels = np.asarray(labels)
    h_t = entropy_bits(t)
    h_t_given_y = 0.0
    for value in np.unique(labels):
        mask = labels == value
        h_t_given_y += mask.mean() * entropy_bits(t[mask])
    return h_t, h_t - h_t_given_y


def log_spaced_epochs(last_epoch: int, count: int) -> list[int]:
    """About ``count`` distinct epochs from 0 to ``last_epoch``, dense early (Figs. 2-4)."""
    if last_epoch <= 0:
        return [0]
    points = np.unique(np.round(np.logspace(0, np.log10(last_epoch + 1), count) - 1).astype(int))
    return sorted(set(points.tolist()) | {0, last_epoch})
