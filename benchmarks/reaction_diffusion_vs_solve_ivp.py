"""Stable spiral to t = 20: scipy ``solve_ivp`` (the common way) against ``spectral-dopri``.

Problem: the lambda-omega ``stable-spiral`` preset (d1 = d2 = 0.1, beta = 1, L = 20) to
t = 20 at n = 128 and n = 256, no dealiasing (as rd-spiral).  Both sides solve the same
semi-discrete Fourier system; the time error of each is measured at t = 20 against a
converged reference computed here (``spectral-dopri`` at rtol = 1e-10), and each must reach
a relative error <= 1e-6.

(a) ``solve_ivp(method="RK45", rtol=1e-6, atol=1e-9)`` on the flattened rfft state with
    explicit diffusion -- its step is held by the diffusion stability limit;
(b) ``spectral-dopri`` (integrating-factor Dormand-Prince 5(4), the complex form
    z = u + i v with the limit-cycle rotation in the exact linear part), rtol = 5e-6 for
    one trajectory and 7e-7 for the batch of 16 (whose worst member must also reach 1e-6),
    on the torch back end (CPU); the reference runs on the numpy / scipy.fft back end.

Each side is timed after one short warm-up run (t_end / 40) that takes first-call costs
(FFT plans, thread pools) out of both.  Also: a batch of 16 different spiral initial
conditions at n = 128 (solve_ivp looped against one batched call) in trajectories per
minute, and the time per step against the FFTs alone in that step.  ``--quick``: n = 64 / 128, t = 2, batch 2 (smoke run).

    flock /tmp/sciml-bench.lock .venv/bin/python benchmarks/reaction_diffusion_vs_solve_ivp.py
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import scipy.fft
from scipy.integrate import solve_ivp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import print_table, write_results

import solvers.spectral  # noqa: F401  (registers the solvers)
from sciml_core.config import build_config
from sciml_core.pdes.reaction_diffusion import spiral_initial_condition
from sciml_core.registry import get_pde, get_solver
from sciml_core.solver import RunContext

OURS = {"dealias": False, "rtol": 5e-6, "atol": 1e-9, "backend": "torch"}
# One step sequence serves the whole batch (worst local error); sample 11 amplifies the
# accumulated error about 3x more than the others, so the batch needs a tighter rtol.
OURS_BATCH = {**OURS, "rtol": 7e-7}
REFERENCE = {"dealias": False, "rtol": 1e-10, "atol": 1e-13, "backend": "numpy"}
TARGET_ERR = 1e-6


def make_solver(pde, overrides):  # type: ignore[no-untyped-def]
    cls = get_solver("spectral-dopri")
    return cls(pde, build_config(cls.Config, overrides), RunContext(progress=False))


def initial_states(solver, pde, batch: int) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    """Sample 0: the preset's spiral; others: shifted centres and rotated phases (seeded)."""
    g = solver.grid()
    y, x = np.meshgrid(g["y"], g["x"], indexing="ij")
    rng = np.random.default_rng(0)
    states = [spiral_initial_condition(x, y, pde.m)]
    for _ in range(batch - 1):
        x0, y0 = rng.uniform(-2, 2, size=2)
        states.append(spiral_initial_condition(x, y, pde.m, x0, y0, rng.uniform(0, 2 * np.pi)))
    return {f: np.stack([s[f] for s in states]) for f in ("u", "v")}


def solve_ivp_rd(pde, u0: np.ndarray, v0: np.ndarray, t_end: float) -> tuple[np.ndarray, int]:  # type: ignore[no-untyped-def]
    """rd-spiral's way: RK45 on the flattened rfft2 state, diffusion explicit, no dealiasing."""
    n = u0.shape[-1]
    k = 2 * np.pi / pde.length * np.fft.fftfreq(n, 1.0 / n)
    kx = 2 * np.pi / pde.length * np.arange(n // 2 + 1)
    lap = -np.stack([pde.d1, pde.d2])[:, None, None] * (k[:, None] ** 2 + kx[None, :] ** 2)
    shape = (2, n, n // 2 + 1)

    def rhs(_t: float, y: np.ndarray) -> np.ndarray:
        U = y.reshape(shape)
        u, v = scipy.fft.irfft2(U, s=(n, n), workers=-1)
        a2 = u * u + v * v
        nl = np.stack([(1 - a2) * u + pde.beta * a2 * v, -pde.beta * a2 * u + (1 - a2) * v])
        return (scipy.fft.rfft2(nl, workers=-1) + lap * U).ravel()

    y0 = scipy.fft.rfft2(np.stack([u0, v0]), workers=-1).ravel()
    sol = solve_ivp(rhs, (0.0, t_end), y0, method="RK45", rtol=1e-6, atol=1e-9, t_eval=[t_end])
    return scipy.fft.irfft2(sol.y[:, -1].reshape(shape), s=(n, n), workers=-1), int(sol.nfev)


def rel_err(a: np.ndarray, ref: np.ndarray) -> float:
    return float(np.linalg.norm(a - ref) / np.linalg.norm(ref))


def fft_pair_seconds(solver, batch: int, repeats: int = 50) -> float:  # type: ignore[no-untyped-def]
    """Time of one forward + inverse transform of the solver's state (batch given)."""
    ops = solver.ops
    U = ops.fft(ops.asarray(np.ones((batch, 1, *ops.shape)) * (1 + 1j)))
    ops.fft(ops.ifft(U))
    start = time.perf_counter()
    for _ in range(repeats):
        ops.fft(ops.ifft(U))
    return (time.perf_counter() - start) / repeats


def compare(n: int, t_end: float, batch: int = 1) -> dict[str, float]:
    pde = get_pde("reaction-diffusion").from_params(preset="stable-spiral", params={"n": n})
    ours, ref_solver = make_solver(pde, OURS if batch == 1 else OURS_BATCH), make_solver(pde, REFERENCE)
    ic = initial_states(ours, pde, batch)
    ref = ref_solver.integrate(ic, [t_end])
    ref = np.stack([ref["u"][:, -1], ref["v"][:, -1]], axis=1)  # (batch, 2, n, n)
    # warm-up: one short run each (FFT plans, thread pools, first-call allocations)
    solve_ivp_rd(pde, ic["u"][0], ic["v"][0], t_end / 40)
    ours.integrate({f: a[:1] for f, a in ic.items()}, [t_end / 40])
    start, finals, nfev = time.perf_counter(), [], 0
    for b in range(batch):
        final, evals = solve_ivp_rd(pde, ic["u"][b], ic["v"][b], t_end)
        finals.append(final)
        nfev += evals
    ivp_wall = time.perf_counter() - start
    start = time.perf_counter()
    out = ours.integrate(ic, [t_end])
    our_wall = time.perf_counter() - start
    stats = ours.last_stats
    mine = np.stack([out["u"][:, -1], out["v"][:, -1]], axis=1)
    fft_total = fft_pair_seconds(ours, batch) * stats["rhs_evals"]
    return {
        "n": n, "batch": batch, "ivp_wall": ivp_wall, "ivp_err": max(rel_err(f, r) for f, r in zip(finals, ref)),
        "ivp_nfev": nfev, "our_wall": our_wall, "our_err": max(rel_err(m, r) for m, r in zip(mine, ref)),
        "our_nfev": stats["rhs_evals"], "our_steps": stats["steps"] + stats["rejected"],
        "step_over_fft": our_wall / fft_total,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="reduced smoke run (n = 64 / 128, t = 2, batch 2)")
    args = parser.parse_args()
    small, large, t_end, batch = (64, 128, 2.0, 2) if args.quick else (128, 256, 20.0, 16)
    runs = [compare(small, t_end), compare(large, t_end), compare(small, t_end, batch)]
    rows = []
    for r in runs:
        rows.append([f"n={r['n']} batch={r['batch']}", r["ivp_wall"], r["ivp_nfev"], r["ivp_err"], r["our_wall"],
                     r["our_nfev"], r["our_err"], r["ivp_wall"] / r["our_wall"], r["step_over_fft"]])
    print(f"stable spiral to t = {t_end}: solve_ivp RK45 (rtol 1e-6, atol 1e-9) vs spectral-dopri {OURS}"
          f" (batch: rtol {OURS_BATCH['rtol']})")
    print_table(rows, ["case", "ivp_s", "ivp_nfev", "ivp_err", "ours_s", "ours_nfev", "ours_err", "speedup",
                       "step/fft"])
    single, big, many = runs
    per_min = 60.0 * many["batch"]
    results = {
        "t_end": t_end, "n": single["n"], "n_large": big["n"], "batch": many["batch"], "ours_config": OURS, "ours_batch_config": OURS_BATCH,
        "reference_config": REFERENCE, "target_rel_err": TARGET_ERR,
        "solve_ivp_wall_s": single["ivp_wall"], "solve_ivp_rel_err": single["ivp_err"],
        "solve_ivp_nfev": single["ivp_nfev"], "ours_wall_s": single["our_wall"], "ours_rel_err": single["our_err"],
        "ours_nfev": single["our_nfev"], "speedup": single["ivp_wall"] / single["our_wall"],
        "solve_ivp_wall_s_n256": big["ivp_wall"], "solve_ivp_rel_err_n256": big["ivp_err"],
        "solve_ivp_nfev_n256": big["ivp_nfev"], "ours_wall_s_n256": big["our_wall"],
        "ours_rel_err_n256": big["our_err"], "ours_nfev_n256": big["our_nfev"],
        "speedup_n256": big["ivp_wall"] / big["our_wall"],
        "solve_ivp_batch16_traj_per_min": per_min / many["ivp_wall"],
        "ours_batch16_traj_per_min": per_min / many["our_wall"],
        "batch16_speedup": many["ivp_wall"] / many["our_wall"],
        "ours_batch16_rel_err": many["our_err"], "solve_ivp_batch16_rel_err": many["ivp_err"],
        "step_over_fft_time": single["step_over_fft"], "step_over_fft_time_n256": big["step_over_fft"],
        "step_over_fft_time_batch16": many["step_over_fft"],
        "errors_within_target": all(r["our_err"] <= TARGET_ERR and r["ivp_err"] <= TARGET_ERR for r in runs),
    }
    write_results(__file__, results, args.quick)


if __name__ == "__main__":
    main()
