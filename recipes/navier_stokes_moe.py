"""Hard-constraint mixture of experts (Chalapathi, Du & Krishnapriyan, ICLR 2024) on 2D Navier-Stokes (vorticity).

    python recipes/navier_stokes_moe.py [--preset quick|default|paper] [--constraint moe|hard|soft] [--out DIR]

Generates ``data/ns-grf-2d.h5`` from ``datasets/ns-grf-2d.toml`` when it is missing (32
samples, unforced nu = 1e-3, Gaussian-random-field initial vorticity, 26 frames of 32 x 32 to
t = 5, about 10 s), then runs
``sciml solve navier-stokes-2d --solver hard-constraint-moe --data data/ns-grf-2d.h5``:
a 3D FNO on (t, y, x) gives N basis functions; 2 x 2 experts (blocks in y and x) each solve
their weights by Levenberg-Marquardt on the vorticity residual at sampled nodes of their
block plus the whole initial field, differentiated by the implicit function theorem; the loss
is the PDE residual only; the last 8 samples are held out and scored by rel L2.
default = a CPU run (32 basis functions, FNO 3 x 16 with 8 modes, 4000 points, 250 steps, about 4 min on one core);
paper = 64 basis functions, FNO 4 x 64 with 16 modes, 20k points (of the 26.6k nodes), batch 8,
5000 steps (a GPU run, not measured).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
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
    parser.add_argument("--data", default=str(REPO / "data" / "ns-grf-2d.h5"))
    parser.add_argument("--out", default=None, help="run directory (default runs/navier_stokes_<constraint>-<preset>)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    data = Path(args.data)
    if not data.exists():
        generate(load_spec("ns-grf-2d"), data, seed=0, progress=sys.stderr.isatty())
    out = args.out or f"runs/navier_stokes_{args.constraint}-{args.preset}"
    start = time.perf_counter()
    result = solve("navier-stokes-2d", "hard-constraint-moe", preset=args.preset, data=data, out=out, force=True,
                   overrides=[f"constraint={args.constraint}", *args.overrides], device=args.device,
                   progress=sys.stderr.isatty())
    wall_s = time.perf_counter() - start
    m = result.metrics
    print(f"navier-stokes-2d / hard-constraint-moe ({args.constraint}) --preset {args.preset}: held-out rel L2 "
          f"{m['rel_l2']:.3e}, train {m['train_wall_s']:.1f} s, total {wall_s:.1f} s, {m['steps']} steps  "
          f"(run directory: {out})")
    suffix = "" if args.preset == "default" else f".{args.preset}"
    path = REPO / "benchmarks" / "results" / f"navier_stokes_moe_{args.constraint}{suffix}.json"
    path.write_text(json.dumps({**m, "wall_s": wall_s, "command": " ".join(["python", *sys.argv]),
                                "cores": os.cpu_count()}, indent=2, default=str) + "\n")
    return m


if __name__ == "__main__":
    main()
