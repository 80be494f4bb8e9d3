"""The project's one shard format: webdataset tar shards plus a ``sizes.json``.

Every data set that trains a network (MNIST, n-MNIST, CIFAR, ImageNet, smoke tiles) is written
with :func:`write_shards`, so every loader reads the same layout::

    DIR/<prefix>-000000.tar, DIR/<prefix>-000001.tar, ...   # samples, ``maxcount`` per shard
    DIR/sizes.json                                           # {"<prefix>-000000.tar": count, ...}

Samples are dicts ``{"__key__": str, "<ext>": bytes | np.ndarray | int}``. Keys carry no dots and
data keys never start with ``_``; arrays are stored as ``npy`` (never pickle), images as encoded
``png``/``jpg`` bytes, labels as ``cls``. Shards are written under a temporary name and renamed, so
an interrupted writer never leaves a shard that looks complete.
"""
from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

SIZES_FILE = "sizes.json"


def _encode(ext: str, value) -> bytes:
    """Encode one field the way webdataset's default decoders read it back."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if ext == "npy":
        buf = io.BytesIO()
        np.save(buf, np.asarray(value), allow_pickle=False)
        return buf.getvalue()
    if ext in ("cls", "txt", "id"):
        return str(value).encode("utf-8")
    if ext == "json":
        return json.dumps(value, sort_keys=True).encode("utf-8")
    raise ValueError(f"field '{ext}': pass encoded bytes (png/jpg) or use npy/cls/json/txt")


def _validate_key(key: str) -> None:
    if not key or "." in key or "/" in key:
        raise ValueError(f"sample key {key!r} must be non-empty and contain no '.' or '/'")


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0  # fixed metadata: the same samples give bitwise-identical shards
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def write_shards(samples: Iterable[Mapping], out_dir: str | os.PathLike, prefix: str,
                 maxcount: int, min_shards: int = 1) -> dict[str, int]:
    """Write ``samples`` (already in their final, shuffled order) to tar shards.

    ``min_shards`` guarantees at least that many shards (world_size x num_workers, so that no rank
    or worker is left without data): ``maxcount`` is lowered when the sample count allows it.
    Returns and writes ``sizes.json`` mapping shard file name -> sample count; an existing
    ``sizes.json`` for other prefixes in the same folder is kept and merged.
    """
    if maxcount < 1:
        raise ValueError("maxcount must be >= 1")
    samples = list(samples)
    if not samples:
        raise ValueError(f"no samples to write for '{prefix}'")
    if min_shards > 1:
        maxcount = max(1, min(maxcount, len(samples) // min_shards))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sizes: dict[str, int] = {}
    for shard_index, start in enumerate(range(0, len(samples), maxcount)):
        name = f"{prefix}-{shard_index:06d}.tar"
        tmp = out / f".{name}.tmp"
        chunk = samples[start:start + maxcount]
        with tarfile.open(tmp, "w", format=tarfile.USTAR_FORMAT) as tar:
            for sample in chunk:
                key = str(sample["__key__"])
                _validate_key(key)
                for ext, value in sample.items():
                    if ext.startswith("_"):
                        continue
                    _add(tar, f"{key}.{ext}", _encode(ext, value))
        os.replace(tmp, out / name)
        sizes[name] = len(chunk)
    _merge_sizes(out, prefix, sizes)
    return sizes


def _merge_sizes(out: Path, prefix: str, sizes: dict[str, int]) -> None:
    path = out / SIZES_FILE
    merged = json.loads(path.read_text()) if path.exists() else {}
    merged = {k: v for k, v in merged.items() if not k.startswith(f"{prefix}-")}
    merged.update(sizes)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(dict(sorted(merged.items())), indent=1) + "\n")
    os.replace(tmp, path)


def shard_pattern(out_dir: str | os.PathLike, prefix: str) -> str:
    """Brace-notation URL of all shards of ``prefix`` listed in ``sizes.json`` (for webdataset)."""
    names = sorted(n for n in read_sizes(out_dir) if n.startswith(f"{prefix}-"))
    if not names:
        raise FileNotFoundError(f"no shards named '{prefix}-*.tar' in {out_dir}/{SIZES_FILE}")
    last = len(names) - 1
    return str(Path(out_dir) / f"{prefix}-{{000000..{last:06d}}}.tar")


def read_sizes(out_dir: str | os.PathLike) -> dict[str, int]:
    path = Path(out_dir) / SIZES_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: were the shards written with write_shards?")
    return json.loads(path.read_text())
