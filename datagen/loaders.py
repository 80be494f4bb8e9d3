"""webdataset loaders for the (n-)MNIST shards: training (resampled) and evaluation (exact).

Both read any webdataset URL: a local brace pattern (``data/mnist/mnist-train-{000000..000007}.tar``),
a list of URLs, ``pipe:`` commands (``pipe:aws s3 cp s3://bucket/mnist-train-000000.tar -``) or
``http(s)://`` (through curl). Each batch is ``(images, labels)``: images (B, 1, 28, 28) float32 in
[0, 1], labels (B,) int64 -- plus the sample keys when ``with_keys=True``.

Training (shared/notes/pipeline.md, "webdataset"): every (rank, DataLoader worker) draws shards with
replacement from its own seeded stream (``wds.ResampledShards``, seed from (seed, rank, worker,
epoch)) -- the resampled equivalent of ``split_by_node``/``split_by_worker``: no rank or worker can
run dry, whatever the shard count. Samples are shuffled in a seeded buffer and batched inside the
dataset (per-sample Python overhead, not decoding, limits throughput). Each worker stops after
``ceil(batches_per_epoch / num_workers)`` batches (its ``with_epoch``) and the loader after exactly
``batches_per_epoch = ceil(epoch_size / (batch_size * world_size))``, so every rank runs the same
number of steps and DDP's collectives never wait on a rank that stopped early.

Shard order is always explicit (resampled and seeded for training, fixed for evaluation): the
pipelines are built from ``wds.DataPipeline`` stages, so ``WebDataset``'s unset-``shardshuffle``
default (and its warning) never applies.

Evaluation: no resampling; shards are split by rank (``urls[rank::world_size]``) and then by worker,
the last batch of a worker may be short, so every sample is read exactly once across all ranks.
Reduce (correct, count) across ranks afterwards.

Corrupt data: a shard that cannot be opened, a truncated tar, a sample that does not decode, or a
shard that yields fewer samples than ``sizes.json`` lists (a tar cut at a member boundary reads
like a clean end of archive, so only the count reveals it) raises :class:`CorruptShardError` naming
the shard. With ``skip_bad_samples=True`` the shard's remaining samples are skipped, a warning names
the shard and the lost samples are counted in ``loader.bad_samples`` (shared by all workers).
"""
from __future__ import annotations

import functools
import itertools
import json
import logging
import math
import multiprocessing
import random
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import webdataset as wds
from webdataset.gopen import gopen
from webdataset.shardlists import expand_urls
from webdataset.tariterators import group_by_keys, tar_file_expander
from webdataset.utils import make_seed

from datagen.shards import SIZES_FILE

log = logging.getLogger(__name__)


class CorruptShardError(RuntimeError):
    """A shard could not be read completely; the message names the shard URL."""


class BadSampleCounter:
    """Count of skipped samples, shared between the main process and DataLoader workers."""

    def __init__(self) -> None:
        self._value = multiprocessing.get_context().Value("q", 0)

    def add(self, n: int) -> None:
        with self._value.get_lock():
            self._value.value += n

    @property
    def value(self) -> int:
        return int(self._value.value)


# ----------------------------------------------------------------------------------- URLs, sizes
def expand(url_or_urls: str | Sequence[str]) -> list[str]:
    """Brace pattern (``::``-joined patterns allowed) or list -> list of shard URLs."""
    urls = expand_urls(url_or_urls) if isinstance(url_or_urls, str) else list(url_or_urls)
    if not urls:
        raise ValueError(f"no shard URLs in {url_or_urls!r}")
    return urls


def shard_name(url: str) -> str:
    """``sizes.json`` key of a URL: its last ``*.tar`` file name (works for paths, pipe:, http)."""
    names = re.findall(r"[^/\s'\"?=]+\.tar", url)
    return names[-1] if names else url


def load_sizes(urls: Sequence[str], sizes: Mapping[str, int] | str | Path | None
               ) -> dict[str, int] | None:
    """Expected samples per shard name: the given mapping or file, else ``sizes.json`` next to
    local shards; None when unknown (streams: pass ``sizes``, or only read errors are caught)."""
    if isinstance(sizes, Mapping):
        return dict(sizes)
    if sizes is not None:
        return json.loads(Path(sizes).read_text())
    first = urls[0]
    if ":" in first.split("/")[0]:  # pipe:, http:, s3: ... no local sizes.json to look at
        return None
    candidate = Path(first).parent / SIZES_FILE
    return json.loads(candidate.read_text()) if candidate.exists() else None


# ----------------------------------------------------------------------------- reading shards
def _decode(sample: dict) -> tuple[str, np.ndarray, int]:
    """tar sample -> (key, image (H, W) uint8, label); raises ValueError on anything odd."""
    missing = {"png", "cls"} - sample.keys()
    if missing:
        raise ValueError(f"sample {sample.get('__key__')!r} lacks {sorted(missing)}")
    image = cv2.imdecode(np.frombuffer(sample["png"], np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None or image.ndim != 2 or image.dtype != np.uint8:
        raise ValueError(f"sample {sample['__key__']!r}: png is not an 8-bit grey image")
    return sample["__key__"], image, int(sample["cls"])


class ShardReader:
    """Pipeline stage: stream of ``{"url": ...}`` -> stream of (key, image, label) per sample."""

    def __init__(self, sizes: dict[str, int] | None, skip_bad_samples: bool,
                 counter: BadSampleCounter) -> None:
        self.sizes, self.skip, self.counter = sizes, skip_bad_samples, counter

    def __call__(self, shards: Iterator[dict]) -> Iterator[tuple[str, np.ndarray, int]]:
        for shard in shards:
            yield from self.read(shard["url"])

    def read(self, url: str) -> Iterator[tuple[str, np.ndarray, int]]:
        errors: list[BaseException] = []

        def stop_shard(exn: BaseException) -> bool:  # webdataset handler: remember, stop shard
            errors.append(exn)
            return False

        good, bad, finished = 0, 0, False
        stream = None
        try:
            stream = gopen(url)
            files = tar_file_expander([{"url": url, "stream": stream}], handler=stop_shard)
            for sample in group_by_keys(files, handler=stop_shard):
                try:
                    decoded = _decode(sample)
                except Exception as exn:  # noqa: BLE001 - any undecodable sample is corrupt data
                    bad += 1  # a cut tar often ends in a partial sample: read on, report once
                    errors.append(exn)
                    continue
                good += 1
                yield decoded
            finished = True
        except Exception as exn:  # noqa: BLE001 - e.g. the shard cannot be opened
            errors.append(exn)
        finally:
            if stream is not None:
                try:
                    stream.close()  # pipe: checks the command's exit status here
                except Exception as exn:  # noqa: BLE001
                    if finished:  # an early stop (end of epoch) is not an error
                        errors.append(exn)
        expected = None if self.sizes is None else self.sizes.get(shard_name(url))
        if not errors and (expected is None or good == expected):
            return
        detail = "; ".join(repr(e) for e in errors[:2]) if errors else "no read error"
        counted = f"read {good}" + (f" of {expected}" if expected is not None else "") + " samples"
        if not self.skip:
            raise CorruptShardError(f"corrupt or truncated shard {url}: {counted} ({detail})")
        # Lost samples: exact when sizes.json lists the shard, else a lower bound (>= 1 per error).
        lost = expected - good if expected is not None else max(bad, 1)
        self.counter.add(lost)
        log.warning("skipping %d bad samples of shard %s: %s (%s)", lost, url, counted, detail)


# ------------------------------------------------------------------------- batching, seeding
def _collate(items: list[tuple[str, np.ndarray, int]], with_keys: bool):
    keys, images, labels = zip(*items)
    # numpy, not torch ops: a (64, 1, 28, 28) torch float()/div_() in the main process can cost
    # milliseconds when intra-op threads contend with training; numpy stays single-threaded
    x = np.stack(images)[:, None].astype(np.float32)  # (B, 1, H, W), a fresh writable array
    x *= np.float32(1 / 255)
    x = torch.from_numpy(x)
    y = torch.tensor(labels, dtype=torch.int64)  # (B,)
    return (x, y, list(keys)) if with_keys else (x, y)


def _worker_id() -> int:
    info = torch.utils.data.get_worker_info()
    return 0 if info is None else info.id


def _worker_seed(rank: int) -> int:
    """Seed part that differs between ranks and DataLoader workers (ResampledShards adds the
    base seed and its epoch counter)."""
    return make_seed(rank, _worker_id())


class SeededShuffle:
    """Buffer shuffle whose RNG depends on (seed, rank, worker, pass): reproducible, and each
    epoch (one pass of a persistent worker) draws a new order."""

    def __init__(self, bufsize: int, seed: int, rank: int) -> None:
        self.bufsize, self.seed, self.rank, self.passes = bufsize, seed, rank, 0

    def __call__(self, src: Iterator) -> Iterator:
        self.passes += 1
        rng = random.Random(make_seed(self.seed, self.rank, _worker_id(), self.passes))
        return wds.shuffle(self.bufsize, initial=self.bufsize // 2, rng=rng)(src)


def _split_by_rank(src: Iterator[dict], rank: int, world_size: int) -> Iterator[dict]:
    """``wds.split_by_node`` with an explicit rank (testable without torch.distributed)."""
    for index, shard in enumerate(src):
        if index % world_size == rank:
            yield shard


# ----------------------------------------------------------------------------------- loaders
@dataclass
class Loader:
    """An iterable of batches plus what a training loop and a report need to know."""

    loader: torch.utils.data.DataLoader  # over a webdataset pipeline, batch_size=None
    batches_per_epoch: int | None  # train: exact, equal on every rank; eval: None (varies)
    num_samples: int | None  # samples one pass yields on this rank (eval: from sizes.json)
    counter: BadSampleCounter

    def __iter__(self):
        batches = iter(self.loader)
        try:
            # train: the loader-level with_epoch, exactly batches_per_epoch; eval: one pass
            yield from itertools.islice(batches, self.batches_per_epoch)
        except Exception:
            # A worker's error (e.g. CorruptShardError) leaves the DataLoader iterator in a
            # reference cycle; stop its workers now rather than at a later garbage collection,
            # which waits 5 s per worker (torch's private hook, guarded).
            shutdown = getattr(batches, "_shutdown_workers", None)
            if shutdown is not None:
                shutdown()
            raise

    def __len__(self) -> int:
        if self.batches_per_epoch is None:
            raise TypeError("an evaluation loader has no fixed length; use num_samples")
        return self.batches_per_epoch

    @property
    def bad_samples(self) -> int:
        """Samples skipped so far because their shard was corrupt (skip_bad_samples=True)."""
        return self.counter.value


def _check_args(batch_size: int, rank: int, world_size: int, num_workers: int) -> None:
    if batch_size < 1 or world_size < 1 or num_workers < 0 or not 0 <= rank < world_size:
        raise ValueError(f"bad loader arguments: batch_size={batch_size}, rank={rank}, "
                         f"world_size={world_size}, num_workers={num_workers}")


def train_loader(url_or_urls: str | Sequence[str], batch_size: int, epoch_size: int | None,
                 seed: int, rank: int = 0, world_size: int = 1, num_workers: int = 2,
                 shuffle_buffer: int = 1000, skip_bad_samples: bool = False,
                 sizes: Mapping[str, int] | str | Path | None = None,
                 with_keys: bool = False) -> Loader:
    """Endless resampled stream cut into epochs of ``ceil(epoch_size / global batch)`` batches.

    ``batch_size`` is per rank (global batch = batch_size * world_size); ``epoch_size`` is samples
    per epoch over all ranks (None: the sum of ``sizes.json``). Shuffle order depends only on
    (seed, rank, worker, epoch), so a run with the same settings sees the same batches.
    """
    _check_args(batch_size, rank, world_size, num_workers)
    urls = expand(url_or_urls)
    known = load_sizes(urls, sizes)
    if epoch_size is None:
        if known is None:
            raise ValueError("epoch_size=None needs sizes (sizes.json) to count the samples")
        epoch_size = sum(known.get(shard_name(u), 0) for u in urls)
    batches = math.ceil(epoch_size / (batch_size * world_size))
    per_worker = math.ceil(batches / max(num_workers, 1))
    counter = BadSampleCounter()
    dataset = wds.DataPipeline(
        wds.ResampledShards(urls, seed=seed, worker_seed=functools.partial(_worker_seed, rank),
                            deterministic=True),
        ShardReader(known, skip_bad_samples, counter),
        SeededShuffle(shuffle_buffer, seed, rank),
        wds.batched(batch_size, collation_fn=functools.partial(_collate, with_keys=with_keys),
                    partial=False),
    ).with_epoch(per_worker)  # counts batches, per worker
    # persistent workers keep their epoch counters, so each epoch draws a new shard order
    loader = torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=num_workers,
                                         persistent_workers=num_workers > 0)
    return Loader(loader, batches, batches * batch_size, counter)


def eval_loader(url_or_urls: str | Sequence[str], batch_size: int, rank: int = 0,
                world_size: int = 1, num_workers: int = 2, skip_bad_samples: bool = False,
                sizes: Mapping[str, int] | str | Path | None = None,
                with_keys: bool = False) -> Loader:
    """One pass over this rank's shards (``urls[rank::world_size]``), split again by worker."""
    _check_args(batch_size, rank, world_size, num_workers)
    urls = expand(url_or_urls)
    if len(urls) < world_size * max(num_workers, 1):
        log.warning("%d shards for %d ranks x %d workers: some read nothing", len(urls),
                    world_size, num_workers)
    known = load_sizes(urls, sizes)
    mine = urls[rank::world_size]
    num_samples = None
    if known is not None and all(shard_name(u) in known for u in mine):
        num_samples = sum(known[shard_name(u)] for u in mine)
    counter = BadSampleCounter()
    dataset = wds.DataPipeline(
        wds.SimpleShardList(urls),
        functools.partial(_split_by_rank, rank=rank, world_size=world_size),
        wds.split_by_worker,
        ShardReader(known, skip_bad_samples, counter),
        wds.batched(batch_size, collation_fn=functools.partial(_collate, with_keys=with_keys),
                    partial=True),  # keep the short last batch: every sample counts
    )
    loader = torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=num_workers)
    return Loader(loader, None, num_samples, counter)
