"""Loader throughput: ``TrajectoryWindows`` through a DataLoader vs raw sequential h5py reads.

Both sides read the same bytes: for every window (sample, start) the frames
``[t0, t0 + window + horizon)`` of every field.  The raw side is the floor of what any
loader must do -- plain h5py slicing in one process, no normalisation, no tensors; the
loader side adds normalisation, channel stacking, tensor conversion and batching, spread
over 2 worker processes (steady state: persistent workers, timed after a warm-up epoch).
The loader fetches a batch at a time (``__getitems__``): overlapping windows of one sample
share a single HDF5 read.  Read in order, a batch is 16 consecutive windows of one sample
and reads far fewer bytes than it delivers; shuffled (the training configuration, and the
headline ``ratio``) nearly every window does its own reads, like the raw side.  Every
reader runs 10 times, interleaved, and its best run is reported: the cores may be shared
with other virtual machines, which the load average does not show.

    python benchmarks/data_loader_throughput.py [--quick]

Prints samples/s of both and their ratio (target >= 0.8) and writes
``benchmarks/results/data_loader_throughput.json`` (``loader_samples_per_s``,
``raw_samples_per_s``, ``ratio``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import torch
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table, write_results

from sciml_core.data import TrajectoryWindows, write_dataset


def make_file(path: Path, n: int, nt: int, n_space: int) -> None:
    """A 2-field 2D dataset of random float32 data (content does not matter for throughput)."""
    rng = np.random.default_rng(0)
    shape = (n, nt, n_space, n_space)
    fields = {f: rng.standard_normal(shape, dtype=np.float32) for f in ("u", "v")}
    coords = {"t": np.linspace(0, 1, nt), "y": np.linspace(0, 1, n_space), "x": np.linspace(0, 1, n_space)}
    attrs = {"pde": "benchmark", "pde_params": {}, "solver": "none", "solver_config": {}, "seed": 0,
             "fingerprint": "benchmark"}
    write_dataset(path, coords, fields, attrs=attrs)


def raw_reads(path: Path, window: int, horizon: int) -> tuple[int, float]:
    """Sequential h5py reads of every window's frames; returns (windows, seconds)."""
    start = time.perf_counter()
    count = 0
    with h5py.File(path, "r") as f:
        n, nt = f["u"].shape[:2]
        span = window + horizon
        for i in range(n):
            for t0 in range(nt - span + 1):
                for name in ("u", "v"):
                    f[name][i, t0 : t0 + span]
                count += 1
    return count, time.perf_counter() - start


def loader_epoch(loader: DataLoader) -> tuple[int, float]:
    start = time.perf_counter()
    count = 0
    for batch in loader:
        count += batch["input"].shape[0]
    return count, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    load = [os.getloadavg()[0]]  # other processes on the machine, before and after
    n, nt, n_space = (4, 12, 32) if args.quick else (32, 60, 64)
    window = horizon = 4
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.h5"
        make_file(path, n, nt, n_space)
        dataset = TrajectoryWindows(path, window=window, horizon=horizon)
        persistent = args.workers > 0
        loaders = {  # in order: a batch's windows share reads; shuffled: (nearly) every window reads its own
            "in order": DataLoader(dataset, batch_size=16, num_workers=args.workers, persistent_workers=persistent),
            "shuffled": DataLoader(dataset, batch_size=16, shuffle=True, num_workers=args.workers,
                                   persistent_workers=persistent, generator=torch.Generator().manual_seed(0)),
        }
        for loader in loaders.values():
            loader_epoch(loader)  # warm-up: starts the workers, fills the page cache
        raw_reads(path, window, horizon)
        repeats = 1 if args.quick else 10
        raw, loaded = [], {name: [] for name in loaders}
        for _ in range(repeats):  # interleaved, so every reader sees the same machine load
            raw.append(raw_reads(path, window, horizon))
            for name, loader in loaders.items():
                loaded[name].append(loader_epoch(loader))
    load.append(os.getloadavg()[0])
    raw_rate = max(c / s for c, s in raw)
    rates = {name: max(c / s for c, s in runs) for name, runs in loaded.items()}
    ratio = rates["shuffled"] / raw_rate  # the headline: the training configuration, no shared reads
    mb = 2 * (window + horizon) * n_space * n_space * 4 / 1e6
    rows = [["raw h5py, sequential", raw_rate, raw_rate * mb, 1.0]]
    rows += [[f"TrajectoryWindows, {args.workers} workers, {name}", r, r * mb, r / raw_rate] for name, r in rates.items()]
    print_table(rows, header=["reader", "samples/s", "MB/s delivered", "ratio"])
    print(f"ratio loader (shuffled) / raw = {ratio:.3f} (target >= 0.8), best of {repeats} interleaved runs each; "
          f"load average (1 min) before/after: {load[0]:.2f}/{load[1]:.2f} on {os.cpu_count()} cores")
    write_results(__file__, {"loader_samples_per_s": rates["shuffled"], "raw_samples_per_s": raw_rate, "ratio": ratio,
                             "loader_in_order_samples_per_s": rates["in order"],
                             "ratio_in_order": rates["in order"] / raw_rate, "workers": args.workers,
                             "windows": raw[0][0], "window": window, "horizon": horizon, "batch_size": 16,
                             "sample_shape": [2, n_space, n_space], "mb_per_window": mb, "repeats": repeats,
                             "load_average_1m": load}, quick=args.quick)


if __name__ == "__main__":
    main()
