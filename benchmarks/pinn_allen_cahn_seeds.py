"""Allen-Cahn, causal PINN default against the plain PINN with the same network, over seeds.

Two configurations, each trained on one torch thread with a 840 s budget (so that training,
the spectral reference and the evaluation fit in 15 minutes on a 2-core CPU):

* ``causal``: ``sciml solve allen-cahn --solver causal-pinn --preset default``;
* ``plain``: ``sciml solve allen-cahn --solver pinn`` with the causal default's network (modified
  MLP 4 x 64 with random weight factorisation, one periodic mode), exact initial condition,
  2048 random points per step and learning-rate schedule, and no causal weights.

One invocation trains one (configuration, seed) -- each run takes most of the budget, so a
shared host can queue them one at a time -- and records it in
``benchmarks/results/pinn_allen_cahn_seeds.json``; the table of every recorded run, with the
mean and spread per configuration, is printed each time.  Runs record the final eps and min w,
i.e. whether the causal weights were strong (min w well below 1 at eps = 100).

    python benchmarks/pinn_allen_cahn_seeds.py --config causal --seed 0 [--out runs/ac-seeds] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine_facts, print_table

from sciml_core import solve

BUDGET_S = 840.0
_SHARED = ["model.arch=modified", "model.width=64", "model.depth=4", "model.factorize=true", "model.periodic_modes=1",
           "constraints.initial=hard", "sampling.n_residual=2048", "sampling.method=random",
           "sampling.resample_every=1", "train.adam_steps=30000", "train.lbfgs_steps=0", "train.schedule=exponential",
           "train.decay_rate=0.9", "train.decay_steps=2000", "threads=1", "train.log_every=50",
           "train.checkpoint_every=1000"]
CONFIGS = {"causal": ("causal-pinn", ["eval_every=2000"]), "plain": ("pinn", [*_SHARED, "eval_every=2000"])}
QUICK = ["train.adam_steps=20", "eval_every=0", "model.width=8", "model.depth=2", "train.log_every=5"]


def summary(runs: dict[str, dict]) -> dict[str, dict[str, float]]:
    """Mean, sample standard deviation, min and max of rel L2 per configuration."""
    out = {}
    for config in CONFIGS:
        errors = [r["rel_l2"] for r in runs.values() if r["config"] == config]
        if errors:
            out[config] = {"n": len(errors), "mean": statistics.fmean(errors), "min": min(errors), "max": max(errors),
                           "std": statistics.stdev(errors) if len(errors) > 1 else 0.0,
                           "max_wall_s": max(r["wall_s"] for r in runs.values() if r["config"] == config)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", choices=list(CONFIGS), required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/ac-seeds")
    parser.add_argument("--quick", action="store_true", help="a 20-step smoke run (results in .quick.json)")
    args = parser.parse_args()
    solver, overrides = CONFIGS[args.config]
    overrides = [*overrides, *QUICK] if args.quick else overrides
    name = f"{args.config}-seed{args.seed}"
    result = solve("allen-cahn", solver, preset="default", overrides=overrides, seed=args.seed,
                   budget_s=None if args.quick else BUDGET_S, out=Path(args.out) / name, force=True, progress=False)
    m = result.metrics
    path = RESULTS / f"pinn_allen_cahn_seeds{'.quick' if args.quick else ''}.json"
    data = json.loads(path.read_text()) if path.exists() else {"runs": {}}
    data["runs"][name] = {
        "config": args.config, "seed": args.seed, "rel_l2": m["rel_l2"], "wall_s": m["wall_s"], "steps": m["steps"],
        "status": m["status"], "causal_eps": m.get("causal_eps"), "causal_min_w": m.get("causal_min_w"),
        "command": f"sciml solve allen-cahn --solver {solver} --preset default --seed {args.seed} --budget-s "
                   f"{BUDGET_S:g} " + " ".join(f"--set {o}" for o in overrides),
        "machine": machine_facts()}
    data["summary"] = summary(data["runs"])
    data["budget_s"], data["cores"] = BUDGET_S, os.cpu_count()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)
    rows = [[k, r["rel_l2"], r["wall_s"], r["steps"], r["causal_eps"] if r["causal_eps"] is not None else "-",
             r["causal_min_w"] if r["causal_min_w"] is not None else "-"] for k, r in sorted(data["runs"].items())]
    print_table(rows, header=["run", "rel L2", "wall s", "steps", "final eps", "min w"])
    for config, s in data["summary"].items():
        print(f"{config}: rel L2 mean {s['mean']:.3e}, std {s['std']:.1e} (min {s['min']:.3e}, max {s['max']:.3e}) "
              f"over {s['n']} seeds, longest run {s['max_wall_s']:.0f} s")


if __name__ == "__main__":
    main()
