"""Spiral waves of the lambda-omega reaction-diffusion system in three regimes.

    u_t = d1 Lap u + (1 - A^2) u + beta A^2 v,   v_t = d2 Lap v - beta A^2 u + (1 - A^2) v

Runs the ``stable-spiral``, ``turbulent`` and ``decay`` presets (rd-spiral's regimes, see
:mod:`sciml_core.pdes.reaction_diffusion`) with the adaptive integrating-factor
Dormand-Prince reference and prints the regime classified from the per-frame statistics.
Each run writes a run directory (solution.nc, plots/u_snapshots.png, plots/u.gif,
metrics.json) under ``--out``; the table goes to
``benchmarks/results/reaction_diffusion_spirals[.quick].json``.

    python recipes/reaction_diffusion_spirals.py [--quick] [--out runs/spirals]

``--quick`` shortens the runs (coarser grids, t_end 100 / 150 / 100) for a smoke test; the
classification is the same.  The equivalent command line for one regime:

    sciml solve reaction-diffusion --solver spectral-dopri --preset stable-spiral --out DIR
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from sciml_core import solve

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"

REGIMES = ("stable-spiral", "turbulent", "decay")
QUICK = {"stable-spiral": {"n": 64, "t_end": 100.0}, "turbulent": {"n": 192, "t_end": 150.0},
         "decay": {"n": 32, "t_end": 100.0}}


def main() -> None:
    parser = argparse.ArgumentParser(description="lambda-omega spiral regimes, classified")
    parser.add_argument("--quick", action="store_true", help="shorter runs on coarser grids")
    parser.add_argument("--out", default="runs/spirals", help="parent of the three run directories")
    parser.add_argument("--rtol", type=float, default=1e-5, help="Dormand-Prince relative tolerance")
    args = parser.parse_args()
    rows = []
    for regime in REGIMES:
        overrides = {"rtol": args.rtol, "pde": QUICK[regime] if args.quick else {}}
        start = time.perf_counter()
        result = solve("reaction-diffusion", solver="spectral-dopri", preset=regime, overrides=overrides,
                       out=f"{args.out}/{regime}", force=True, progress=False)
        wall = time.perf_counter() - start
        stats = result.metrics.get("final_stats", {})
        rows.append((regime, result.metrics.get("regime"), wall, stats.get("std", float("nan")),
                     stats.get("kurtosis", float("nan")), result.metrics.get("time_error_estimate"),
                     result.metrics.get("space_error_bound"), result.metrics.get("regime_features", {})))
    print(f"{'preset':<14} {'classified':<14} {'wall_s':>7} {'std(u)':>8} {'kurt(u)':>8} {'time err':>9} "
          f"{'space <=':>9}")
    for regime, found, wall, std, kurt, time_err, space, _ in rows:
        print(f"{regime:<14} {found:<14} {wall:7.1f} {std:8.3f} {kurt:8.3f} {time_err or float('nan'):9.1e} "
              f"{space or float('nan'):9.1e}")
    wrong = [r for r, found, *_ in rows if r != found]
    print("all regimes classified correctly" if not wrong else f"misclassified: {', '.join(wrong)}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    keys = ("preset", "classified", "wall_s", "std_u", "kurtosis_u", "time_error_estimate", "space_error_bound",
            "regime_features")
    payload = {"runs": [dict(zip(keys, row)) for row in rows], "all_correct": not wrong,
               "command": " ".join(["python", *sys.argv]), "cores": os.cpu_count(),
               "date": time.strftime("%Y-%m-%d")}
    path = RESULTS / f"reaction_diffusion_spirals{'.quick' if args.quick else ''}.json"
    path.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"results written to {path}")


if __name__ == "__main__":
    main()
