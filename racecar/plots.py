"""Figures: information planes (Figs. 2-4), accuracy curves (Figs. 3, 4, 6, 14), I vs I' grids."""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_information_plane(ax, record: Sequence[Mapping], title: str = "", cmap: str = "inferno"):
    """I(X;T) (x) against I(T;Y) (y) for every layer, coloured by epoch (black -> yellow).

    record: [{"epoch": e, "ixt": [per layer], "ity": [per layer]}, ...] ordered by epoch.
    Lines join the layers of one epoch, as in Shwartz-Ziv & Tishby's planes.
    """
    epochs = np.array([r["epoch"] for r in record], dtype=float)
    norm = matplotlib.colors.Normalize(vmin=epochs.min(), vmax=max(epochs.max(), 1))
    colours = plt.get_cmap(cmap)(norm(epochs))
    for r, c in zip(record, colours):
        ax.plot(r["ixt"], r["ity"], "-", color=c, alpha=0.25, lw=0.8)
        ax.scatter(r["ixt"], r["ity"], color=c, s=14, zorder=3)
    ax.set_xlabel("I(X;T) [bits]")
    ax.set_ylabel("I(T;Y) [bits]")
    ax.set_title(title, fontsize=9)
    return matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap)


def plot_accuracy_curves(ax, curves: Mapping[str, tuple], ylabel: str = "test accuracy",
                         colours: Mapping[str, str] | None = None):
    """curves: name -> (epochs, mean, std); a band of +-1 std over seeds."""
    for name, (epochs, mean, std) in curves.items():
        colour = (colours or {}).get(name)
        line, = ax.plot(epochs, mean, label=name, color=colour, lw=1.2)
        ax.fill_between(epochs, np.asarray(mean) - std, np.asarray(mean) + std,
                        color=line.get_color(), alpha=0.2, lw=0)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)


def image_grid(rows: Mapping[str, np.ndarray], path: str, cmap: str = "gray") -> None:
    """One row of images per name (each (N, H, W) or (N, H, W, 3)), saved to ``path``."""
    names = list(rows)
    n = max(len(v) for v in rows.values())
    fig, axes = plt.subplots(len(names), n, figsize=(1.2 * n, 1.3 * len(names)), squeeze=False)
    for i, name in enumerate(names):
        for j in range(n):
            ax = axes[i][j]
            ax.axis("off")
            if j < len(rows[name]):
                ax.imshow(rows[name][j], cmap=cmap)
        axes[i][0].set_title(name, fontsize=8, loc="left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def save(fig, path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
