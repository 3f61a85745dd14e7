"""Generation throughput of ``sciml data generate`` with 1 and 2 worker processes.

Workload: the shipped ``burgers-1d`` spec (PDEBench-style random sines, pseudo-spectral
ETDRK4 reference ``spectral-etdrk4``, 256 points, 101 frames to t = 1), through the same
engine and file writer as the command.  Both runs keep every solver single-threaded
(``OMP_NUM_THREADS=1``, scipy.fft workers = 1), so the comparison is process-level scaling
only; each run's wall time includes starting its workers and writing the file.  The two
files are checked to be bit-identical.

    python benchmarks/generation_scaling.py [--quick]

Prints samples/s for 1 and 2 workers and their ratio (target >= 1.7 on 2 cores) and writes
``benchmarks/results/generation_scaling.json`` (``w1_samples_per_s``, ``w2_samples_per_s``,
``ratio``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import h5py
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table, write_results

from sciml_core.data.generate import generate
from sciml_core.data.specs import load_spec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--n-samples", type=int, help="samples per run (default 96, quick 8)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    n = args.n_samples or (8 if args.quick else 96)
    overrides = {"n_samples": n, "block_size": 4, "solver": {"config": {"workers": 1}}}
    if args.quick:
        overrides.update(times={"t_end": 0.2, "n_t": 21}, solver={"config": {"workers": 1, "n": 64}})
    spec = load_spec("burgers-1d", overrides)
    rows, rates = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (1, 2):
            out = Path(tmp) / f"w{workers}.h5"
            report = generate(spec, out, seed=0, workers=workers, progress=False)
            rates[workers] = report.samples_per_s
            rows.append([workers, n, report.wall_s, report.samples_per_s])
        with h5py.File(Path(tmp) / "w1.h5") as a, h5py.File(Path(tmp) / "w2.h5") as b:
            identical = bool(np.array_equal(a["u"][...], b["u"][...]))
    ratio = rates[2] / rates[1]
    print_table(rows, header=["workers", "samples", "wall_s", "samples/s"])
    print(f"ratio w2/w1 = {ratio:.3f} (target >= 1.7); files bit-identical: {identical}")
    if not identical:
        raise SystemExit("1-worker and 2-worker files differ")
    write_results(__file__, {"w1_samples_per_s": rates[1], "w2_samples_per_s": rates[2], "ratio": ratio,
                             "n_samples": n, "spec": "burgers-1d", "solver": spec.solver.name,
                             "block_size": spec.block_size, "identical": identical}, quick=args.quick)


if __name__ == "__main__":
    main()
