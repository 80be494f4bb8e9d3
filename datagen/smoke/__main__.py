"""``python -m datagen.smoke --out DIR [--resolution 64 --n-simulations 2 --frames 8 ...]``.

Every field of :class:`SmokeDataConfig` is an option (``--pressure-solver cg``, ``--no-augment``);
defaults are the small offline values. Paper scale (A.4, about 20 x 140 steps at 256^2)::

    python -m datagen.smoke --out data/smoke --resolution 256 --n-simulations 20 --frames 120 \\
        --lowres-tile 16 --highres-tile 64
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import typing

from datagen.smoke.config import SmokeDataConfig
from datagen.smoke.generate import generate


def parse_args(argv: list[str] | None = None) -> tuple[SmokeDataConfig, argparse.Namespace]:
    parser = argparse.ArgumentParser(prog="python -m datagen.smoke", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="output folder (frames/, tiles/, previews/)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    hints = typing.get_type_hints(SmokeDataConfig)
    for field in dataclasses.fields(SmokeDataConfig):
        flag = "--" + field.name.replace("_", "-")
        hint = hints[field.name]
        if hint is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=field.default)
        elif typing.get_origin(hint) is typing.Literal:
            parser.add_argument(flag, choices=typing.get_args(hint), default=field.default)
        else:
            parser.add_argument(flag, type=hint, default=field.default,
                                help=f"default {field.default}")
    args = parser.parse_args(argv)
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(SmokeDataConfig)}
    try:
        cfg = SmokeDataConfig(**values)
    except ValueError as err:                  # "field: why", before any work
        parser.error(str(err))
    return cfg, args


def main(argv: list[str] | None = None) -> dict:
    cfg, args = parse_args(argv)
    summary = generate(cfg, args.out, progress=not args.quiet)
    print(json.dumps(summary, indent=1))
    return summary


if __name__ == "__main__":
    main()
