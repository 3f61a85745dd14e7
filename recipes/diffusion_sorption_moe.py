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

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _moe_recipe import run_recipe


def main() -> dict:
    return run_recipe("diffusion-sorption", "diffusion-sorption", "diffusion_sorption", "diffusion_sorption", __doc__)


if __name__ == "__main__":
    main()
