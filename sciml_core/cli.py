"""The ``sciml`` command: ``list``, ``solve``, ``eval`` and ``data``.

A user mistake (unknown name, bad value, unreadable file, unwritable output) prints one
line naming the problem and exits with status 2; a run that diverged (non-finite loss) prints
one line naming the last good checkpoint and exits with status 3; no traceback for either.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from .errors import DivergenceError, SciMLError


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line (and still exit 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise SciMLError(f"{self.prog}: {message}")


def _presets(cls: Any) -> str:
    smoke = getattr(cls, "smoke_presets", ())
    return ", ".join(f"{p} (smoke test)" if p in smoke else p for p in cls.presets)


def _cmd_list(args: argparse.Namespace) -> int:
    from .data.specs import list_datasets, load_spec, missing_generator
    from .registry import list_pdes, list_solvers

    print("solvers:")
    for name, cls in list_solvers().items():
        print(f"  {name:<22} {cls.kind:<10} {cls.description}")
        print(f"  {'':<22} {'':<10} presets: {_presets(cls)}{'; PDEs: ' + ', '.join(cls.pdes) if cls.pdes else ''}")
    print("PDEs:")
    for name, cls in list_pdes().items():
        presets = f"  presets: {', '.join(cls.presets)}" if cls.presets else ""
        print(f"  {name:<22} {cls.description}{presets}")
    print("datasets (sciml data generate NAME):")
    for name, description in list_datasets().items():
        try:
            missing = missing_generator(load_spec(name))
        except SciMLError as exc:
            missing = str(exc)
        note = f"  (not available yet: needs {missing})" if missing else ""
        print(f"  {name:<22} {description}{note}")
    return 0


def _cmd_solve(args: argparse.Namespace) -> int:
    from .api import solve
    from .train import distributed

    out = args.out
    if out is None and args.pde is not None and args.solver is not None:
        import datetime as dt

        out = Path("runs") / f"{args.pde}-{args.solver}-{dt.datetime.now():%Y%m%d-%H%M%S}"
    if args.nproc != 1 and not distributed.launched():
        from .train.launch import check_nproc, launch

        check_nproc(args.nproc, args.device)
        return launch([*args.argv, *(["--out", str(out)] if args.out is None and out is not None else [])],
                      args.nproc)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if args.nproc not in (1, world):
        raise SciMLError(f"--nproc {args.nproc} under a torchrun of {world} ranks: give one or the other")
    result = solve(args.pde, args.solver, config=args.config, preset=args.preset, overrides=args.set or [],
                   out=out, device=args.device, dtype=args.dtype, seed=args.seed, budget_s=args.budget_s,
                   resume=args.resume, force=args.force, data=args.data)
    if not distributed.is_main():
        return 0
    _print_metrics(result.metrics)
    if result.run_dir is not None:
        print(f"run directory: {result.run_dir}   plots: {result.run_dir / 'plots'}")
    return 0


def _print_metrics(metrics: dict[str, Any]) -> None:
    keys = [k for k in ("pde", "solver", "kind", "preset", "rel_l2", "wall_s", "steps", "n_params",
                        "device", "dtype", "status") if k in metrics]
    keys += [k for k in metrics if k not in keys and isinstance(metrics[k], (int, float, str)) and k != "seed"]
    width = max(len(k) for k in keys)
    for key in keys:
        value = metrics[key]
        text = f"{value:.4g}" if isinstance(value, float) else str(value)
        print(f"  {key:<{width}}  {text}")


def _cmd_eval(args: argparse.Namespace) -> int:
    from .evaluate import evaluate_run

    metrics = evaluate_run(args.run_dir, reference=args.reference)
    _print_metrics(metrics)
    print(f"written: {Path(args.run_dir) / 'metrics.eval.json'} (the run's metrics.json is unchanged)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(prog="sciml", description="Scientific ML: PINNs, neural operators and spectral references.")
    parser.add_argument("--version", action="version", version=f"sciml {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("list", help="solvers, PDEs, presets and datasets")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("solve", help="solve a PDE with a solver and write a run directory")
    p.add_argument("pde", nargs="?", help="PDE name (see `sciml list`)")
    p.add_argument("--solver", help="solver name (see `sciml list`)")
    p.add_argument("--preset", help="quick | default | paper, or a PDE regime preset")
    p.add_argument("--config", help="TOML file in the layout of a run's config.toml")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config value (repeatable)")
    p.add_argument("--out", help="run directory (default runs/<pde>-<solver>-<time>)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--dtype", choices=["float32", "float64"], help="default: float32 (trained), float64 (references)")
    p.add_argument("--seed", type=int)
    p.add_argument("--budget-s", type=float, dest="budget_s", help="wall-clock budget in seconds")
    p.add_argument("--resume", action="store_true", help="continue from the run directory's checkpoint")
    p.add_argument("--force", action="store_true", help="overwrite a run already in --out")
    p.add_argument("--data", help="dataset file (operators)")
    p.add_argument("--nproc", type=int, default=1, metavar="N",
                   help="train on N processes of this machine (starts torchrun; one GPU each on CUDA)")
    p.set_defaults(func=_cmd_solve)

    p = sub.add_parser("eval", help="recompute a run's metrics, optionally against a reference file")
    p.add_argument("run_dir")
    p.add_argument("--reference", help="netCDF/HDF5 file holding the reference fields")
    p.set_defaults(func=_cmd_eval)

    from .data.cli import add_data_commands

    add_data_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sciml`` console script; returns the exit status."""
    try:
        argv = list(sys.argv[1:] if argv is None else argv)
        args = build_parser().parse_args(argv)
        args.argv = argv  # as given: `solve --nproc N` hands it on to torchrun
        return int(args.func(args) or 0)
    except DivergenceError as exc:
        print(f"sciml: diverged: {exc}", file=sys.stderr)
        return 3
    except SciMLError as exc:
        print(f"sciml: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sciml: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`, which closed early
        sys.stdout = open(os.devnull, "w")
        return 0
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
