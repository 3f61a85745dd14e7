"""Lagrangian PINN on viscous Burgers with a mean flow: u_t + u u_x = nu u_xx on [0, 2 pi)
periodic, u0 = c0 + sin x (default nu = 0.01, c0 = 10, t in [0, 1]), graded against the
pseudo-spectral reference (ETDRK4, 512 Fourier points, dt 1e-4) on its own grid, beside the
Eulerian `pinn` with the same network, points and steps.

    python recipes/burgers_lagrangian_pinn.py [--set pde.c0=10] [--out DIR] [--quick]

The Lagrangian case is ``sciml solve burgers-mean-flow --solver lagrangian-pinn --preset default``.
The characteristics move with dx/dt = u and converge where the front steepens; the state
carries du/dt = nu u_xx with u_xx written through x(x0, t) by the chain rule.  Writes
benchmarks/results/burgers_lagrangian_pinn.json; plots in each run directory.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "recipes"))
from _common import print_table, write_results  # noqa: E402
from advection_lagrangian_pinn import QUICK, SHARED, SOLVERS, merge  # noqa: E402

from sciml_core import solve  # noqa: E402
from sciml_core.config import parse_overrides  # noqa: E402


def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="runs/burgers_lagrangian_pinn")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="applied to both solvers, e.g. pde.c0=5 or train.adam_steps=5000")
    parser.add_argument("--quick", action="store_true", help="tiny networks and 20 steps: a smoke run")
    args = parser.parse_args()
    results: dict[str, Any] = {"config": SHARED, "overrides": args.overrides}
    rows = []
    for label, (solver, own) in SOLVERS.items():
        overrides = merge(SHARED, own, QUICK if args.quick else {}, parse_overrides(args.overrides))
        result = solve("burgers-mean-flow", solver, preset="default", overrides=overrides, out=f"{args.out}/{label}",
                       force=True, progress=False)
        m = result.metrics
        results.update({f"{label}_rel_l2": m["rel_l2"], f"{label}_wall_s": m["wall_s"],
                        f"{label}_n_params": m["n_params"], "pde_params": result.solution.attrs["pde_params"]})
        if label == "lagrangian":
            results.update({"crossed_rows": m["crossed_rows"], "map_residual": m["map_residual"]})
        rows.append([solver, m["rel_l2"], m["wall_s"], m["n_params"]])
    print_table(rows, ["solver", "rel L2 vs spectral", "wall s", "parameters"])
    write_results("burgers_lagrangian_pinn", results, args.quick)
    return results


if __name__ == "__main__":
    main()
