"""Atomic checkpoints and resume.

A checkpoint is one ``torch.save`` file written to ``<path>.tmp`` and renamed, so a kill during
the write leaves the previous checkpoint intact. It carries a ``fingerprint`` of the run's
configuration: a checkpoint from a different configuration is never resumed.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any


def fingerprint(config: Any) -> str:
    """Stable hash of a JSON-able configuration (dataclass dicts, lists, numbers, strings)."""
    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def save_atomic(obj: Any, path: str | os.PathLike) -> None:
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def load_if_matching(path: str | os.PathLike | None, expected_fingerprint: str) -> dict | None:
    """The checkpoint at ``path`` if it exists and belongs to this configuration, else None."""
    import torch

    if path is None or not Path(path).exists():
        return None
    state = torch.load(path, map_location="cpu", weights_only=False)
    if state.get("fingerprint") != expected_fingerprint:
        print(f"[checkpoint] {path} belongs to another configuration; starting fresh")
        return None
    return state
