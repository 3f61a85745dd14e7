"""PINN derivative engines per training step: forward-mode jets (fused numba kernels, and the
same rules as plain tensor operations) against nested reverse mode, on the residuals of the
causal-PINN presets.

One training step = residual loss on the collocation points + backward pass for the
parameter gradient (no optimizer), float32, one torch thread, the best of several timed
rounds.  Problems (each the network and point count of a preset):

* Burgers (u_t, u_x, u_xx): MLP 3 x 20, 2540 points (DeepXDE's example) and modified MLP
  4 x 32, 8192 points (``causal-pinn --preset default``);
* Allen-Cahn (u_t, u_xx): modified MLP 4 x 64 with random weight factorisation, 2048 points;
* Kuramoto-Sivashinsky (u_t, u_x, u_xx, u_xxxx): modified MLP 3 x 64, 2048 points.

    python benchmarks/pinn_derivative_engines.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table, write_results

from sciml_core.nn import AutogradDerivatives, JetDerivatives, jet_kernels, required_orders
from sciml_core.registry import get_pde
from solvers.pinn.network import ConstraintsConfig, FieldNetwork, ModelConfig

PROBLEMS = {
    "burgers-mlp3x20-2540": ("burgers", dict(width=20, depth=3), 2540),
    "burgers-modified4x32-8192": ("burgers", dict(width=32, depth=4, arch="modified"), 8192),
    "allen-cahn-modified4x64-2048": ("allen-cahn", dict(width=64, depth=4, arch="modified", factorize=True,
                                                        periodic_modes=1), 2048),
    "ks-modified3x64-2048": ("kuramoto-sivashinsky", dict(width=64, depth=3, arch="modified", periodic_modes=1),
                             2048),
}


def step_time(pde_name: str, model: dict, n: int, engine: str, rounds: int, steps: int) -> float:
    """Best-of-``rounds`` mean seconds of (residual loss + backward) with ``engine``."""
    pde = get_pde(pde_name)()
    torch.manual_seed(0)
    net = FieldNetwork(pde, ModelConfig(**model), ConstraintsConfig(initial="hard")).float()
    dom = pde.domain()
    g = torch.Generator().manual_seed(0)
    coords = {"t": dom.t[0] + (dom.t[1] - dom.t[0]) * torch.rand(n, 1, generator=g)}
    for d in dom.dims:
        lo, hi = dom.bounds[d]
        coords[d] = lo + (hi - lo) * torch.rand(n, 1, generator=g)
    orders = required_orders(pde.residual, ("t", *dom.dims))

    def one_step() -> None:
        d = AutogradDerivatives(net, coords) if engine == "reverse" else JetDerivatives(net.jet, coords, orders)
        loss = sum(r.pow(2).mean() for r in pde.residual(d).values())
        loss.backward()

    available = jet_kernels.available
    if engine == "jet-tensor":
        jet_kernels.available = lambda *tensors: False
    try:
        for _ in range(3):
            one_step()
        best = float("inf")
        for _ in range(rounds):
            start = time.perf_counter()
            for _ in range(steps):
                one_step()
            best = min(best, (time.perf_counter() - start) / steps)
    finally:
        jet_kernels.available = available
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one small problem, few steps")
    args = parser.parse_args()
    torch.set_num_threads(1)
    problems = {k: v for k, v in PROBLEMS.items() if not args.quick or k.startswith("burgers-mlp")}
    rounds, steps = (1, 3) if args.quick else (5, 20)
    rows, results = [], {"problems": {}}
    for name, (pde, model, n) in problems.items():
        ms = {e: 1e3 * step_time(pde, model, n, e, rounds, steps) for e in ("jet-kernels", "jet-tensor", "reverse")}
        results["problems"][name] = {**{f"{e}_ms": v for e, v in ms.items()},
                                     "speedup_vs_reverse": ms["reverse"] / ms["jet-kernels"]}
        rows.append([name, ms["jet-kernels"], ms["jet-tensor"], ms["reverse"],
                     f"{ms['reverse'] / ms['jet-kernels']:.2f}x"])
    print_table(rows, header=["problem", "jet+kernels ms", "jet tensor ms", "reverse ms", "reverse / jet+kernels"])
    results["threads"] = 1
    write_results(__file__, results, args.quick)


if __name__ == "__main__":
    main()
