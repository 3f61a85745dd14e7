"""Does a reference know its own accuracy?  The error estimates ``sciml solve`` writes into
metrics.json against the errors measured against converged solutions.

For each default run (``sciml solve PDE --solver spectral-etdrk4 [--preset P]``) the run's
``time_error_estimate`` (Richardson, from a rerun at twice the step) and
``space_error_estimate`` (1D: the difference to a run on 2n points) / ``space_error_bound``
(2D: to n/2) are compared with

* the time error: the run against the same grid at a tenth of the step;
* the space error: the run against 4n points (2D: 2n) at the same step, on the run's points;
* for periodic Burgers also the total error against the exact Cole-Hopf solution.

All errors are relative L2 over every saved frame.

    python benchmarks/reference_accuracy.py [--quick]

Writes ``benchmarks/results/reference_accuracy.json`` (per case: estimates, measured errors,
their ratios, wall times).
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

FULL = [("allen-cahn", None, []), ("kuramoto-sivashinsky", None, []), ("kuramoto-sivashinsky", "chaotic", []),
        ("burgers-periodic", "shock", []), ("reaction-diffusion", "stable-spiral", ["pde.t_end=20", "pde.frames=21"])]
QUICK = [("burgers-periodic", "smooth", ["n=32", "pde.t_end=0.3", "frames=4"])]


def fields(result) -> np.ndarray:
    names = [n for n in result.solution.data_vars if not n.endswith("_ref")]
    return np.stack([result.solution[n].values for n in names])


def measure(pde: str, preset: str | None, overrides: list[str]) -> dict:
    run = solve(pde, "spectral-etdrk4", preset=preset, overrides=overrides, progress=False)
    m, u = run.metrics, fields(run)
    config = json.loads(run.solution.attrs["solver_config"])  # resolved: the n and dt this run used
    n, step = config["n"], config["dt"]
    base = [o for o in overrides if not o.startswith(("n=", "dt="))] + ["error_estimate=false"]
    fine_t = fields(solve(pde, "spectral-etdrk4", preset=preset, overrides=[*base, f"n={n}", f"dt={step / 10}"],
                          progress=False))
    factor = 4 if len(m["n"]) == 1 else 2
    fine_x = fields(solve(pde, "spectral-etdrk4", preset=preset, overrides=[*base, f"n={factor * n}", f"dt={step}"],
                          progress=False))
    sub = (slice(None), slice(None), *[slice(None, None, factor)] * len(m["n"]))
    row = {"pde": pde, "preset": preset, "n": m["n"], "dt": step, "wall_s": m["wall_s"],
           "error_estimate_s": m["error_estimate_s"],
           "time_error_estimate": m["time_error_estimate"], "time_error_measured": rel_l2(u, fine_t),
           "space_error_estimate": m.get("space_error_estimate", m.get("space_error_bound")),
           "space_kind": "estimate (vs 2n)" if "space_error_estimate" in m else "bound (vs n/2)",
           "space_error_measured": rel_l2(u, fine_x[sub])}
    if m.get("rel_l2") is not None:
        row["exact_error"] = m["rel_l2"]
    for kind in ("time", "space"):
        measured = row[f"{kind}_error_measured"]
        row[f"{kind}_ratio"] = row[f"{kind}_error_estimate"] / measured if measured > 1e-14 else None
    return row


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import print_table, write_results

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one small case")
    args = parser.parse_args()
    start = time.perf_counter()
    rows = [measure(*case) for case in (QUICK if args.quick else FULL)]
    print_table([(f"{r['pde']} {r['preset'] or ''}".strip(), "x".join(map(str, r["n"])), r["dt"],
                  r["time_error_estimate"], r["time_error_measured"], r["space_error_estimate"],
                  r["space_error_measured"], r["space_kind"], r.get("exact_error", ""), r["wall_s"])
                 for r in rows],
                ["case", "n", "dt", "time est", "time meas", "space est", "space meas", "space", "exact", "wall_s"])
    write_results(__file__, {"cases": rows, "wall_s": round(time.perf_counter() - start, 1)}, quick=args.quick)


if __name__ == "__main__":
    main()
