"""Lid-driven cavity with a data-free hard-boundary PINN, validated against Ghia, Ghia & Shin
(1982): stream function psi = u_lid(x) y^2 (y - 1) + phi^2 N, phi = 16 x (1 - x) y (1 - y),
pressure from the network's second output, no labelled data.

    python recipes/cavity_hard_bc_pinn.py [--re 100|400|1000] [--budget-s S] [--set KEY=VALUE] [--quick]

The same as ``sciml solve lid-driven-cavity --solver hard-bc-pinn --preset default`` (Re 400
and 1000: ``--preset re400`` / ``re1000``, stretch cases).  The lid's corner singularity is
removed by the ramp u_lid = (tanh(x / d) tanh((1 - x) / d))^2 (``pde.lid_width`` = d); see
``sciml_core/pdes/lid_driven_cavity.py``.  Prints and writes
benchmarks/results/cavity_re<Re>.json (u_centerline_rel_l2_vs_ghia, v_centerline_rel_l2_vs_ghia,
wall_s); plots/centerlines.png (u on x = 0.5 and v on y = 0.5 against the Ghia table) and
plots/flow.png (streamlines, pressure) in the run directory.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from _common import print_table, write_results  # noqa: E402

from sciml_core import solve  # noqa: E402

KEYS = ("u_centerline_rel_l2_vs_ghia", "v_centerline_rel_l2_vs_ghia", "wall_s", "steps", "final_loss",
        "boundary_velocity_max_error")
QUICK = ["model.width=16", "model.depth=2", "sampling.n_residual=256", "train.adam_steps=20", "train.lbfgs_steps=0",
         "derivatives=autograd"]


def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--re", type=int, default=100, choices=[100, 400, 1000])
    parser.add_argument("--out", default=None, help="run directory (default runs/cavity_re<Re>)")
    parser.add_argument("--budget-s", type=float, default=None, help="wall-clock training budget")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--quick", action="store_true", help="a tiny network for 20 steps: a smoke run")
    args = parser.parse_args()
    out = args.out or f"runs/cavity_re{args.re}"
    result = solve("lid-driven-cavity", "hard-bc-pinn", preset="default" if args.re == 100 else f"re{args.re}",
                   overrides=(QUICK if args.quick else []) + args.overrides, out=out, force=True,
                   budget_s=args.budget_s, progress=sys.stderr.isatty())
    m = result.metrics
    print_table([[k, m[k]] for k in KEYS], ["lid-driven cavity, Re = %d" % args.re, "value"])
    results = {k: m[k] for k in KEYS}
    results.update({"Re": args.re, "pde_params": result.solution.attrs["pde_params"], "run_dir": out,
                    "status": m["status"], "overrides": args.overrides})
    write_results(f"cavity_re{args.re}", results, args.quick)
    return results


if __name__ == "__main__":
    main()
