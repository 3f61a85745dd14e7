"""Schafer-Turek benchmark 2D-1 (steady flow past a cylinder in a channel, Re = 20) with a
data-free hard-boundary PINN: drag and lift coefficients from the stresses on the cylinder
surface and the pressure difference across it, against the benchmark values
c_D = 5.5795, c_L = 0.010619, Delta p = 0.11752.

    python recipes/cylinder_hard_bc_pinn.py [--budget-s S] [--set KEY=VALUE] [--quick]

The same as ``sciml solve cylinder-2d1 --solver hard-bc-pinn --preset default``.  The no-slip
walls and cylinder and the parabolic inflow are exact (stream-function lift and distance
function in ``sciml_core/pdes/cylinder.py``; the cylinder's stream-function value is trained);
the do-nothing outflow is a soft term.  Writes benchmarks/results/cylinder_2d1.json (c_d, c_l,
delta_p, their relative errors, wall_s); plots/cylinder_pressure.png (surface pressure against
the angle, the near-field pressure) and plots/flow.png in the run directory.
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
from sciml_core.pdes.cylinder import BENCHMARK_2D1  # noqa: E402

KEYS = ("c_d", "c_l", "delta_p", "c_d_rel_error", "c_l_rel_error", "delta_p_rel_error", "psi_island", "wall_s",
        "steps", "final_loss", "boundary_velocity_max_error")
QUICK = ["model.width=16", "model.depth=2", "sampling.n_residual=256", "sampling.n_boundary=32",
         "train.adam_steps=20", "train.lbfgs_steps=0", "derivatives=autograd"]


def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="runs/cylinder_2d1")
    parser.add_argument("--budget-s", type=float, default=None, help="wall-clock training budget")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--quick", action="store_true", help="a tiny network for 20 steps: a smoke run")
    args = parser.parse_args()
    result = solve("cylinder-2d1", "hard-bc-pinn", preset="default", overrides=(QUICK if args.quick else [])
                   + args.overrides, out=args.out, force=True, budget_s=args.budget_s, progress=sys.stderr.isatty())
    m = result.metrics
    print_table([[k, m[k], BENCHMARK_2D1.get(k, "")] for k in KEYS], ["Schafer-Turek 2D-1", "PINN", "benchmark"])
    results = {k: m[k] for k in KEYS}
    results.update({"benchmark": BENCHMARK_2D1, "pde_params": result.solution.attrs["pde_params"],
                    "run_dir": args.out, "status": m["status"], "overrides": args.overrides})
    write_results("cylinder_2d1", results, args.quick)
    return results


if __name__ == "__main__":
    main()
