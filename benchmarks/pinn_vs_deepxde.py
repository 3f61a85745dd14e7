"""PINNs on Burgers: this project against DeepXDE (pytorch backend), side by side.

DeepXDE's own Burgers example: nu = 0.01/pi on [-1, 1] x [0, 0.99], FNN 2-20-20-20-1 tanh
(Glorot normal), 2540 domain / 80 boundary / 160 initial points, Adam lr 1e-3 for 15000
steps, then L-BFGS (DeepXDE's defaults).  Two comparisons:

(a) same network and points, soft IC/BC (our ``pinn`` with the forward-mode jet engine):
    Adam training steps per second and their ratio, in steady state (both warmed up first:
    our compiled jet kernels, DeepXDE's first steps) and interleaved -- rounds of N steps of
    ours, then N more steps of one DeepXDE model -- so that drift in the shared host's speed
    (10-20 % over minutes here) hits both alike; the ratio is the median over the rounds;
(b) equal wall time: our ``causal-pinn`` default preset given DeepXDE's total training wall
    time as its budget, rel L2 of both against the exact Cole-Hopf solution on the 100 x 256
    reference grid.  DeepXDE's L-BFGS sometimes stops after a few iterations in float32 (its
    documented behaviour), so the full run repeats (b) with DeepXDE in float64, as its docs advise.

    flock /tmp/sciml-bench.lock .venv/bin/python benchmarks/pinn_vs_deepxde.py [--quick]

Both run on the same number of torch threads (``--threads``, default 1).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("DDE_BACKEND", "pytorch")

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table, write_results

from sciml_core import solve
from sciml_core.metrics import rel_l2
from sciml_core.registry import get_pde

NU = 0.01 / np.pi


def deepxde_burgers(float64: bool = False):
    """DeepXDE's Burgers example as a compiled ``dde.Model`` (Adam, lr 1e-3)."""
    import deepxde as dde

    dde.config.set_default_float("float64" if float64 else "float32")
    geom = dde.geometry.GeometryXTime(dde.geometry.Interval(-1, 1), dde.geometry.TimeDomain(0, 0.99))

    def pde(x, y):
        dy_x = dde.grad.jacobian(y, x, i=0, j=0)
        dy_t = dde.grad.jacobian(y, x, i=0, j=1)
        dy_xx = dde.grad.hessian(y, x, i=0, j=0)
        return dy_t + y * dy_x - NU * dy_xx

    bc = dde.icbc.DirichletBC(geom, lambda x: 0, lambda _, on_boundary: on_boundary)
    ic = dde.icbc.IC(geom, lambda x: -np.sin(np.pi * x[:, 0:1]), lambda _, on_initial: on_initial)
    data = dde.data.TimePDE(geom, pde, [bc, ic], num_domain=2540, num_boundary=80, num_initial=160)
    net = dde.nn.FNN([2] + [20] * 3 + [1], "tanh", "Glorot normal")
    model = dde.Model(data, net)
    model.compile("adam", lr=1e-3)
    return model


def run_deepxde(adam_steps: int, lbfgs_maxiter: int | None, float64: bool = False) -> dict[str, float]:
    """DeepXDE's full Burgers run; returns Adam steps/s, total training wall time and rel L2.

    ``float64``: DeepXDE's own advice when its L-BFGS stops early (it does in float32)."""
    import deepxde as dde

    model = deepxde_burgers(float64)
    start = time.perf_counter()
    model.train(iterations=adam_steps, display_every=max(adam_steps, 1000), verbose=0)
    adam_s = time.perf_counter() - start
    if lbfgs_maxiter is not None:
        dde.optimizers.config.set_LBFGS_options(maxiter=lbfgs_maxiter)
    model.compile("L-BFGS")
    model.train(verbose=0)
    wall = time.perf_counter() - start
    lbfgs_iters = model.train_state.step - adam_steps
    grid = get_pde("burgers")().reference_grid()
    tt, xx = np.meshgrid(grid["t"], grid["x"], indexing="ij")
    pred = model.predict(np.stack([xx.ravel(), tt.ravel()], axis=1)).reshape(tt.shape)
    exact = get_pde("burgers")().exact_solution(**grid)["u"]
    dde.config.set_default_float("float32")
    torch.set_default_dtype(torch.float32)
    return {"steps_per_s": adam_steps / adam_s, "wall_s": wall, "rel_l2": rel_l2(pred, exact), "adam_s": adam_s,
            "lbfgs_s": wall - adam_s, "lbfgs_iters": lbfgs_iters}


def run_ours_same_setup(adam_steps: int) -> float:
    """Adam steps/s of our vanilla ``pinn`` at DeepXDE's network and point counts (40 points per wall)."""
    result = solve("burgers", "pinn", progress=False, overrides=[
        "model.width=20", "model.depth=3", "sampling.n_residual=2540", "sampling.n_initial=160",
        "sampling.n_boundary=40", "sampling.method=random", f"train.adam_steps={adam_steps}", "train.lbfgs_steps=0",
        "train.checkpoint_every=0", "derivatives=jet"])
    return adam_steps / result.metrics["train_wall_s"]


def compare_speed(steps: int, rounds: int, threads: int) -> dict[str, list[float]]:
    """Steady-state Adam steps/s of both, interleaved (module docstring, (a))."""
    model = deepxde_burgers()
    model.train(iterations=100, display_every=1000, verbose=0)  # warm-up
    run_ours_same_setup(20)  # warm-up: compiles the jet kernels
    ours, theirs = [], []
    for _ in range(rounds):
        torch.set_num_threads(threads)
        ours.append(run_ours_same_setup(steps))
        torch.set_num_threads(threads)
        start = time.perf_counter()
        model.train(iterations=steps, display_every=10**9, verbose=0)
        theirs.append(steps / (time.perf_counter() - start))
    return {"ours": ours, "deepxde": theirs, "ratio": [a / b for a, b in zip(ours, theirs)]}


def run_ours_equal_time(budget_s: float, quick: bool) -> dict[str, float]:
    """``causal-pinn`` (default preset, or quick) with DeepXDE's wall time as its budget."""
    result = solve("burgers", "causal-pinn", preset="quick" if quick else "default", budget_s=budget_s,
                   progress=False, overrides=["train.lbfgs_steps=1000000"])
    return {"rel_l2": result.metrics["rel_l2"], "wall_s": result.metrics["train_wall_s"], "steps": result.metrics["steps"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="reduced smoke run (a few hundred steps)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for both (default 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    adam_steps = 200 if args.quick else 15000

    speed = compare_speed(100 if args.quick else 1000, 1 if args.quick else 5, args.threads)
    ratio = float(np.median(speed["ratio"]))
    ours_speed, dde_speed = float(np.median(speed["ours"])), float(np.median(speed["deepxde"]))
    torch.set_num_threads(args.threads)
    dde = run_deepxde(adam_steps, 50 if args.quick else None)
    torch.set_num_threads(args.threads)
    ours = run_ours_equal_time(dde["wall_s"], args.quick)
    dde64 = ours64 = None
    if not args.quick:
        dde64 = run_deepxde(adam_steps, None, float64=True)
        ours64 = run_ours_equal_time(dde64["wall_s"], args.quick)

    results = {
        "deepxde_steps_per_s": dde_speed, "ours_steps_per_s": ours_speed, "steps_ratio": ratio,
        "speed_rounds": speed, "deepxde_full_run_steps_per_s": dde["steps_per_s"],
        "deepxde_rel_l2": dde["rel_l2"], "deepxde_wall_s": dde["wall_s"],
        "deepxde_adam_s": dde["adam_s"], "deepxde_lbfgs_s": dde["lbfgs_s"], "deepxde_lbfgs_iters": dde["lbfgs_iters"],
        "ours_rel_l2_equal_time": ours["rel_l2"], "ours_wall_s": ours["wall_s"], "ours_steps": ours["steps"],
        **({"deepxde_float64_rel_l2": dde64["rel_l2"], "deepxde_float64_wall_s": dde64["wall_s"],
            "deepxde_float64_lbfgs_iters": dde64["lbfgs_iters"], "deepxde_float64_steps_per_s": dde64["steps_per_s"],
            "ours_rel_l2_equal_time_float64_wall": ours64["rel_l2"]} if dde64 else {}),
        "threads": args.threads,
        "setup": {"deepxde": "FNN 2-20-20-20-1 tanh, 2540/80/160 Hammersley points, Adam 1e-3 x 15000 then L-BFGS",
                  "ours_speed": "pinn: same FNN, 2540/80/160 random points, soft IC/BC, jet derivatives, Adam; "
                      "steady state, interleaved rounds with one DeepXDE model, medians",
                  "ours_equal_time": "causal-pinn --preset default, budget = DeepXDE training wall time"},
    }
    rows = [
        ["Adam steps/s (same net & points)", dde_speed, ours_speed,
         f"{ratio:.2f}x (median of {len(speed['ratio'])} interleaved rounds: "
         + ", ".join(f"{r:.2f}" for r in speed["ratio"]) + ")"],
        ["rel L2 at equal wall time", dde["rel_l2"], ours["rel_l2"],
         f"{dde['wall_s']:.0f} s each; DeepXDE L-BFGS iterations: {dde['lbfgs_iters']}"],
    ]
    if dde64:
        rows.append(["rel L2 at equal wall time, DeepXDE float64", dde64["rel_l2"], ours64["rel_l2"],
                     f"{dde64['wall_s']:.0f} s each; DeepXDE L-BFGS iterations: {dde64['lbfgs_iters']}"])
    print_table(rows, header=["Burgers", "DeepXDE", "ours (float32)", "ratio / note"])
    write_results(__file__, results, args.quick)


if __name__ == "__main__":
    main()
