"""The command line shared by the stable-FNO recipes (``recipes/*_stable_fno.py``).

``python recipes/<pde>_stable_fno.py [--preset quick|default|paper] [--solver stable-fno|fno]
[--data FILE] [--out DIR] [--device auto] [--set key=value ...]``: generates the recipe's
dataset with ``sciml data generate`` when the file is missing (``quick``: a tiny version of
it), trains the operator through ``sciml_core.solve`` and prints the rollout metrics
(one-step error, valid steps against the chaos limit, blow-up step, spectrum error).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sciml_core import solve
from sciml_core.data.generate import generate
from sciml_core.data.specs import load_spec

QUICK_DATA = {"n_samples": 8, "block_size": 4, "times": {"n_t": 31}}


def main(pde: str, dataset: str, doc: str, quick_data: dict | None = None, overrides: tuple[str, ...] = (),
         models: dict[str, tuple[str, ...]] | None = None) -> dict:
    """Run the recipe; ``overrides`` apply to both solvers, ``models[solver]`` to one (not in quick)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="default", choices=["quick", "default", "paper"])
    parser.add_argument("--solver", default="stable-fno", choices=["stable-fno", "fno"])
    parser.add_argument("--data", type=Path, default=None, help=f"dataset file (default data/{dataset}.h5)")
    parser.add_argument("--out", default=None, help="run directory (default runs/<dataset>-<solver>-<preset>)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    quick = args.preset == "quick"
    name = f"{dataset}-paper" if args.preset == "paper" else dataset
    data = args.data or Path("data") / f"{name}{'.quick' if quick else ''}.h5"
    if args.data is None:  # create or complete it (a no-op when complete)
        spec = load_spec(name, {**QUICK_DATA, **(quick_data or {})} if quick else None)
        report = generate(spec, data, progress=sys.stderr.isatty())
        if report.n_generated:
            print(f"{data}: {report.n_generated} samples generated in {report.wall_s:.1f} s")
    per_model = () if quick else (models or {}).get(args.solver, ())
    extra = [*overrides, *per_model, *(["data.n_test=2", "long.steps=40", "long.truth_steps=20"] if quick else []),
             *args.overrides]
    out = args.out or f"runs/{dataset}-{args.solver}-{args.preset}"
    result = solve(pde, args.solver, preset=args.preset, data=data, overrides=extra, out=out, force=True,
                   device=args.device, progress=sys.stderr.isatty())
    m = result.metrics
    print(f"{dataset} / {args.solver} --preset {args.preset}: {m['params']} parameters, trained {m['steps']} steps "
          f"in {m['train_wall_s']:.0f} s; one-step rel L2 {m['one_step_rel_l2']:.2e}")
    if "long" in m:
        print(f"  {m['long']['rollout_steps']} rollout steps from {m['long']['n_initial_conditions']} held-out states: "
              f"blow-up step {m['blowup_step']}, spectrum_log_err {m['spectrum_log_err']}, valid steps "
              f"{m['valid_steps']:.0f} (chaos limit {m.get('chaos_valid_steps', float('nan')):.0f})")
    print(f"  run directory: {out} (plots/spectrum.png, plots/rollout_rel_l2.png)")
    return m
