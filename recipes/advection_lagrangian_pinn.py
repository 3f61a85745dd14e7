"""The transport failure mode and its Lagrangian fix: u_t + c u_x = 0 on [0, 2 pi) periodic,
u0 = sin x, for c in {1, 10, 30, 50}, Eulerian `pinn` against `lagrangian-pinn` (Mojgani,
Balajewicz & Hassanzadeh 2023) with equal networks and budgets, graded against the exact
solution sin(x - c t) on the 256 x 100 Eulerian grid.

    python recipes/advection_lagrangian_pinn.py [--speeds 1 10 30 50] [--set KEY=VALUE] [--out DIR] [--quick]

Both solvers get the same tanh MLP (4 x 50) on the same inputs [2 t / T - 1, cos x, sin x], the
exact initial condition u = u0 + t N, 4096 random collocation points redrawn every step and
3000 Adam steps (lr 1e-2 decaying to 1e-4); the Lagrangian PINN's second branch (the
characteristic x(x0, t), same architecture) is the method's own.  Each case is the same as

    sciml solve advection --solver lagrangian-pinn --preset default --set pde.c=50
    sciml solve advection --solver pinn --set pde.c=50 --set model.width=50 ... (the SHARED settings below)

Writes benchmarks/results/lagrangian_sweep.json (c, eulerian_rel_l2, lagrangian_rel_l2, wall
times) and lagrangian_sweep.png (rel L2 against c); every run directory holds its plots
(characteristics.png, solution.png, error.png, loss.png).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from _common import RESULTS, print_table, write_results  # noqa: E402

from sciml_core import solve  # noqa: E402
from sciml_core.config import parse_overrides  # noqa: E402

SHARED: dict[str, Any] = {
    "model": {"width": 50, "depth": 4, "periodic_modes": 1},
    "sampling": {"n_residual": 4096, "resample_every": 1, "method": "random"},
    "train": {"adam_steps": 3000, "lbfgs_steps": 0, "lr": 1e-2, "schedule": "exponential", "decay_rate": 0.01,
              "decay_steps": 3000, "log_every": 50, "checkpoint_every": 1000},
    "threads": 1,
}
QUICK = {"model": {"width": 16, "depth": 2},
         "sampling": {"n_residual": 256},
         "train": {"adam_steps": 20, "decay_steps": 20, "log_every": 5, "checkpoint_every": 0},
         "derivatives": "autograd"}  # (compiling jet kernels for this layout costs more than the smoke run)
SOLVERS = {"eulerian": ("pinn", {"constraints": {"initial": "hard"}}), "lagrangian": ("lagrangian-pinn", {})}


def merge(*dicts: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.2))
    ax.semilogy(results["c"], results["eulerian_rel_l2"], "o-", label="Eulerian pinn (exact IC)")
    ax.semilogy(results["c"], results["lagrangian_rel_l2"], "s-", label="lagrangian-pinn")
    ax.axhline(1e-2, color="gray", ls=":", lw=0.8)
    ax.set(xlabel="advection speed c", ylabel="rel L2 vs exact", title="u_t + c u_x = 0: equal networks and budgets")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--speeds", type=float, nargs="+", default=[1.0, 10.0, 30.0, 50.0])
    parser.add_argument("--out", default="runs/advection_lagrangian_pinn")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="applied to both solvers (equal budgets), e.g. train.adam_steps=6000")
    parser.add_argument("--quick", action="store_true", help="tiny networks and 20 steps: a smoke run")
    args = parser.parse_args()
    results: dict[str, Any] = {"c": args.speeds, "config": SHARED, "overrides": args.overrides}
    rows = []
    for c in args.speeds:
        row: list[Any] = [c]
        for label, (solver, own) in SOLVERS.items():
            overrides = merge(SHARED, own, QUICK if args.quick else {}, parse_overrides(args.overrides),
                              {"pde": {"c": c}})
            result = solve("advection", solver, preset="default", overrides=overrides, out=f"{args.out}/{label}-c{c:g}",
                           force=True, progress=False)
            m = result.metrics
            for key, value in (("rel_l2", m["rel_l2"]), ("wall_s", m["wall_s"]), ("n_params", m["n_params"])):
                results.setdefault(f"{label}_{key}", []).append(value)
            row += [m["rel_l2"], m["wall_s"]]
            print(f"c = {c:g}  {solver:16s} rel L2 {m['rel_l2']:.3e}  {m['wall_s']:.0f} s", flush=True)
        rows.append(row)
    print_table(rows, ["c", "Eulerian rel L2", "wall s", "Lagrangian rel L2", "wall s"])
    write_results("lagrangian_sweep", results, args.quick)
    plot(results, RESULTS / ("lagrangian_sweep.quick.png" if args.quick else "lagrangian_sweep.png"))
    return results


if __name__ == "__main__":
    main()
