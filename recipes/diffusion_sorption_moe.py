"""Hard-constraint mixture of experts (Chalapathi, Du & Krishnapriyan, ICLR 2024) on PDEBench's 1D diffusion-sorption.

    python recipes/diffusion_sorption_moe.py [--preset quick|default|paper] [--constraint moe|hard|soft] [--out DIR]

Generates ``data/diffusion-sorption.h5`` from ``datasets/diffusion-sorption.toml`` when it is
missing (64 samples, 1024 cells x 501 frames, about 10 s), then runs
``sciml solve diffusion-sorption --solver hard-constraint-moe --data data/diffusion-sorption.h5``:
an FNO gives 16 basis functions on (t, x); 4 experts (blocks along x) each solve their
weights by Levenberg-Marquardt, differentiated by the implicit function theorem; the loss
is the PDE residual only; the last 8 samples are held out and scored by rel L2.
default = the CPU setup of benchmarks/hard_constraint_moe.py (51 frames x 64 cells, FNO 4 x 32
with 16 modes, 1000 steps); paper = every frame and cell, 20k points per expert, FNO 4 x 64, 5000 steps (a GPU run).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sciml_core import solve
from sciml_core.data.generate import generate
from sciml_core.data.specs import load_spec


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="default", choices=["quick", "default", "paper"])
    parser.add_argument("--constraint", default="moe", choices=["moe", "hard", "soft"])
    parser.add_argument("--data", default=str(REPO / "data" / "diffusion-sorption.h5"))
    parser.add_argument("--out", default=None, help="run directory (default runs/diffusion_sorption_<constraint>-<preset>)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    data = Path(args.data)
    if not data.exists():
        generate(load_spec("diffusion-sorption"), data, seed=0, progress=sys.stderr.isatty())
    out = args.out or f"runs/diffusion_sorption_{args.constraint}-{args.preset}"
    result = solve("diffusion-sorption", "hard-constraint-moe", preset=args.preset, data=data, out=out, force=True,
                   overrides=[f"constraint={args.constraint}", *args.overrides], device=args.device,
                   progress=sys.stderr.isatty())
    m = result.metrics
    print(f"diffusion-sorption / hard-constraint-moe ({args.constraint}) --preset {args.preset}: held-out rel L2 "
          f"{m['rel_l2']:.3e}, train {m['train_wall_s']:.1f} s, {m['steps']} steps  (run directory: {out})")
    suffix = "" if args.preset == "default" else f".{args.preset}"
    path = REPO / "benchmarks" / "results" / f"diffusion_sorption_{args.constraint}{suffix}.json"
    path.write_text(json.dumps({**m, "command": " ".join(["python", *sys.argv]), "cores": os.cpu_count()},
                               indent=2, default=str) + "\n")
    return m


if __name__ == "__main__":
    main()
