"""Soft constraint vs one hard constraint vs hard-constraint MoE (K = 4) on diffusion-sorption.

Chalapathi, Du & Krishnapriyan (ICLR 2024) report test rel L2 3.60 % (MoE), 7.55 % (one hard
constraint) and 85.93 % (soft) on PDEBench's diffusion-sorption, and MoE training 1.6x to
3.2x faster per step than one hard constraint from 1e2 to 1e5 sampled points.  Here:

1. accuracy -- the three variants of ``hard-constraint-moe`` with the same FNO backbone,
   optimiser, steps, batch and sampled points, trained on ``datasets/diffusion-sorption``
   (generated first if missing: ``data/diffusion-sorption.h5``) and scored on its held-out
   samples (rel L2 over all their frames, on the grid the solver trains on);
2. scaling -- time per training step (median after warm-up) and peak memory of a step for
   one hard constraint and the MoE at 1e2, 1e3 and 1e4 sampled points per sample, each in a
   fresh process (CPU: growth of the peak resident set from before the first step, warm-up
   included, which stays at 0 while a step fits in memory the process already holds; CUDA:
   peak allocated), and on every device the tensors a step's forward pass saves for its
   backward (``saved_mb``: the autograd graph, each storage counted once).

    python benchmarks/hard_constraint_moe.py [--quick] [--steps N] [--threads T]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks._common import print_table, write_results

POINTS = (100, 1000, 10_000)


def dataset(quick: bool) -> Path:
    """The diffusion-sorption file (generated, or completed, when missing)."""
    from sciml_core.data.generate import generate
    from sciml_core.data.specs import load_spec

    if quick:
        spec = load_spec("diffusion-sorption", {"n_samples": 6, "block_size": 6, "times": {"n_t": 21},
                                                "solver": {"config": {"n": 64, "rtol": 1e-5}}})
        path = REPO / "data" / "diffusion-sorption-quick.h5"
    else:
        spec = load_spec("diffusion-sorption")
        path = REPO / "data" / "diffusion-sorption.h5"
    generate(spec, path, seed=0, progress=not quick)
    return path


def overrides(quick: bool, constraint: str, n_points: int, steps: int) -> list[str]:
    common = [f"constraint={constraint}", f"n_points={n_points}", f"train.adam_steps={steps}", "train.log_every=10",
              "train.checkpoint_every=0"]
    if quick:
        return common + ["width=8", "n_modes=4", "n_layers=2", "n_basis=8", "data.n_test=2", "data.t_stride=2",
                         "data.x_stride=2", "batch_size=2", "lm_maxiter=20"]
    return common  # the solver's default preset: 51 frames x 64 cells, FNO 4 x 32 (16 modes), 2 samples a step


def train(path: Path, quick: bool, constraint: str, n_points: int, steps: int) -> dict[str, Any]:
    from sciml_core import solve

    result = solve("diffusion-sorption", "hard-constraint-moe", data=path, progress=not quick,
                   overrides=overrides(quick, constraint, n_points, steps))
    m = result.metrics
    return {"rel_l2": m["rel_l2"], "train_wall_s": m["train_wall_s"], "final_loss": m["final_loss"],
            "n_params": m["n_params"]}


def saved_for_backward_mb(fn: Any) -> float:
    """Run ``fn()`` and return the MB of the tensors autograd saved for backward meanwhile,
    each underlying storage counted once (views of one buffer share it)."""
    storages: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        st = t.untyped_storage()
        storages[st.data_ptr()] = st.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(storages.values()) / 2**20


def measure_step(path: Path, quick: bool, constraint: str, n_points: int, steps: int) -> dict[str, float]:
    """Median step time, peak memory growth and autograd-graph size of ``steps`` training steps
    (run in its own process)."""
    from sciml_core.config import build_config
    from sciml_core.data.trajectories import load_trajectories
    from sciml_core.operator import OperatorObjective, to_device_dtype
    from sciml_core.registry import get_pde, get_solver
    from sciml_core.solver import RunContext

    cls = get_solver("hard-constraint-moe")
    from sciml_core.config import parse_overrides

    cfg = build_config(cls.Config, parse_overrides(overrides(quick, constraint, n_points, steps)))
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    solver = cls(get_pde("diffusion-sorption").from_params({}), cfg, RunContext(device=device, progress=False))
    data = load_trajectories(path, cfg.data, device, torch.float32, pde="diffusion-sorption")
    model = to_device_dtype(solver.build_model(data), device, torch.float32)
    objective = OperatorObjective(solver, model, data)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step(i: int) -> None:
        optimizer.zero_grad()
        loss, _ = objective.loss(i)
        loss.backward()
        optimizer.step()

    def forward(i: int) -> None:
        objective.loss(i)

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    base_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # model and data loaded, no step yet
    step(0)  # warm-up (first calls of the torch.func transforms), inside the memory window
    step(1)
    times = []
    for i in range(2, steps + 2):
        start = time.perf_counter()
        step(i)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    if device.type == "cuda":
        peak_mb = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base_kb) / 1024
    saved_mb = saved_for_backward_mb(lambda: forward(steps + 2))
    return {"step_s": statistics.median(times), "peak_mb": peak_mb, "saved_mb": saved_mb}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny grid and model, few steps (smoke run)")
    parser.add_argument("--steps", type=int, default=None, help="training steps of each variant")
    parser.add_argument("--points", type=int, default=2000, help="sampled points per sample while training")
    parser.add_argument("--timing-steps", type=int, default=None)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (also of the timing processes)")
    parser.add_argument("--measure", nargs=2, metavar=("CONSTRAINT", "POINTS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    path = dataset(args.quick)
    timing_steps = args.timing_steps or (1 if args.quick else 5)
    if args.measure:  # child process of the scaling measurement
        print(json.dumps(measure_step(path, args.quick, args.measure[0], int(args.measure[1]), timing_steps)))
        return 0

    steps = args.steps or (2 if args.quick else 1000)
    n_points = 200 if args.quick else args.points
    results: dict[str, Any] = {"steps": steps, "n_points_train": n_points, "data": str(path.relative_to(REPO))}
    rows = []
    for constraint in ("soft", "hard", "moe"):
        out = train(path, args.quick, constraint, n_points, steps)
        results[f"{constraint}_rel_l2"] = out["rel_l2"]
        results[f"{constraint}_train_wall_s"] = out["train_wall_s"]
        rows.append([constraint, out["rel_l2"], out["final_loss"], out["train_wall_s"], out["n_params"]])
    print_table(rows, ["constraint", "test rel L2", "final loss", "train s", "params"])

    scaling_rows = []
    for pts in POINTS[:1] if args.quick else POINTS:
        for constraint in ("hard", "moe"):
            if args.quick:  # smoke run: in this process (its memory figure is then only indicative)
                m = measure_step(path, True, constraint, pts, timing_steps)
            else:
                cmd = [sys.executable, __file__, "--measure", constraint, str(pts), "--timing-steps", str(timing_steps),
                       "--threads", str(args.threads)]
                proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
                m = json.loads(proc.stdout.strip().splitlines()[-1])
            tag = f"1e{len(str(pts)) - 1}"
            results[f"{constraint}_step_s_{tag}"] = m["step_s"]
            results[f"{constraint}_peak_mb_{tag}"] = m["peak_mb"]
            results[f"{constraint}_saved_mb_{tag}"] = m["saved_mb"]
            scaling_rows.append([pts, constraint, m["step_s"], m["peak_mb"], m["saved_mb"]])
    print_table(scaling_rows, ["points", "constraint", "step s", "peak MB", "saved for backward MB"])
    last = f"1e{len(str((POINTS[:1] if args.quick else POINTS)[-1])) - 1}"
    results[f"moe_speedup_{last}"] = results[f"hard_step_s_{last}"] / results[f"moe_step_s_{last}"]
    print(f"MoE speed-up over one hard constraint at {last} points: {results[f'moe_speedup_{last}']:.2f}x")
    write_results(__file__, results, args.quick, device="cuda" if torch.cuda.is_available() else "cpu")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
