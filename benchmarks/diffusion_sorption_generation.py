"""Diffusion-sorption generation: ``fv-diffusion-sorption`` (implicit BDF, batched) against
PDEBench's way of integrating the same scheme (scipy RK45 at its default tolerances, one
sample at a time).

* ours: ``sciml data generate diffusion-sorption`` (64 samples of 1024 cells x 501 frames,
  blocks of 8, one worker), seconds per sample; and one sample alone;
* PDEBench's integration: ``solve_ivp(method="RK45")`` at scipy's defaults (rtol 1e-3, atol
  1e-6), as PDEBench's ``Simulator`` runs it, on sample 0 (seed 0) with this package's
  right-hand side (equal to PDEBench's ``rc_ode``: ``tests/test_diffusion_sorption.py``);
  its wall time and its relative L2 distance to our tight solution at t = 1 and t = 500,
  the time error PDEBench's own files carry.

    python benchmarks/diffusion_sorption_generation.py [--quick]

Writes ``benchmarks/results/diffusion_sorption_generation.json``.  ``--quick``: 2 samples on
64 cells to t = 50.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.integrate import solve_ivp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sciml_core.data.generate import generate  # noqa: E402
from sciml_core.data.schema import open_dataset  # noqa: E402
from sciml_core.data.specs import load_spec  # noqa: E402
from sciml_core.metrics import rel_l2  # noqa: E402
from sciml_core.registry import get_pde, get_solver  # noqa: E402
from sciml_core.solver import RunContext  # noqa: E402

FULL = {}  # the spec as shipped: 64 samples, blocks of 8, 1024 cells, t <= 500, 501 frames
QUICK = {"n_samples": 2, "block_size": 2, "times": {"t_end": 50.0, "n_t": 51}, "solver": {"config": {"n": 64}}}


def measure(overrides: dict) -> dict:
    from sciml_core.config import build_config

    spec = load_spec("diffusion-sorption", overrides)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        generate(spec, Path(tmp) / "ds.h5", seed=0, progress=False)
        wall = time.perf_counter() - start
        with open_dataset(Path(tmp) / "ds.h5") as ds:
            ours, t, u0 = ds["u"].values[0].astype(np.float64), ds["t"].values, float(ds["ic_u0"][0])
    pde = get_pde("diffusion-sorption").from_params(spec.pde_params)
    cls = get_solver("fv-diffusion-sorption")
    solver = cls(pde, build_config(cls.Config, spec.solver.config), RunContext(progress=False))
    x0 = np.full((1, solver.n), u0)
    start = time.perf_counter()
    tight = solver.integrate({"u": x0}, t)["u"][0]  # float64, ours at rtol 1e-6, one sample alone
    alone = time.perf_counter() - start
    from solvers.diffusion_sorption.reference import fv_rhs

    start = time.perf_counter()
    rk45 = solve_ivp(lambda _, y: fv_rhs(pde, y[None])[0], (float(t[0]), float(t[-1])), x0[0], method="RK45",
                     t_eval=t)  # PDEBench's Simulator: scipy's defaults rtol 1e-3, atol 1e-6
    rk45_wall = time.perf_counter() - start
    at = {f"t={t[k]:g}": k for k in (int(np.argmin(abs(t - 1.0))), t.size - 1)}
    return {"n_samples": spec.n_samples, "block_size": spec.block_size, "cells": solver.n, "frames": int(t.size),
            "t_end": float(t[-1]), "generate_wall_s": round(wall, 2), "s_per_sample": wall / spec.n_samples,
            "one_sample_alone_s": alone, "rk45_wall_s": rk45_wall, "rk45_nfev": int(rk45.nfev),
            "speedup_per_sample": rk45_wall / (wall / spec.n_samples),
            "stored_vs_tight_rel_l2": rel_l2(ours, tight),  # float32 storage of the same solution
            "rk45_vs_tight_rel_l2": {k: rel_l2(rk45.y[:, i], tight[i]) for k, i in at.items()}}


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import print_table, write_results

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 samples on 64 cells to t = 50")
    args = parser.parse_args()
    row = measure(QUICK if args.quick else FULL)
    print_table([(f"{row['n_samples']} x {row['cells']} cells x {row['frames']} frames", row["s_per_sample"],
                  row["one_sample_alone_s"], row["rk45_wall_s"], row["speedup_per_sample"],
                  ", ".join(f"{k}: {v:.2e}" for k, v in row["rk45_vs_tight_rel_l2"].items()))],
                ["dataset", "ours s/sample", "ours alone s", "RK45 s", "speedup", "RK45 time error"])
    write_results(__file__, row, quick=args.quick)


if __name__ == "__main__":
    main()
