"""Generation speed of the MP-PDE E1 data: batched ``fv-weno5`` against one trajectory at a time.

Workload: the shipped ``mp-e1`` spec (combined equation, alpha = 1, per-sample forcing, WENO5
+ Godunov at nx = 200, adaptive Dormand-Prince to the public generator's own tolerances, rtol =
atol = 1e-5, 250 frames to t = 4), one torch thread throughout.  *Batched* is ``sciml data
generate mp-e1`` (the engine, blocks of 256 samples integrated as one batch with per-sample step
sizes, the file written); *one at a time* is the same solver called with a batch of one, on
samples spread over the set, half measured before and half after the batched run so that both
see the same machine.  Rates are trajectories per second of wall time and of this process's CPU
time (the latter is robust to other work on a shared machine); the ratios use CPU time.  The
one-at-a-time trajectories are compared with the batched file (``max_abs_diff_single_vs_batched``:
each sample has its own step sizes, so the two differ only where rounding changed a step
decision, at the level of the time tolerance).

    python benchmarks/weno_generation.py [--quick] [--out data/mp-e1.h5] [--n-single 32] [--mppde-repo DIR]

With ``--mppde-repo`` (a checkout of github.com/brandstetter-johannes/MP-Neural-PDE-Solvers)
the public generator's own solver (``CE.WENO_reconstruction`` + its ``Dopri45``, one
trajectory at a time, float64, its Dopri45 at atol = rtol = 1e-5) is timed on the same
samples' forcings as a third row: the issue's reference for the 50x target.

Writes ``benchmarks/results/weno_generation.json``: ``batched_traj_per_s``,
``single_traj_per_s``, ``ratio`` (batched over our own solver one at a time),
``ratio_vs_public`` (over the public generator one at a time; target >= 50), their wall-time
versions and the tolerances.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import h5py
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table, write_results

from sciml_core.data.generate import Problem, generate, resolve
from sciml_core.data.specs import load_spec

REPO = Path(__file__).resolve().parents[1]


def _single(problem: Problem, indices: list[int]) -> tuple[float, float, dict[int, np.ndarray]]:
    """Integrate ``indices`` one at a time; (CPU s, wall s, trajectories)."""
    solver = problem.solver_cls(problem.pde, problem.config, problem.context)
    out: dict[int, np.ndarray] = {}
    cpu, wall = time.process_time(), time.perf_counter()
    for i in indices:
        _, initial, draws = problem.draw(i)
        params = {k: np.array([v]) for k, v in draws.items()}
        out[i] = solver.integrate({"u": initial["u"][None]}, problem.t_out, params=params)["u"][0]
    return time.process_time() - cpu, time.perf_counter() - wall, out


def public_solver(repo: Path) -> Any:
    """``solve(draws, nx, t) -> (len(t), nx)``: the public MP-PDE generator's own solver for E1
    (``CE.WENO_reconstruction`` + its ``Dopri45``, float64, its grid ``linspace(0, L, nx)``),
    one trajectory per call, from a checkout of its repository at ``repo``."""
    sys.path.insert(0, str(repo))
    from equations.PDEs import CE  # noqa: PLC0415 (the peer's own modules)
    from temporal.solvers import RKSolver, Solver
    from temporal.tableaux import Dopri45

    def solve(draws: dict[str, float], nx: int, t: np.ndarray) -> np.ndarray:
        default = torch.get_default_dtype()
        torch.set_default_dtype(torch.float64)  # as its generator does
        try:
            pde = CE(0.0, float(t[-1]), (len(t), nx), device="cpu")
            pde.alpha, pde.beta, pde.gamma = 1.0, 0.0, 0.0
            x = torch.linspace(0, pde.L, nx)
            A, om, l, phi = (torch.tensor([[[draws[f"{k}{j}"] for j in range(5)]]]) for k in ("A", "omega", "l", "phi"))

            def delta(xx: torch.Tensor, tt: Any = 0.0) -> torch.Tensor:
                return torch.sum(A * torch.sin(om * tt + 2 * np.pi * l * xx / pde.L + phi), -1)

            pde.force = lambda tt: delta(x[:, None], tt)[:, None]
            out = Solver(RKSolver(Dopri45()), pde.WENO_reconstruction).solve(x0=delta(x[:, None])[:, None],
                                                                             times=torch.as_tensor(t)[None])
            return out[0, :, 0].numpy()
        finally:
            torch.set_default_dtype(default)

    return solve


def _public_single(repo: Path, problem: Problem, indices: list[int]) -> tuple[float, float]:
    """The public generator's solve of ``indices`` one at a time; (CPU s, wall s)."""
    solve = public_solver(repo)
    cpu, wall = time.process_time(), time.perf_counter()
    for i in indices:
        solve(problem.draw(i)[2], len(problem.coords["x"]), problem.t_out)
    return time.process_time() - cpu, time.perf_counter() - wall


def measure_generation(out: Path, n_samples: int | None = None, n_single: int = 32, seed: int = 0,
                       force: bool = False, mppde_repo: Path | None = None) -> dict[str, Any]:
    """Generate ``out`` from ``mp-e1`` (batched) and time one-at-a-time solves beside it."""
    torch.set_num_threads(1)
    spec = load_spec("mp-e1", {"n_samples": n_samples} if n_samples else None)
    problem = Problem(spec, *resolve(spec), seed=seed)
    picks = [int(i) for i in np.linspace(0, spec.n_samples - 1, n_single).round()]
    before = _single(problem, picks[::2])
    if out.exists() and force:
        out.unlink()
    cpu, wall = time.process_time(), time.perf_counter()
    report = generate(spec, out, seed=seed, progress=True)
    batched_cpu, batched_wall = time.process_time() - cpu, time.perf_counter() - wall
    if report.n_generated != spec.n_samples:
        raise SystemExit(f"{out} already held {spec.n_samples - report.n_generated} samples; pass --force "
                         "to time a full generation")
    after = _single(problem, picks[1::2])
    single_cpu, single_wall = before[0] + after[0], before[1] + after[1]
    worst = 0.0
    with h5py.File(out) as f:
        for i, traj in {**before[2], **after[2]}.items():
            worst = max(worst, float(np.abs(f["u"][i] - traj).max()))
    n, m = spec.n_samples, len(picks)
    results = {
        "n_samples": n, "block_size": spec.block_size, "n_single": m,
        "rtol": problem.config.rtol, "atol": problem.config.atol,
        "batched_traj_per_s": n / batched_cpu, "batched_traj_per_s_wall": n / batched_wall,
        "single_traj_per_s": m / single_cpu, "single_traj_per_s_wall": m / single_wall,
        "single_s_per_traj": single_cpu / m,
        "batched_wall_s": batched_wall, "max_abs_diff_single_vs_batched": worst, "file": str(out),
    }
    results["ratio"] = results["batched_traj_per_s"] / results["single_traj_per_s"]
    results["ratio_wall"] = results["batched_traj_per_s_wall"] / results["single_traj_per_s_wall"]
    if mppde_repo is not None:
        pub_cpu, pub_wall = _public_single(mppde_repo, problem, picks)
        results.update({"public_traj_per_s": m / pub_cpu, "public_traj_per_s_wall": m / pub_wall,
                        "ratio_vs_public": results["batched_traj_per_s"] * pub_cpu / m})
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="32 samples, 2 one at a time (smoke run)")
    parser.add_argument("--out", type=Path, default=None, help="dataset file (default data/mp-e1.h5)")
    parser.add_argument("--n-single", type=int, default=32)
    parser.add_argument("--force", action="store_true", help="regenerate an existing complete file")
    parser.add_argument("--mppde-repo", type=Path, default=None, help="checkout of the public MP-PDE code (peer row)")
    args = parser.parse_args()
    if args.quick:
        import tempfile

        out = args.out or Path(tempfile.mkdtemp()) / "mp-e1-quick.h5"
        results = measure_generation(out, n_samples=32, n_single=2, force=True, mppde_repo=args.mppde_repo)
    else:
        out = args.out or REPO / "data" / "mp-e1.h5"
        results = measure_generation(out, n_single=args.n_single, force=args.force, mppde_repo=args.mppde_repo)
    rows = [[f"batched (engine, blocks of {results['block_size']})", results["n_samples"],
             results["batched_traj_per_s"], results["batched_traj_per_s_wall"]],
            ["one at a time", results["n_single"], results["single_traj_per_s"], results["single_traj_per_s_wall"]]]
    if "public_traj_per_s" in results:
        rows.append(["public MP-PDE generator, one at a time", results["n_single"], results["public_traj_per_s"],
                     results["public_traj_per_s_wall"]])
    print_table(rows, [f"fv-weno5 E1, nx = 200, rtol {results['rtol']:g}, atol {results['atol']:g}, 1 thread",
                       "trajectories", "traj/s (CPU)", "traj/s (wall)"])
    print(f"batched over one at a time: {results['ratio']:.1f}x on CPU time ({results['ratio_wall']:.1f}x wall); "
          f"one at a time {results['single_s_per_traj']:.3f} s per trajectory; batched vs single max |diff| "
          f"{results['max_abs_diff_single_vs_batched']:.2e}")
    if "ratio_vs_public" in results:
        print(f"batched vs the public generator one at a time: {results['ratio_vs_public']:.1f}x (target >= 50x)")
    write_results(__file__, results, args.quick)


if __name__ == "__main__":
    main()
