"""What the causal-PINN ``paper`` presets cost to run: measured per-step figures, estimated totals.

For Allen-Cahn and Kuramoto-Sivashinsky ``--preset paper`` this measures, for one Adam step
of the preset (float32, as ``sciml solve`` builds it):

* the CPU time per step on one thread, ``jet_engine = auto`` (compiled with numba; median of a few rounds);
* the matrix-multiply FLOPs of the step (``torch.utils.flop_counter``) and the number of
  tensor operations it dispatches with the tensor engine (the path a GPU takes: each is a kernel);

and turns them into totals for the preset's step count (Allen-Cahn: 300k; KS: between 50k,
every (window, eps) stage ending at its first check, and 10M, every stage at its 200k cap).
The GPU figure is an estimate, not a measurement (no GPU was available): a step is taken to
cost max(FLOPs / GPU_FLOPS, operations x LAUNCH_S), i.e. eager PyTorch at a sustained
10 TFLOP/s or 10 us per dispatched operation, whichever is slower.

    python benchmarks/pinn_paper_costs.py [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table, write_results
from pinn_derivative_engines import ENGINES, build

from sciml_core.nn import jet_kernels

GPU_FLOPS = 10e12
LAUNCH_S = 10e-6
#: steps of each preset: (fewest, most)
STEPS = {"allen-cahn": (300_000, 300_000), "kuramoto-sivashinsky": (10 * 5 * 1000, 10 * 5 * 200_000)}
_VIEWS = {"view", "_unsafe_view", "t", "transpose", "slice", "select", "expand", "detach", "as_strided", "alias",
          "unsqueeze", "squeeze", "split", "split_with_sizes", "reshape", "permute", "unbind", "narrow"}


class _Count(TorchDispatchMode):
    """Counts dispatched operations that launch work (not views)."""

    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        self.n += func.overloadpacket.__name__ not in _VIEWS
        return func(*args, **(kwargs or {}))


def one_step(objective, optimizer, step: int) -> None:  # noqa: ANN001
    optimizer.zero_grad(set_to_none=True)
    loss, _ = objective.loss(step)
    loss.backward()
    optimizer.step()


def costs(pde: str, rounds: int, steps: int) -> dict[str, float]:
    _, objective, optimizer = build(pde, "causal-pinn", "paper", {})  # jet_engine auto: compiled with numba
    for step in range(2):
        one_step(objective, optimizer, step)
    times = []
    for r in range(rounds):
        start = time.perf_counter()
        for s in range(steps):
            one_step(objective, optimizer, 2 + r * steps + s)
        times.append((time.perf_counter() - start) / steps)
    _, objective, optimizer = build(pde, "causal-pinn", "paper", ENGINES["tensor"])
    one_step(objective, optimizer, 0)
    with FlopCounterMode(display=False) as flops:
        one_step(objective, optimizer, 1)
    count = _Count()
    with count:
        one_step(objective, optimizer, 2)
    cpu_s = statistics.median(times)
    gpu_s = max(flops.get_total_flops() / GPU_FLOPS, count.n * LAUNCH_S)
    lo, hi = STEPS[pde]
    return {"cpu_ms_per_step": 1e3 * cpu_s, "cpu_engine": "compiled" if jet_kernels.numba is not None else "tensor", "matmul_gflop_per_step": flops.get_total_flops() / 1e9,
            "operations_per_step": count.n, "gpu_ms_per_step_estimate": 1e3 * gpu_s, "steps_min": lo,
            "steps_max": hi, "cpu_core_hours_min": cpu_s * lo / 3600, "cpu_core_hours_max": cpu_s * hi / 3600,
            "gpu_hours_estimate_min": gpu_s * lo / 3600, "gpu_hours_estimate_max": gpu_s * hi / 3600}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one round of one step per preset")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rounds, steps = (1, 1) if args.quick else (3, 5)
    results = {pde: costs(pde, rounds, steps) for pde in STEPS}
    print_table([[pde, r["cpu_ms_per_step"], r["matmul_gflop_per_step"], r["operations_per_step"],
                  r["gpu_ms_per_step_estimate"], f"{r['steps_min']:,}-{r['steps_max']:,}",
                  f"{r['cpu_core_hours_min']:.3g}-{r['cpu_core_hours_max']:.3g}",
                  f"{r['gpu_hours_estimate_min']:.3g}-{r['gpu_hours_estimate_max']:.3g}"] for pde, r in results.items()],
                header=["paper preset", "CPU ms/step", "GFLOP/step", "ops/step", "GPU ms/step (est.)", "steps",
                        "CPU core-hours", "GPU hours (est.)"])
    write_results(__file__, {"presets": results, "gpu_flops_assumed": GPU_FLOPS, "launch_s_assumed": LAUNCH_S,
                             "threads": 1, "rounds": rounds, "steps_per_round": steps}, args.quick)


if __name__ == "__main__":
    main()
