"""``params.yaml``: typed, validated, with the paper-scale switch.

Layout of ``params.yaml``::

    scale: offline          # or ``paper``: the one switch to the paper's values and real data
    <section>:              # one per experiment / data set, e.g. ``mi``, ``smoke_data``
      ...values sized for 2 CPU cores...
      paper:                # optional partial overrides applied when scale == paper
        ...same keys, paper's values...

Each section maps onto one frozen dataclass registered in :data:`SECTIONS`. Loading validates the
**whole file** (every section, offline values and paper overrides) before any stage does work:
an unknown key, a wrong type or an impossible value raises :class:`ParamsError` naming the key
(``mi.phase1.epochs: must be >= 0, got -3``).
"""
from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Literal, Mapping, get_args, get_origin, get_type_hints

import yaml

SCALES = ("offline", "paper")
PAPER_KEY = "paper"


class ParamsError(ValueError):
    """A params.yaml problem, reported with the dotted key it concerns."""


# Section name -> dataclass. Filled by pipeline.sections (import side effect kept in one place).
SECTIONS: dict[str, type] = {}


def register(name: str):
    def wrap(cls):
        SECTIONS[name] = cls
        return cls
    return wrap


def _check_type(value: Any, hint: Any, where: str) -> Any:
    origin = get_origin(hint)
    if hint is Any:
        return value
    if dataclasses.is_dataclass(hint):
        return build(hint, value, where)
    if origin is Literal:
        if value not in get_args(hint):
            raise ParamsError(f"{where}: must be one of {list(get_args(hint))}, got {value!r}")
        return value
    if origin in (typing.Union, types.UnionType):
        errors = []
        for option in get_args(hint):
            if option is type(None) and value is None:
                return None
            if option is type(None):
                continue
            try:
                return _check_type(value, option, where)
            except ParamsError as err:
                errors.append(str(err))
        raise ParamsError(errors[0] if len(errors) == 1 else f"{where}: {value!r} matches no allowed type")
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ParamsError(f"{where}: must be a list, got {type(value).__name__} {value!r}")
        (item,) = get_args(hint)[:1] or (Any,)
        return tuple(_check_type(v, item, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ParamsError(f"{where}: must be a mapping, got {value!r}")
        _, item = get_args(hint)
        return {str(k): _check_type(v, item, f"{where}.{k}") for k, v in value.items()}
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParamsError(f"{where}: must be a number, got {type(value).__name__} {value!r}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParamsError(f"{where}: must be an integer, got {type(value).__name__} {value!r}")
        return value
    if hint in (str, bool):
        if not isinstance(value, hint):
            raise ParamsError(f"{where}: must be {hint.__name__}, got {type(value).__name__} {value!r}")
        return value
    raise TypeError(f"{where}: unsupported type hint {hint!r}")


def build(cls: type, data: Any, where: str):
    """Build dataclass ``cls`` from a mapping; reject unknown and missing keys and wrong types.

    Value checks live in each dataclass's ``__post_init__`` and raise ``ValueError("field: why")``;
    they are re-raised here with the full dotted key.
    """
    if not isinstance(data, Mapping):
        raise ParamsError(f"{where}: must be a mapping, got {type(data).__name__} {data!r}")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ParamsError(f"{where}.{unknown[0]}: unknown key (allowed: {', '.join(sorted(fields))})")
    kwargs = {}
    for name, field in fields.items():
        if name in data:
            kwargs[name] = _check_type(data[name], hints[name], f"{where}.{name}")
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ParamsError(f"{where}.{name}: missing required key")
    try:
        return cls(**kwargs)
    except ParamsError:
        raise
    except ValueError as err:
        raise ParamsError(f"{where}.{err}") from None


def _merge(base: Mapping, override: Mapping) -> dict:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def read_yaml(path: str | Path = "params.yaml") -> dict:
    path = Path(path)
    if not path.exists():
        raise ParamsError(f"{path}: not found (run from the repository root)")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, Mapping):
        raise ParamsError(f"{path}: top level must be a mapping")
    return data


def validate(raw: Mapping) -> dict[str, Any]:
    """Validate every section of a params mapping; return ``{section: dataclass}`` at its scale."""
    from pipeline import sections as _  # noqa: F401  (registers the section dataclasses)

    scale = raw.get("scale", "offline")
    if scale not in SCALES:
        raise ParamsError(f"scale: must be one of {list(SCALES)}, got {scale!r}")
    unknown = sorted(set(raw) - set(SECTIONS) - {"scale"})
    if unknown:
        raise ParamsError(f"{unknown[0]}: unknown top-level key (allowed: scale, "
                          f"{', '.join(sorted(SECTIONS))})")
    resolved = {}
    for name, cls in SECTIONS.items():
        if name not in raw:
            raise ParamsError(f"{name}: missing section")
        section = dict(raw[name] or {})
        paper = section.pop(PAPER_KEY, None) or {}
        offline_cfg = build(cls, section, name)
        paper_cfg = build(cls, _merge(section, paper), f"{name}.{PAPER_KEY}")
        resolved[name] = paper_cfg if scale == "paper" else offline_cfg
    return resolved


def load_section(name: str, path: str | Path = "params.yaml"):
    """Validate the whole params file, then return section ``name`` at the selected scale."""
    return validate(read_yaml(path))[name]


def load_scale(path: str | Path = "params.yaml") -> str:
    return read_yaml(path).get("scale", "offline")


def as_dict(cfg) -> dict:
    """A section as plain data (for MLflow params and checkpoints)."""
    return dataclasses.asdict(cfg)
