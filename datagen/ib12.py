"""The 12-bit information-plane data set (Sec. 4, A.1; Shwartz-Ziv & Tishby 2017), from its rule.

All 4096 patterns of 12 bits; row r holds the bits of r, most significant first. The bits sit on
the 12 vertices of an icosahedron; the released labels follow an exact rule on
n = active bits, e = active pairs that are icosahedron edges, a = active antipodal pairs
(shared/notes/paper.md):

    y = 1 if n >= 8;  y = 0 if n <= 4
    n = 7: y = 1 unless (e = 8 and a = 2)
    n = 6: y = 1 if e >= 7 or (e = 6 and a = 0)
    n = 5: y = 1 only if e = 7

which gives 2118 positives. ``python -m datagen.ib12 --out DIR [--seed S --train-fraction 0.8]``
writes ``DIR/ib12.npz`` with ``x`` (4096, 12) uint8, ``y`` (4096,) uint8 and the seeded
``train_idx`` (3277) / ``test_idx`` (819) split.
"""
from __future__ import annotations

import argparse
import itertools
import os
from pathlib import Path

import numpy as np

N_BITS = 12
ANTIPODAL = [(0, 9), (1, 7), (2, 5), (3, 6), (4, 10), (8, 11)]
NEIGHBOURS = {
    0: (1, 3, 5, 10, 11), 1: (0, 2, 3, 4, 11), 2: (1, 3, 4, 8, 9), 3: (0, 1, 2, 8, 10),
    4: (1, 2, 6, 9, 11), 5: (0, 6, 7, 10, 11), 6: (4, 5, 7, 9, 11), 7: (5, 6, 8, 9, 10),
    8: (2, 3, 7, 9, 10), 9: (2, 4, 6, 7, 8), 10: (0, 3, 5, 7, 8), 11: (0, 1, 4, 5, 6),
}
EDGES = sorted({tuple(sorted((i, j))) for i, js in NEIGHBOURS.items() for j in js})  # 30 edges


def all_patterns() -> np.ndarray:
    """(4096, 12) uint8; column 0 is the most significant bit of the row index."""
    r = np.arange(2 ** N_BITS)[:, None]
    return ((r >> (N_BITS - 1 - np.arange(N_BITS))) & 1).astype(np.uint8)


def label(bits: np.ndarray) -> int:
    n = int(bits.sum())
    e = sum(int(bits[i] and bits[j]) for i, j in EDGES)
    a = sum(int(bits[i] and bits[j]) for i, j in ANTIPODAL)
    if n >= 8:
        return 1
    if n <= 4:
        return 0
    if n == 7:
        return int(not (e == 8 and a == 2))
    if n == 6:
        return int(e >= 7 or (e == 6 and a == 0))
    return int(e == 7)  # n == 5


def make_dataset(seed: int = 0, train_fraction: float = 0.8) -> dict[str, np.ndarray]:
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction: must be in (0, 1), got {train_fraction}")
    x = all_patterns()
    y = np.array([label(row) for row in x], dtype=np.uint8)
    order = np.random.default_rng(seed).permutation(len(x))
    n_train = int(round(train_fraction * len(x)))  # 3277 of 4096 at 0.8
    return {"x": x, "y": y, "train_idx": np.sort(order[:n_train]),
            "test_idx": np.sort(order[n_train:])}


def write(out_dir: str | os.PathLike, seed: int = 0, train_fraction: float = 0.8) -> Path:
    data = make_dataset(seed, train_fraction)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "ib12.npz"
    tmp = out / "ib12.tmp.npz"
    np.savez(tmp, **data)
    os.replace(tmp, path)
    return path


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="output folder for ib12.npz")
    parser.add_argument("--seed", type=int, default=0, help="seed of the train/test split")
    parser.add_argument("--train-fraction", type=float, default=0.8)
    args = parser.parse_args(argv)
    path = write(args.out, args.seed, args.train_fraction)
    d = np.load(path)
    print(f"{path}: {len(d['x'])} patterns, {int(d['y'].sum())} positive, "
          f"{len(d['train_idx'])} train / {len(d['test_idx'])} test")


if __name__ == "__main__":
    main()
