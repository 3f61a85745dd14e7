"""The command line shared by the hard-constraint MoE recipes (one per PDE): generate the
dataset file when missing, run ``hard-constraint-moe`` on it, print the held-out rel L2 and
write ``benchmarks/results/<results>_<constraint>[.<preset>].json``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sciml_core import solve
from sciml_core.data.generate import generate
from sciml_core.data.specs import load_spec


def run_recipe(pde: str, spec: str, run_name: str, results: str, doc: str) -> dict:
    """``[--preset] [--constraint] [--data] [--out] [--device] [--set]``: ``spec`` names the
    dataset (``data/<spec>.h5``), ``run_name`` the default run directory, ``results`` the JSON."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="default", choices=["quick", "default", "paper"])
    parser.add_argument("--constraint", default="moe", choices=["moe", "hard", "soft"])
    parser.add_argument("--data", default=str(REPO / "data" / f"{spec}.h5"))
    parser.add_argument("--out", default=None, help=f"run directory (default runs/{run_name}_<constraint>-<preset>)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    data = Path(args.data)
    if not data.exists():
        generate(load_spec(spec), data, seed=0, progress=sys.stderr.isatty())
    out = args.out or f"runs/{run_name}_{args.constraint}-{args.preset}"
    result = solve(pde, "hard-constraint-moe", preset=args.preset, data=data, out=out, force=True,
                   overrides=[f"constraint={args.constraint}", *args.overrides], device=args.device,
                   progress=sys.stderr.isatty())
    m = result.metrics
    print(f"{pde} / hard-constraint-moe ({args.constraint}) --preset {args.preset}: held-out rel L2 "
          f"{m['rel_l2']:.3e}, train {m['train_wall_s']:.1f} s, total {m['wall_s']:.1f} s, {m['steps']} steps  "
          f"(run directory: {out})")
    suffix = "" if args.preset == "default" else f".{args.preset}"
    path = REPO / "benchmarks" / "results" / f"{results}_{args.constraint}{suffix}.json"
    path.write_text(json.dumps({**m, "command": " ".join(["python", *sys.argv]), "cores": os.cpu_count()},
                               indent=2, default=str) + "\n")
    return m
