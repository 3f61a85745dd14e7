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

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _moe_recipe import run_recipe


def main() -> dict:
    return run_recipe("navier-stokes-2d", "ns-grf-2d", "navier_stokes", "navier_stokes_moe", __doc__)


if __name__ == "__main__":
    main()
