"""The spectral references against independent solutions: the README's "Measured accuracy" list.

* agreement: ``spectral-etdrk4`` at each PDE's default step against ``spectral-dopri`` (adaptive
  integrating-factor Dormand-Prince, another integrator family) at a tight tolerance (1D: rtol
  1e-12; 2D, n = 128: rtol 1e-9), same grid;
* space: ``spectral-etdrk4`` on n against 2n points (1D, on the run's points);
* exact: against the exact solution: periodic Burgers (Cole-Hopf) at t = 0.3 on n = 16 ... 128
  points, integrated to round-off in time (``spectral-dopri``, rtol 1e-13, no dealiasing), so
  the error is the spatial one; ``spectral-etdrk4`` on Burgers at n = 128, dt = 1e-3 and on the
  Taylor-Green vortex.

Every error is a relative L2 over every saved frame (all fields).  The full run adds the
observed orders in time (Allen-Cahn d = 1e-2, n = 64, t = 0.5, a log-log fit over four steps
against ``spectral-dopri`` at rtol 1e-13) and the adaptive controller's response to a 1000x
tighter rtol (error and steps, t in [0, 1]).

    python benchmarks/spectral_accuracy.py [--quick]

Writes ``benchmarks/results/spectral_accuracy.json`` (one row per case: kind, settings,
error, wall times).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sciml_core import solve  # noqa: E402
from sciml_core.metrics import rel_l2  # noqa: E402

PLAIN = ["error_estimate=false"]
#: (kind, PDE, preset, overrides of both runs, overrides of the first run, tolerance of the other run[, solver])
FULL = [
    ("agreement", "allen-cahn", None, [], [], 1e-12),
    ("agreement", "allen-cahn", "d1e-3", [], [], 1e-12),
    ("agreement", "kuramoto-sivashinsky", None, [], [], 1e-12),
    ("agreement", "kuramoto-sivashinsky", "chaotic", [], [], 1e-12),
    ("agreement", "kuramoto-sivashinsky", "chaotic", [], ["dt=1e-5"], 1e-12),
    ("agreement", "gray-scott", "pearson", ["pde.n=128", "pde.t_end=1000", "pde.frames=11"], [], 1e-9),
    ("agreement", "fitzhugh-nagumo", "pdebench", ["pde.n=128"], [], 1e-9),
    ("agreement", "navier-stokes-2d", "kolmogorov", ["pde.n=128", "pde.t_end=5", "pde.frames=11"], [], 1e-9),
    ("agreement", "reaction-diffusion", "stable-spiral", ["pde.t_end=20", "pde.frames=21"], [], 1e-9),
    ("space", "allen-cahn", None, [], [], None),
    ("space", "kuramoto-sivashinsky", None, [], [], None),
    ("space", "kuramoto-sivashinsky", "chaotic", [], [], None),
    *[("exact", "burgers-periodic", "smooth", ["pde.t_end=0.3", "frames=2", "dealias=false", "rtol=1e-13",
                                                "atol=1e-15"], [f"n={n}"], None, "spectral-dopri")
      for n in (16, 32, 64, 96, 128)],
    ("exact", "burgers-periodic", "smooth", ["pde.t_end=0.25", "frames=6"], ["n=128", "dt=1e-3"], None),
    ("exact", "navier-stokes-2d", "taylor-green", [], [], None),
]
QUICK = [
    ("agreement", "allen-cahn", None, ["n=32", "pde.t_end=0.1", "frames=3"], [], 1e-10),
    ("space", "allen-cahn", None, ["n=32", "pde.t_end=0.1", "frames=3"], [], None),
    ("exact", "burgers-periodic", "smooth", ["pde.t_end=0.3", "frames=3"], ["n=32"], None),
]


def _fields(result) -> np.ndarray:
    names = [n for n in result.solution.data_vars if not n.endswith("_ref")]
    return np.stack([result.solution[n].values for n in names])


def _run(pde: str, preset: str | None, solver: str, overrides: list[str]):
    return solve(pde, solver, preset=preset, overrides=[*PLAIN, *overrides], device="cpu", progress=False)


def measure(kind: str, pde: str, preset: str | None, common: list[str], own: list[str], rtol: float | None,
            solver: str = "spectral-etdrk4") -> dict:
    """One case of :data:`FULL` (see the module docstring)."""
    run = _run(pde, preset, solver, [*common, *own])
    n = run.metrics["n"][0]  # the grid this run used (square in 2D)
    row = {"kind": kind, "pde": pde, "preset": preset, "solver": solver, "overrides": [*common, *own],
           "n": run.metrics["n"], "dt": json.loads(run.solution.attrs["solver_config"]).get("dt", "adaptive"),
           "steps": run.metrics["steps"], "wall_s": run.metrics["wall_s"]}
    same_grid = [o for o in common if not o.startswith("n=")]
    if kind == "agreement":
        other = _run(pde, preset, "spectral-dopri", [*same_grid, f"n={n}", f"rtol={rtol}", f"atol={rtol}"])
        row.update(other_solver="spectral-dopri", other_rtol=rtol, other_wall_s=other.metrics["wall_s"],
                   error=rel_l2(_fields(run), _fields(other)))
    elif kind == "space":
        fine = _run(pde, preset, "spectral-etdrk4", [*same_grid, f"n={2 * n}"])
        row.update(other_n=2 * n, error=rel_l2(_fields(run), _fields(fine)[..., ::2]))
    else:
        row["error"] = run.metrics["rel_l2"]
    return row


ORDER_CASE = ["pde.d=1e-2", "n=64", "pde.t_end=0.5", "frames=2"]


def measure_orders() -> dict:
    """Observed order of each fixed-step integrator and the adaptive controller's response."""
    tight = _fields(_run("allen-cahn", None, "spectral-dopri", [*ORDER_CASE, "rtol=1e-13", "atol=1e-15"]))
    dts = [0.5 / 10, 0.5 / 20, 0.5 / 40, 0.5 / 80]
    out = {}
    for solver in ("spectral-etdrk4", "spectral-rk4"):
        errors = [rel_l2(_fields(_run("allen-cahn", None, solver, [*ORDER_CASE, f"dt={dt}"])), tight) for dt in dts]
        out[solver] = {"dts": dts, "errors": errors, "order": float(np.polyfit(np.log(dts), np.log(errors), 1)[0])}
    case = ["pde.d=1e-2", "n=64", "frames=11"]
    tight = _fields(_run("allen-cahn", None, "spectral-dopri", [*case, "rtol=1e-13", "atol=1e-15"]))
    adaptive = {}
    for rtol in (1e-5, 1e-8):
        run = _run("allen-cahn", None, "spectral-dopri", [*case, f"rtol={rtol}", "atol=1e-12"])
        adaptive[f"rtol={rtol:g}"] = {"error": rel_l2(_fields(run), tight), "steps": run.metrics["steps"]}
    out["spectral-dopri"] = adaptive
    return out


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import print_table, write_results

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="three small cases")
    args = parser.parse_args()
    start = time.perf_counter()
    rows = [measure(*case) for case in (QUICK if args.quick else FULL)]
    print_table([(r["kind"], f"{r['pde']} {r['preset'] or ''}".strip(), r["solver"], " ".join(r["overrides"]),
                  r["n"], r["dt"], r.get("other_solver", r.get("other_n", "exact")), r["error"], r["wall_s"])
                 for r in rows], ["kind", "case", "solver", "overrides", "n", "dt", "against", "rel L2", "wall_s"])
    orders = {} if args.quick else measure_orders()
    for solver, fit in orders.items():
        print(f"{solver}: " + (f"order {fit['order']:.3f} (errors {', '.join(f'{e:.2e}' for e in fit['errors'])})"
                               if "order" in fit else "; ".join(f"{k}: error {v['error']:.2e} in {v['steps']} steps"
                                                               for k, v in fit.items())))
    write_results(__file__, {"cases": rows, "orders": orders, "wall_s": round(time.perf_counter() - start, 1)},
                  quick=args.quick)


if __name__ == "__main__":
    main()
