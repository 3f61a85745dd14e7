"""MP-PDE on the combined equation (Brandstetter, Worrall & Welling, ICLR 2022), experiments E1-E3.

    u_t + (alpha u^2 / 2 - beta u_x + gamma u_xx)_x = delta(t, x),   L = 16 periodic, t <= 4

Generates the family's data if missing (``sciml data generate mp-e<k>``: WENO5 truth at
nx = 200, 2048 + 128 + 128 trajectories), trains the ``message-passing`` solver on the
down-projection to ``--nx`` (the paper's 5-point mean and stride), rolls the held-out
trajectories out from frame 50 to 250 and prints the accumulated error next to
``fv-weno5`` run directly at ``--nx`` (the paper's numerical baseline).  E2 and E3 give the
model their per-sample parameters (beta; alpha, beta, gamma).

    python recipes/combined_equation_message_passing.py --family E1 --nx 100 [--preset default|paper|quick]
        [--data FILE] [--out runs/mp-e1-nx100] [--budget-s S] [--device auto]

The equivalent command line for the training run:

    sciml solve combined-equation --solver message-passing --data data/mp-e1.h5 \\
        --set data.x_stride=2 --set data.x_average=5 --out runs/mp-e1-nx100
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from sciml_core import solve
from sciml_core.data.generate import generate
from sciml_core.data.specs import load_spec
from sciml_core.metrics import accumulated_error
from solvers.message_passing.evaluation import coarse_weno

REPO = Path(__file__).resolve().parents[1]
PARAMS = {"E1": (), "E2": ("beta",), "E3": ("alpha", "beta", "gamma")}
PUBLISHED_E1 = {100: (1.55, 2.02), 50: (1.67, 6.23), 40: (1.47, 9.63)}


def main() -> None:
    parser = argparse.ArgumentParser(description="MP-PDE solver on the combined equation (E1/E2/E3)")
    parser.add_argument("--family", choices=sorted(PARAMS), default="E1")
    parser.add_argument("--nx", type=int, choices=(100, 50, 40), default=100)
    parser.add_argument("--preset", choices=("quick", "default", "paper"), default="default")
    parser.add_argument("--data", type=Path, default=None, help="dataset file (default data/mp-e<k>.h5)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--budget-s", type=float, default=None, help="training wall-clock budget")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    name = f"mp-{args.family.lower()}"
    data = args.data or REPO / "data" / (f"{name}-quick.h5" if args.preset == "quick" else f"{name}.h5")
    if not data.exists() or args.preset == "quick":
        # quick: 16 short trajectories on a coarse truth (a smoke run of the whole recipe)
        overrides = {"n_samples": 16, "times": {"n_t": 60, "t_end": 0.96}} if args.preset == "quick" else None
        print(f"generating {data} from datasets/{name}.toml ...")
        generate(load_spec(name, overrides), data, seed=0, force=args.preset == "quick")
    config = {"data": {"x_stride": 200 // args.nx, "x_average": 5, "params": list(PARAMS[args.family])}}
    if args.preset == "quick":
        config["data"].update({"n_test": 4})
        config.update({"model": {"hidden": 96, "layers": 2}, "window": 25, "horizon": 25})
    out = args.out or REPO / "runs" / f"{name}-nx{args.nx}"
    result = solve("combined-equation", "message-passing", preset=args.preset, config={"config": config}, out=out,
                   force=True, data=data, device=args.device, budget_s=args.budget_s)
    sol, m = result.solution, result.metrics
    truth = sol["u_ref"].values
    t = _times(data)
    weno, _ = coarse_weno(data, sol["sample"].values, args.nx, t)
    weno_err = accumulated_error(weno[:, -truth.shape[1]:], truth)
    print(f"{args.family} nx = {args.nx}: trained {m['steps']} steps ({m['epochs']:.1f} epochs over {m['n_train']} "
          f"trajectories) in {m['train_wall_s']:.0f} s")
    print(f"accumulated error over frames {len(t) - truth.shape[1]}..{len(t) - 1}: "
          f"MP-PDE {m['acc_err']:.3f}, fv-weno5 at nx = {args.nx}: {weno_err:.3f}")
    if args.family == "E1" and args.preset != "quick":
        mp, weno_pub = PUBLISHED_E1[args.nx]
        print(f"published (E1, nx = {args.nx}): MP-PDE {mp}, WENO5 {weno_pub}")
    print(f"run directory: {out} (solution.nc holds the rollouts and the truth of the held-out samples)")


def _times(path: Path) -> np.ndarray:
    import h5py

    with h5py.File(path) as f:
        return f["t"][:]


if __name__ == "__main__":
    main()
