"""Scaling: training on 1 and 2 ranks (torchrun, gloo on this CPU) and generation on 1 and 2 Dask workers.

Generation: the shipped ``burgers-1d`` spec (pseudo-spectral ETDRK4, 256 points, 101 frames,
blocks of 4 samples) through ``generate(..., scheduler=ADDRESS)`` (``sciml data generate
--scheduler``) on a LocalCluster of single-threaded worker processes, scaled to 1 and to 2
workers, started and warmed up before the clock runs (as a cluster's workers are).  Runs are
interleaved and the best of each is kept (the cores are shared with other virtual machines);
every file is checked bit-identical to a one-process run.

Training: the ``fno`` operator on that dataset, once with one rank (in this process, one
thread) and once with ``sciml solve --nproc 2`` (one single-threaded rank per core), the same
global batch;
samples/s = global batch x steps / training wall time (the Trainer's clock: start-up, data
loading and evaluation excluded).  ``loss_max_abs_diff_1v2`` is the largest difference of the
logged losses of the two runs (float32).  Two ranks on two shared cores gain less than two
workers do: every step all-reduces the gradients (about 0.4 ms per collective on this
machine's gloo) and gathers the predictions, and both ranks compete for the same two cores
with everything else running.

On a CUDA machine the script also times one-GPU training with and without bf16 autocast and
``torch.compile``, and the spectral reference's GPU step; without one those figures are
recorded as unmeasured.

    python benchmarks/scaling.py [--quick]

Writes ``benchmarks/results/scaling.json`` (``ranks1_samples_per_s``, ``ranks2_samples_per_s``,
``ratio``, ``loss_max_abs_diff_1v2``, ``dask_workers1_samples_per_s``,
``dask_workers2_samples_per_s``, ``dask_ratio``, ``gpu``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

logging.getLogger("distributed").setLevel(logging.ERROR)

import h5py
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table, write_results

from sciml_core.data.generate import generate, resolve
from sciml_core.data.specs import load_spec

REPO = Path(__file__).resolve().parents[1]


def _warm() -> None:
    """Worker start-up outside the clock: the imports a block needs."""
    import sciml_core.data.generate  # noqa: F401
    import solvers  # noqa: F401


def generation(spec, files: Path, repeats: int) -> tuple[dict[int, float], list[list], Path]:
    """Best samples/s on 1 and 2 Dask workers (runs interleaved, the cluster scaled between
    them, workers warmed up before the clock runs); the one-process file they must equal."""
    import distributed

    reference = files / "one-process.h5"
    generate(spec, reference, seed=0, progress=False)
    rates, rows = {1: 0.0, 2: 0.0}, []
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=logging.ERROR, env={"OMP_NUM_THREADS": "1"}) as cluster, \
            distributed.Client(cluster) as client:
        for rep in range(repeats):
            for n in (1, 2):
                cluster.scale(n)
                while len(client.scheduler_info()["workers"]) != n:
                    time.sleep(0.1)
                client.run(_warm)
                out = files / f"dask{n}-{rep}.h5"
                report = generate(spec, out, seed=0, progress=False, scheduler=cluster.scheduler_address)
                rates[n] = max(rates[n], report.samples_per_s)
                rows.append([f"dask, {n} worker(s)", spec.n_samples, report.wall_s, report.samples_per_s])
                with h5py.File(reference) as a, h5py.File(out) as b:
                    if a["u"][...].tobytes() != b["u"][...].tobytes():
                        raise SystemExit(f"{out.name} differs from the one-process file")
    return rates, rows, reference


def train(data: Path, out: Path, nproc: int, overrides: list[str]) -> tuple[dict, list[float]]:
    """One ``fno`` run: in this process (one rank) or ``sciml solve --nproc N``; its metrics and losses."""
    if nproc == 1:
        from sciml_core import solve

        solve("burgers-periodic", "fno", data=data, device="cpu", out=out, overrides=overrides, progress=False)
    else:
        argv = [sys.executable, "-m", "sciml_core.cli", "solve", "burgers-periodic", "--solver", "fno", "--data",
                str(data), "--device", "cpu", "--out", str(out), "--nproc", str(nproc),
                *[a for s in overrides for a in ("--set", s)]]
        env = {**os.environ, "OMP_NUM_THREADS": "1",
               "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
        proc = subprocess.run(argv, env=env, capture_output=True, text=True)
        if proc.returncode:
            raise SystemExit(f"training with {nproc} ranks failed:\n{proc.stderr[-3000:]}")
    metrics = json.loads((out / "metrics.json").read_text())
    losses = [json.loads(line)["loss"] for line in (out / "history.jsonl").read_text().splitlines()]
    return metrics, losses


def gpu_figures(data: Path, overrides: list[str], batch: int, quick: bool, device: str = "cuda") -> dict:
    """One-GPU training samples/s with and without bf16 / compile, and the spectral step time;
    a configuration the model cannot run under is recorded with its one-line refusal."""
    if device == "cuda" and not torch.cuda.is_available():
        return {"measured": False, "why": "no CUDA device on this machine: GPU figures unmeasured"}
    from sciml_core import solve
    from sciml_core.config import build_config
    from sciml_core.errors import ConfigError
    from sciml_core.registry import get_pde, get_solver
    from sciml_core.solver import RunContext

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    out: dict = {"measured": True, "device": torch.cuda.get_device_name(0) if device == "cuda" else device,
                 "training_samples_per_s": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for amp in ("none", "bf16"):
            for compiled in (False, True):
                key, run = f"amp={amp},compile={compiled}", Path(tmp) / f"{amp}-{compiled}"
                try:
                    solve("burgers-periodic", "fno", data=data, device=device, progress=False, out=run,
                          overrides=[*overrides, f"train.amp={amp}", f"train.compile={str(compiled).lower()}"])
                except ConfigError as exc:
                    out["training_samples_per_s"][key] = f"refused: {exc}"
                    continue
                rows = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
                first, last = rows[len(rows) // 5], rows[-1]  # steady state: compilation and warm-up left out
                out["training_samples_per_s"][key] = batch * (last["step"] - first["step"]) / (last["wall_s"] -
                                                                                                first["wall_s"])
    pde = get_pde("reaction-diffusion").from_params(preset="stable-spiral")
    cls = get_solver("spectral-etdrk4")
    for n, batch_rd in ((64, 4),) if quick else ((128, 16), (256, 16)):
        solver = cls(pde, build_config(cls.Config, {"n": n, "dt": 0.05, "backend": "torch"}),
                     RunContext(device=torch.device(device), dtype=torch.float64))
        grid = solver.grid()
        mesh = dict(zip(grid, np.meshgrid(*grid.values(), indexing="ij")))
        init = {f: np.broadcast_to(v, (batch_rd, *v.shape)).copy() for f, v in pde.initial_condition(**mesh).items()}
        solver.integrate(init, np.array([0.0, 1.0]))  # warm-up: FFT plans, kernels
        sync()
        start = time.perf_counter()
        solver.integrate(init, np.array([0.0, 10.0]))
        sync()
        out[f"spectral_etdrk4_step_ms_n{n}_batch{batch_rd}"] = (time.perf_counter() - start) / (10.0 / 0.05) * 1e3
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    args = parser.parse_args()
    torch.set_num_threads(1)
    load = [os.getloadavg()[0]]
    n = 8 if args.quick else 32
    overrides = {"n_samples": n, "block_size": 4, "solver": {"config": {"workers": 1}}}
    if args.quick:
        overrides.update(times={"t_end": 0.2, "n_t": 21}, solver={"config": {"workers": 1, "n": 64}})
    spec = load_spec("burgers-1d", overrides)
    resolve(spec)
    steps, batch = (6, 4) if args.quick else (300, 16)
    train_sets = [f"train.adam_steps={steps}", "train.log_every=1", f"train.checkpoint_every={steps}",
                  f"batch_size={batch}", "data.n_test=2" if args.quick else "data.n_test=4", "threads=1",
                  "eval_every=0", "long.steps=0"]
    if args.quick:
        train_sets += ["model.width=8", "model.n_modes=4", "model.n_layers=1"]
    with tempfile.TemporaryDirectory() as tmp:
        files = Path(tmp)
        rates, rows, data = generation(spec, files, repeats=1 if args.quick else 3)
        trained, losses = {}, {}
        for rep in range(1 if args.quick else 2):  # interleaved; the best rate of each
            for nproc in (1, 2):
                metrics, losses[nproc] = train(data, files / f"train{nproc}-{rep}", nproc, train_sets)
                rate = batch * metrics["steps"] / metrics["train_wall_s"]
                trained[nproc] = max(trained.get(nproc, 0.0), rate)
                rows.append([f"fno training, {nproc} rank(s)", batch * metrics["steps"], metrics["train_wall_s"], rate])
        gpu = gpu_figures(data, train_sets, batch, args.quick)
    diff = float(np.max(np.abs(np.array(losses[1]) - np.array(losses[2]))))
    load.append(os.getloadavg()[0])
    print_table(rows, header=["run", "samples", "wall_s", "samples/s"])
    ratio, dask_ratio = trained[2] / trained[1], rates[2] / rates[1]
    print(f"training ratio 2/1 ranks = {ratio:.3f}; max |loss difference| 1 vs 2 ranks = {diff:.3g} (float32)")
    print(f"generation ratio 2/1 Dask workers = {dask_ratio:.3f} (target >= 1.6); files bit-identical to one process")
    print(f"load average (1 min) before/after: {load[0]:.2f}/{load[1]:.2f} on {os.cpu_count()} cores; GPU: "
          f"{gpu.get('why') or gpu}")
    write_results(__file__, {"ranks1_samples_per_s": trained[1], "ranks2_samples_per_s": trained[2], "ratio": ratio,
                             "loss_max_abs_diff_1v2": diff, "dask_workers1_samples_per_s": rates[1],
                             "dask_workers2_samples_per_s": rates[2], "dask_ratio": dask_ratio, "gpu": gpu,
                             "n_samples": n, "spec": "burgers-1d", "train_steps": steps, "batch_size": batch,
                             "load_average_1m": load,
                             "runs": [dict(zip(("run", "samples", "wall_s", "samples_per_s"), r)) for r in rows]},
                  quick=args.quick)


if __name__ == "__main__":
    main()
