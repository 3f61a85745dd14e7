"""The ``sciml data`` command: generate, info, validate, merge, convert.

``add_data_commands(subparsers)`` adds the ``data`` command to the main ``sciml`` parser; every
leaf parser sets ``func(args) -> int``.  User mistakes raise :class:`SciMLError` subclasses,
which the main program prints as one line before exiting with status 2 (:func:`main` here
does the same, for use without the main program).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import SciMLError


def _generate(args: argparse.Namespace) -> int:
    from ..config import parse_overrides
    from .generate import generate, parse_shard
    from .specs import load_spec

    overrides: dict[str, Any] = parse_overrides(args.set or [])
    if args.n_samples is not None:
        overrides["n_samples"] = args.n_samples
    spec = load_spec(args.spec, overrides)
    shard = parse_shard(args.shard)
    out = args.out or Path("data") / (f"{spec.name}.shard-{shard[0]}-of-{shard[1]}.h5" if shard else f"{spec.name}.h5")
    report = generate(spec, out, seed=args.seed, shard=shard, workers=args.workers, force=args.force,
                      compression=args.compression, progress=not args.no_progress, scheduler=args.scheduler)
    print(f"{report.path}: {report.n_generated} samples generated in {report.wall_s:.1f} s "
          f"({report.n_samples} in file)")
    return 0


def _info(args: argparse.Namespace) -> int:
    from .schema import describe, read_header

    print(describe(read_header(args.file)))
    return 0


def _validate(args: argparse.Namespace) -> int:
    from .schema import validate_file

    header = validate_file(args.file)
    print(f"{header.path}: ok ({header.dims['sample']} samples, fields {', '.join(header.fields)})")
    return 0


def _merge(args: argparse.Namespace) -> int:
    from .merge import merge

    out = merge(args.files, args.out, compression=args.compression, virtual=args.virtual,
                require_full=not args.allow_partial, force=args.force)
    print(f"{out}: merged {len(args.files)} files")
    return 0


def _convert(args: argparse.Namespace) -> int:
    from .formats import convert

    out = convert(args.file, args.out, source=args.source, target=args.to, split=args.split,
                  force=args.force, compression=args.compression)
    print(f"{out}: converted from {args.source} to {args.to}")
    return 0


def add_data_commands(subparsers: Any) -> None:
    """Add ``data`` with sub-commands generate / info / validate / merge / convert."""
    data = subparsers.add_parser("data", help="generate, inspect, merge and convert dataset files")
    sub = data.add_subparsers(dest="data_command", metavar="{generate,info,validate,merge,convert}")
    sub.required = True

    g = sub.add_parser("generate", help="generate (or complete) a dataset from a spec")
    g.add_argument("spec", help="dataset name (datasets/NAME.toml) or path to a spec TOML")
    g.add_argument("--n-samples", type=int, help="number of samples (default: the spec's)")
    g.add_argument("--out", type=Path, help="output file (default: data/NAME.h5)")
    g.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    g.add_argument("--shard", help="generate only shard K of N (K/N, 0-based), for cluster arrays")
    g.add_argument("--scheduler", metavar="ADDRESS",
                   help="integrate the blocks as Dask tasks: tcp://HOST:PORT of a running scheduler, or local:N "
                        "for a LocalCluster of N workers here (needs the dask extra)")
    g.add_argument("--seed", type=int, default=0, help="base seed; sample i uses (seed, i)")
    g.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a spec key, e.g. times.n_t=51")
    g.add_argument("--compression", choices=("gzip", "lzf"), help="compress the file once complete")
    g.add_argument("--force", action="store_true", help="overwrite an existing file of another dataset")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    g.set_defaults(func=_generate)

    i = sub.add_parser("info", help="summary: dims, fields, parameters, completeness, provenance")
    i.add_argument("file", type=Path)
    i.set_defaults(func=_info)

    v = sub.add_parser("validate", help="check schema, shapes, NaN/inf and completeness (exit 0 or 2)")
    v.add_argument("file", type=Path)
    v.set_defaults(func=_validate)

    m = sub.add_parser("merge", help="join shard files into one dataset file")
    m.add_argument("files", nargs="+", type=Path)
    m.add_argument("--out", type=Path, required=True)
    m.add_argument("--virtual", action="store_true", help="HDF5 virtual dataset referencing the shards")
    m.add_argument("--compression", choices=("gzip", "lzf"))
    m.add_argument("--allow-partial", action="store_true", help="accept shards that do not cover every sample")
    m.add_argument("--force", action="store_true")
    m.set_defaults(func=_merge)

    c = sub.add_parser("convert", help="convert PDEBench / MP-PDE files to ours, or ours to PDEBench")
    c.add_argument("file", type=Path)
    c.add_argument("--from", dest="source", choices=("pdebench", "mppde", "sciml"), required=True)
    c.add_argument("--to", choices=("sciml", "pdebench"), default="sciml")
    c.add_argument("--out", type=Path, required=True)
    c.add_argument("--split", help="MP-PDE split group (default: the only/first one)")
    c.add_argument("--compression", choices=("gzip", "lzf"))
    c.add_argument("--force", action="store_true")
    c.set_defaults(func=_convert)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``data ...`` without the main program (``python -m sciml_core.data.cli data info F``)."""
    parser = argparse.ArgumentParser(prog="sciml")
    add_data_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except SciMLError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
