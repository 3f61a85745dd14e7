"""The command line shared by the causal-PINN recipes (``recipes/*_causal_pinn.py``).

Each recipe is ``python recipes/<pde>_causal_pinn.py [--preset quick|default|paper] [--out DIR]
[--budget-s S] [--set key=value ...]``: it runs ``sciml_core.solve(pde, "causal-pinn", ...)``,
prints rel L2 and wall time, and records the metrics in
``benchmarks/results/<recipe>[.<preset>].json`` (quick runs: ``.quick.json``, git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from sciml_core import solve

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


def main(pde: str, script: str, doc: str) -> dict:
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="default", choices=["quick", "default", "paper"])
    parser.add_argument("--out", default=None, help="run directory (default runs/<recipe>-<preset>)")
    parser.add_argument("--budget-s", type=float, default=None, help="wall-clock training budget")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    name = Path(script).stem
    out = args.out or f"runs/{name}-{args.preset}"
    result = solve(pde, "causal-pinn", preset=args.preset, overrides=args.overrides, out=out, force=True,
                   budget_s=args.budget_s, device=args.device, progress=sys.stderr.isatty())
    m = result.metrics
    print(f"{pde} / causal-pinn --preset {args.preset}: rel L2 {m['rel_l2']:.3e}, wall {m['wall_s']:.1f} s, "
          f"{m['steps']} steps, status {m['status']}  (run directory: {out})")
    suffix = ".quick" if args.preset == "quick" else ("" if args.preset == "default" else f".{args.preset}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}{suffix}.json"
    payload = {**m, "command": " ".join(["python", *sys.argv]), "cores": os.cpu_count()}
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return m
