"""The discretisation floor of ``hard-constraint-moe`` on diffusion-sorption: a complete basis.

The MoE's least squares (:class:`solvers.hard_constraint_moe.constraint.DiffusionSorptionResidual`:
finite-difference PDE rows on the training grid, the IC and BC rows at their weights, the ridge)
is solved here with the *identity* basis, one basis function per grid node, so that w is the
grid solution itself: the lowest residual any backbone could give one hard constraint on that
grid.  Its held-out rel L2 against the stored (1024-cell) truth is the floor of the solver's
figure at that ``t_stride`` / ``x_stride``: what the grid's finite differences cost, before any
learning.  The same :class:`DiffusionSorptionProblem` builds the derivatives and boundary rows
and the same batched least squares (:func:`solve_experts`) solves them.

    python benchmarks/hard_constraint_grid_floor.py [--quick] [--t-stride 10] [--x-stride 16]
        [--method gauss-newton|levenberg-marquardt] [--maxiter 30]

The solve starts from the initial state held constant in time (w = u0 at every node;
``solve_experts``'s ``init``) and is Gauss-Newton by default.  The cost is very flat along
directions the solution's error is not: at 26 x 32 (2026-12-03, 4 samples) Gauss-Newton
reached cost 66.49 and 4.6 % in 4 iterations, while Levenberg-Marquardt with the identity
damping stalled at cost 66.55 and 47 % for 60 iterations (at 51 x 64: 2 of 8 samples
converged in 30 or 100 iterations, with either damping).  Read the floor only where
``converged_fraction`` is 1 (else raise ``--maxiter``).

Writes ``benchmarks/results/hard_constraint_grid_floor.json``: ``floor_rel_l2`` (mean over the
held-out samples), ``floor_rel_l2_per_sample``, the grid and the solver statistics.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks._common import print_table, write_results
from benchmarks.hard_constraint_moe import dataset


class IdentityBasis(torch.nn.Module):
    """``(B, X)`` initial states -> the identity basis ``(B, T X, T, X)`` (one function per node)."""

    def forward(self, ic: torch.Tensor, n_t: int) -> torch.Tensor:
        B, X = ic.shape
        eye = torch.eye(n_t * X, dtype=ic.dtype, device=ic.device).reshape(n_t * X, n_t, X)
        return eye.expand(B, -1, -1, -1)


def floor(quick: bool, t_stride: int, x_stride: int, n_eval: int, maxiter: int, method: str,
          weights: dict[str, float] | None = None) -> dict:
    from sciml_core.data.trajectories import DataConfig, load_trajectories
    from sciml_core.registry import get_pde
    from solvers.hard_constraint_moe.constraint import solve_experts
    from solvers.hard_constraint_moe.solver import MoEConfig
    from solvers.hard_constraint_moe.problems import DiffusionSorptionProblem

    torch.set_num_threads(1)
    path = dataset(quick)
    # the solver's held-out split; the first n_eval of them are solved
    split = DataConfig(n_test=2 if quick else 8, t_stride=t_stride, x_stride=x_stride)
    data = load_trajectories(path, split, torch.device("cpu"), torch.float64, pde="diffusion-sorption")
    cfg = MoEConfig(constraint="hard", data=split, **(weights or {}))
    problem = DiffusionSorptionProblem(get_pde("diffusion-sorption")(), cfg)
    problem.bind(data)
    model = IdentityBasis()
    errors, iterations, converged = [], [], []
    start = time.perf_counter()
    for i in range(min(n_eval, data.test.shape[0])):  # one sample at a time: the (T X)^2 normal matrix is the cost
        ic, target = problem.initial_state(data.test[i:i + 1, :1])
        g = problem.grids(model, ic, data.n_frames)
        c = problem.constraint(g, target, None)
        start_w = target.double()[:, None].expand(1, g["b"].shape[-1])  # u0 at every node
        w, stats = solve_experts(problem.system, c, ridge=cfg.ridge, tol=1e-6, maxiter=maxiter, init=start_w,
                                 method=method)
        u = w.reshape(1, 1, data.n_frames, -1)
        pred = data.denormalise(problem.unblock(u))
        truth = data.denormalise(data.test[i:i + 1])
        errors.append(float((pred - truth).norm() / truth.norm()))
        iterations.append(stats["lm_iterations"])
        converged.append(stats["lm_converged"])
    return {"floor_rel_l2": float(np.mean(errors)), "floor_rel_l2_per_sample": errors,
            "t_stride": t_stride, "x_stride": x_stride, "grid": [int(data.n_frames), int(len(data.coords["x"]))],
            "n_test": len(errors), "ic_weight": cfg.ic_weight, "bc_weight": cfg.bc_weight, "ridge": cfg.ridge,
            "method": method, "iterations_max": max(iterations), "converged_fraction": float(np.mean(converged)),
            "wall_s": time.perf_counter() - start, "data": str(path.relative_to(REPO))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="the tiny file, 2 held-out samples (smoke run)")
    parser.add_argument("--t-stride", type=int, default=None, help="frame stride (default: the solver's 10)")
    parser.add_argument("--x-stride", type=int, default=None, help="cell stride (default: the solver's 16)")
    parser.add_argument("--n-eval", type=int, default=8, help="held-out samples solved (each a dense (T X)^2 LM)")
    parser.add_argument("--maxiter", type=int, default=30, help="least-squares iterations")
    parser.add_argument("--method", choices=["gauss-newton", "levenberg-marquardt"], default="gauss-newton")
    parser.add_argument("--ic-weight", type=float, default=None, help="IC rows' weight (default: the solver's)")
    parser.add_argument("--bc-weight", type=float, default=None, help="BC rows' weight (default: the solver's)")
    args = parser.parse_args()
    weights = {k: v for k, v in (("ic_weight", args.ic_weight), ("bc_weight", args.bc_weight)) if v is not None}
    t_stride = args.t_stride or (5 if args.quick else 10)
    x_stride = args.x_stride or (8 if args.quick else 16)
    results = floor(args.quick, t_stride, x_stride, args.n_eval, args.maxiter, args.method, weights)
    results["quick"] = args.quick
    print_table([[f"{results['grid'][0]} x {results['grid'][1]}", results["n_test"], results["floor_rel_l2"],
                  results["iterations_max"], results["converged_fraction"], results["wall_s"]]],
                ["grid (frames x cells)", "held-out", "floor rel L2", "iterations (max)", "converged", "wall s"])
    write_results(__file__, results, args.quick)


if __name__ == "__main__":
    main()
