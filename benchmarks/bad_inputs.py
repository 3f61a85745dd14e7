"""Bad input, as a hostile user would give it, against ``sciml solve``, ``sciml eval`` and ``sciml data``.

Every case is a command line run in a scratch directory holding small fixtures (a finished
spectral run, a finished PINN run, dataset shards and hand-damaged files).  A case passes
when the command exits with its status (2 for a user mistake, 3 for a diverged run) and
prints exactly its one expected line on stderr, no traceback, and leaves every file in the
directory as it was (a diverged run writes its own run directory, and only that).

    python benchmarks/bad_inputs.py [--quick]

The full run starts one ``sciml`` process per case (a crash or segfault counts as a
traceback); ``--quick`` runs a few cases in-process.  Prints the counts -- clear errors /
cases, tracebacks, files changed -- and writes ``benchmarks/results/bad_inputs.json``.
``tests/test_bad_inputs.py`` runs every case in-process with its exact message.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SPECTRAL = ["allen-cahn", "--solver", "spectral-etdrk4"]
SMALL = ["--set", "n=32", "--set", "frames=3", "--set", "error_estimate=false"]
PINN = ["burgers", "--solver", "pinn", "--set", "derivatives=autograd", "--set", "model.width=8",
        "--set", "model.depth=2", "--set", "sampling.n_residual=64", "--set", "sampling.n_initial=16",
        "--set", "sampling.n_boundary=16", "--set", "train.adam_steps=4", "--set", "train.lbfgs_steps=0",
        "--set", "train.checkpoint_every=2", "--set", "train.log_every=1"]


@dataclass
class Case:
    """One bad command: argv after ``sciml``, the exit status and exact stderr line it must give."""

    name: str
    argv: list[str]
    message: str
    code: int = 2
    prepare: Callable[[Path], None] | None = None
    writes: tuple[str, ...] = ()  # paths the command may create (a diverged run's directory)


# ---- fixtures ---------------------------------------------------------------------------------
def build_fixtures(root: Path, runs: bool = True) -> None:
    """``runs/spectral``, ``runs/pinn`` (finished runs; not with ``runs=False``), ``data/*.h5``
    (shards and damaged files), damaged config files."""
    import h5py
    import numpy as np

    from sciml_core.cli import main
    from sciml_core.data.generate import generate
    from sciml_core.data.merge import _write_merged, merge
    from sciml_core.data.specs import load_spec

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        if runs:
            assert main(["solve", *SPECTRAL, *SMALL, "--set", "checkpoint_every=1", "--out", str(root / "runs/spectral"),
                         "--device", "cpu"]) == 0
            assert main(["solve", *PINN, "--out", str(root / "runs/pinn"), "--device", "cpu"]) == 0
    data = root / "data"
    spec = load_spec("burgers-1d", {"n_samples": 4, "block_size": 2, "times": {"n_t": 5},
                                    "solver": {"config": {"n": 32}}})
    for k in (0, 1):
        generate(spec, data / f"s{k}.h5", shard=(k, 2), progress=False)
    shutil.copy(data / "s0.h5", data / "gone.h5")
    merge([data / "gone.h5", data / "s1.h5"], data / "dangling.h5", virtual=True)
    (data / "gone.h5").unlink()
    shutil.copy(data / "s0.h5", data / "a.h5")
    _write_merged([data / "a.h5", data / "s1.h5"], data / "a.h5", None, True, True)  # the old bug: refers to itself
    shutil.copy(data / "s0.h5", data / "nan.h5")
    with h5py.File(data / "nan.h5", "r+") as f:
        f["u"][1, 2, 3] = np.nan
    shutil.copy(data / "s0.h5", data / "badjson.h5")
    with h5py.File(data / "badjson.h5", "r+") as f:
        f.attrs["solver_config"] = "{not json"
    shutil.copy(data / "s0.h5", data / "int16.h5")
    with h5py.File(data / "int16.h5", "r+") as f:
        values, scales = f["u"][...], [f["u"].dims[i][0] for i in range(3)]
        for i, s in enumerate(scales):
            f["u"].dims[i].detach_scale(s)
        del f["u"]
        f["u"] = values.astype("i2")
        f["u"].attrs["role"] = "field"
        for i, s in enumerate(scales):
            f["u"].dims[i].attach_scale(s)
    with h5py.File(data / "pdebench.h5", "w") as f:
        f["tensor"], f["x-coordinate"], f["t-coordinate"] = np.zeros((2, 5, 8), "f4"), np.arange(8.0), np.arange(6.0)
    with h5py.File(data / "mppde.h5", "w") as f:
        f["train/pde_250-100"] = np.zeros((2, 250, 100))
    root.mkdir(parents=True, exist_ok=True)
    (root / "bad_name.toml").write_text('name = "../../x"\n' + (ROOT / "datasets/burgers-1d.toml").read_text())
    (root / "pde_params5.toml").write_text('pde = "allen-cahn"\nsolver = "spectral-etdrk4"\npde_params = 5\n')
    (root / "binary.toml").write_bytes(bytes(range(256)) * 4)


def _nan_reference(d: Path) -> None:
    import xarray as xr

    with xr.open_dataset(d / "runs/pinn/solution.nc", engine="h5netcdf") as ds:
        ref = ds[["u_ref"]].rename({"u_ref": "u"}).load()
    ref["u"][3, 5] = float("nan")
    ref.to_netcdf(d / "nan_ref.nc", engine="h5netcdf")


def _coarse_reference(d: Path) -> None:
    import xarray as xr

    with xr.open_dataset(d / "runs/spectral/solution.nc", engine="h5netcdf") as ds:
        ds[["u"]].isel(x=slice(0, None, 2)).load().to_netcdf(d / "coarse_ref.nc", engine="h5netcdf")


def _sample_reference(d: Path) -> None:
    import xarray as xr

    with xr.open_dataset(d / "runs/spectral/solution.nc", engine="h5netcdf") as ds:
        ds[["u"]].expand_dims(sample=2).load().to_netcdf(d / "sample_ref.nc", engine="h5netcdf")


def _corrupt_metrics(d: Path) -> None:
    (d / "runs/spectral/metrics.json").write_text('{"rel_l2": 0.1,')


def _aborted(d: Path) -> None:
    """As a run killed on another node leaves it: run.json still says running."""
    marker = d / "runs/pinn/run.json"
    data = json.loads(marker.read_text())
    marker.write_text(json.dumps({**data, "status": "running", "host": "another-node"}))


def _wrong_shape(d: Path) -> None:
    import torch

    path = d / "runs/pinn/checkpoint.pt"
    state = torch.load(path, weights_only=True)
    key = next(k for k in state["model"] if k.endswith("weight"))
    state["model"][key] = torch.zeros(3, 3)
    torch.save(state, path)


def _spectral_checkpoint(d: Path) -> None:
    shutil.copy(d / "runs/spectral/checkpoint.pt", d / "runs/pinn/checkpoint.pt")


def _random_checkpoint(d: Path) -> None:
    (d / "runs/pinn/checkpoint.pt").write_bytes(os.urandom(4096))


def _user_files(d: Path) -> None:
    (d / "mine").mkdir()
    (d / "mine/notes.txt").write_text("my work\n")


def _symlink(d: Path) -> None:
    (d / "data/link.h5").symlink_to("s0.h5")


CKPT = "runs/pinn/checkpoint.pt"
CASES = [
    # -- sciml solve: values ------------------------------------------------------------------
    Case("solve dt=inf", ["solve", *SPECTRAL, "--set", "dt=inf"],
         "sciml: error: invalid value for 'dt': inf (expected a finite number)"),
    Case("solve pde.t_end=inf", ["solve", *SPECTRAL, "--set", "pde.t_end=inf"],
         "sciml: error: invalid value for 'pde.t_end': inf (expected a finite number)"),
    Case("solve train.lr=nan", ["solve", *PINN, "--set", "train.lr=nan"],
         "sciml: error: invalid value for 'train.lr': nan (expected a finite number)"),
    Case("solve n=1e11", ["solve", *SPECTRAL, "--set", "n=100000000000"], "MEMORY"),
    Case("solve n=2", ["solve", *SPECTRAL, "--set", "n=2"], "sciml: error: n must be at least 4, got 2"),
    Case("solve seed 2**80", ["solve", *SPECTRAL, "--seed", str(2**80)],
         f"sciml: error: --seed must be an integer in [0, 2**63), got {2**80}"),
    Case("solve seed -1", ["solve", *SPECTRAL, "--seed", "-1"],
         "sciml: error: --seed must be an integer in [0, 2**63), got -1"),
    Case("solve budget -1", ["solve", *SPECTRAL, "--budget-s", "-1"],
         "sciml: error: --budget-s must be a positive number of seconds, got -1.0"),
    Case("solve budget nan", ["solve", *SPECTRAL, "--budget-s", "nan"],
         "sciml: error: --budget-s must be a positive number of seconds, got nan"),
    Case("solve pde.d=1e308 diverges", ["solve", *SPECTRAL, *SMALL, "--set", "pde.d=1e308", "--out", "blowup"],
         "sciml: diverged: spectral-etdrk4: the solution became non-finite at t = 0.5 (frame 2 of 3; unstable step "
         "or parameters?); no checkpoint had been written yet", code=3, writes=("blowup",)),
    # -- sciml solve: config files --------------------------------------------------------------
    Case("config pde_params = 5", ["solve", "--config", "pde_params5.toml"],
         "sciml: error: config file 'pde_params5.toml': 'pde_params' must be a table, got 5"),
    Case("config binary", ["solve", "--config", "binary.toml"],
         "sciml: error: config file 'binary.toml' is not valid TOML: not UTF-8 text (a binary file?)"),
    Case("config directory", ["solve", "--config", "runs"],
         "sciml: error: config file 'runs' is a directory, not a TOML file"),
    # -- sciml solve: run directories -----------------------------------------------------------
    Case("out: a file", ["solve", *SPECTRAL, "--out", "binary.toml"],
         "sciml: error: --out 'binary.toml' exists and is not a directory"),
    Case("out: user's directory", ["solve", *SPECTRAL, "--out", "mine"],
         "sciml: error: --out 'mine' is not empty and holds no sciml run; name a new or empty directory "
         "(run files are never mixed into other files)", prepare=_user_files),
    Case("out: finished run", ["solve", *SPECTRAL, "--out", "runs/spectral"],
         "sciml: error: --out 'runs/spectral' already holds a run: pass --resume to continue it, --force to "
         "overwrite it, or choose another directory"),
    Case("out: aborted run with checkpoint", ["solve", *PINN, "--out", "runs/pinn"],
         "sciml: error: --out 'runs/pinn' holds an unfinished run (running, with a checkpoint): pass --resume to "
         "continue it, --force to start over, or choose another directory", prepare=_aborted),
    Case("precision the PINN cannot use", ["solve", *PINN, "--set", "train.amp=bf16", "--device", "cpu", "--out", "fresh"],
         "sciml: error: train.amp: PINNs cannot train under bf16 autocast: the residual takes high-order derivatives "
         "of the network, which 8 significant bits do not resolve (use float32 or float64, train.amp=none)"),
    Case("resume without checkpoint", ["solve", *SPECTRAL, "--out", "fresh", "--resume"],
         "sciml: error: --resume: no checkpoint to resume from at 'fresh/checkpoint.pt'"),
    Case("resume with other settings", ["solve", *PINN, "--out", "runs/pinn", "--resume", "--set", "model.width=32"],
         "sciml: error: --resume: the settings differ from the run in 'runs/pinn': config.model.width (8 in the run, "
         "32 now); resume with the run's own settings, or start a new run (--force or another --out)"),
    Case("resume spectral run as PINN", ["solve", *PINN, "--out", "runs/spectral", "--resume"],
         "sciml: error: --resume: the settings differ from the run in 'runs/spectral': pde ('allen-cahn' in the run, "
         "'burgers' now); solver ('spectral-etdrk4' in the run, 'pinn' now); resume with the run's own settings, "
         "or start a new run (--force or another --out)"),
    Case("resume checkpoint of wrong shape", ["solve", "--out", "runs/pinn", "--resume"], "SHAPE",
         prepare=_wrong_shape),
    Case("resume PINN run from a spectral checkpoint", ["solve", "--out", "runs/pinn", "--resume"],
         f"sciml: error: checkpoint '{CKPT}' does not fit this run: no 'model' entry (written by another solver?)",
         prepare=_spectral_checkpoint),
    Case("resume random-bytes checkpoint", ["solve", "--out", "runs/pinn", "--resume"],
         f"sciml: error: cannot read checkpoint '{CKPT}': not a checkpoint written by sciml (corrupt, truncated or "
         "another kind of file)", prepare=_random_checkpoint),
    # -- sciml eval ---------------------------------------------------------------------------
    Case("eval NaN reference", ["eval", "runs/pinn", "--reference", "nan_ref.nc"],
         "sciml: error: reference file 'nan_ref.nc': 'u' holds 1 NaN/inf values; a reference must be finite",
         prepare=_nan_reference),
    Case("eval coarser reference", ["eval", "runs/spectral", "--reference", "coarse_ref.nc"],
         "sciml: error: reference file 'coarse_ref.nc': 'u' covers x in [-1, 0.875], the run's grid spans "
         "[-1, 0.9375]; give a reference that covers it", prepare=_coarse_reference),
    Case("eval dataset-layout reference", ["eval", "runs/spectral", "--reference", "sample_ref.nc"],
         "sciml: error: reference file 'sample_ref.nc': 'u' has dims ('sample', 't', 'x'), the run's 'u' has "
         "('t', 'x') (a dataset file? select one sample first, e.g. ds.isel(sample=0))", prepare=_sample_reference),
    Case("eval corrupt metrics.json", ["eval", "runs/spectral"],
         "sciml: error: 'runs/spectral/metrics.json' is not valid JSON (Expecting property name enclosed in double "
         "quotes: line 1 column 16 (char 15)); eval never rewrites it: restore it or rerun the run",
         prepare=_corrupt_metrics),
    Case("eval missing run", ["eval", "nowhere"], "sciml: error: run directory 'nowhere' does not exist"),
    Case("eval aborted run", ["eval", "runs/pinn"],
         "sciml: error: run directory 'runs/pinn' holds a run that has not completed (aborted); finish it with "
         "--resume first", prepare=_aborted),
    # -- sciml data ---------------------------------------------------------------------------
    Case("merge into an input", ["data", "merge", "data/s0.h5", "data/s1.h5", "--virtual", "--out", "data/s0.h5",
                                 "--force"],
         "sciml: error: --out 'data/s0.h5' is one of the input files ('data/s0.h5'); merging into an input would "
         "destroy it: name a new file"),
    Case("merge into an input via symlink", ["data", "merge", "data/link.h5", "data/s1.h5", "--out", "data/s0.h5",
                                             "--force"],
         "sciml: error: --out 'data/s0.h5' is one of the input files ('data/link.h5'); merging into an input would "
         "destroy it: name a new file", prepare=_symlink),
    Case("info self-referencing file", ["data", "info", "data/a.h5"],
         "sciml: error: data/a.h5: 'u' is a virtual dataset that references itself (a broken merge output: "
         "regenerate it from the shards)"),
    Case("validate dangling virtual file", ["data", "validate", "data/dangling.h5"],
         "sciml: error: data/dangling.h5: 'u' is a virtual dataset whose source file 'gone.h5' is missing (the "
         "shards must stay where 'sciml data merge --virtual' found them)"),
    Case("generate seed -1", ["data", "generate", "burgers-1d", "--seed", "-1"],
         "sciml: error: --seed must be an integer in [0, 2**63), got -1"),
    Case("generate name=../../x", ["data", "generate", "burgers-1d", "--set", "name=../../x"],
         f"sciml: error: dataset spec '{ROOT / 'datasets/burgers-1d.toml'}': name '../../x' must be a plain name "
         "(letters, digits, '.', '_', '-'; no '/' or '..')"),
    Case("spec name ../../x", ["data", "generate", "bad_name.toml"],
         "sciml: error: dataset spec 'bad_name.toml': name '../../x' must be a plain name (letters, digits, '.', "
         "'_', '-'; no '/' or '..')"),
    Case("generate 1e11 samples", ["data", "generate", "burgers-1d", "--n-samples", "100000000000"], "DISK"),
    Case("generate --workers 0", ["data", "generate", "burgers-1d", "--workers", "0"],
         "sciml: error: --workers must be >= 1, got 0"),
    Case("generate --shard 3/2", ["data", "generate", "burgers-1d", "--shard", "3/2"],
         "sciml: error: --shard '3/2': need 0 <= K < N"),
    Case("validate int16 field", ["data", "validate", "data/int16.h5"],
         "sciml: error: data/int16.h5: 'u' is stored as int16, a field must be float32 or float64"),
    Case("validate bad provenance JSON", ["data", "validate", "data/badjson.h5"],
         "sciml: error: data/badjson.h5: attr 'solver_config' is not valid JSON"),
    Case("validate NaN file", ["data", "validate", "data/nan.h5"], "sciml: error: data/nan.h5: 'u' has NaN/inf in sample 1"),
    Case("info PDEBench file", ["data", "info", "data/pdebench.h5"],
         "sciml: error: data/pdebench.h5: a PDEBench 1D file (tensor, x-coordinate, t-coordinate), not a sciml "
         "dataset; convert it first: sciml data convert data/pdebench.h5 --from pdebench --out data/pdebench.sciml.h5"),
    Case("validate MP-PDE file", ["data", "validate", "data/mppde.h5"],
         "sciml: error: data/mppde.h5: an MP-PDE file (train/valid/test groups with pde_{nt}-{nx}), not a sciml "
         "dataset; convert it first: sciml data convert data/mppde.h5 --from mppde --out data/mppde.sciml.h5"),
    Case("convert onto itself", ["data", "convert", "data/pdebench.h5", "--from", "pdebench", "--out",
                                 "data/pdebench.h5", "--force"],
         "sciml: error: --out 'data/pdebench.h5' is the input file"),
]
QUICK = ("solve dt=inf", "config pde_params = 5", "eval missing run", "merge into an input", "validate int16 field")


def expected_message(case: Case) -> str:
    """The exact line; a few depend on this machine's memory and disk and are matched by prefix."""
    return {"MEMORY": "sciml: error: spectral-etdrk4 on 100000000000 grid points (100000000000) x 101 frames needs "
                      "about ",
            "DISK": "sciml: error: dataset 'burgers-1d' (100000000000 samples of 25856 values x 1 fields) needs "
                    "9.2 PiB of disk; ",
            "SHAPE": f"sciml: error: checkpoint '{CKPT}' does not fit this run: size mismatch for "}.get(case.message,
                                                                                                  case.message)


# ---- running ----------------------------------------------------------------------------------
@dataclass
class Outcome:
    code: int
    stderr: str
    traceback: bool
    changed: list[str] = field(default_factory=list)

    def clear(self, case: Case) -> bool:
        """Exit status, one line, the expected text, no traceback, nothing changed."""
        lines = self.stderr.splitlines()
        want = expected_message(case)
        text_ok = len(lines) == 1 and (lines[0] == want or (want != case.message and lines[0].startswith(want)))
        return self.code == case.code and text_ok and not self.traceback and not self.changed


def snapshot(root: Path) -> dict[str, str]:
    """Path -> content hash of every file and link under ``root``."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            out[str(path.relative_to(root))] = "link:" + os.readlink(path)
        elif path.is_file():
            out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def changes(before: dict[str, str], after: dict[str, str], allowed: tuple[str, ...]) -> list[str]:
    keys = set(before) | set(after)
    return sorted(k for k in keys if before.get(k) != after.get(k) and not any(k == a or k.startswith(a + "/")
                                                                               for a in allowed))


def run_case(case: Case, fixtures: Path, scratch: Path, in_process: bool) -> Outcome:
    """Copy the fixtures into ``scratch``, run the case there, report what happened."""
    shutil.copytree(fixtures, scratch, symlinks=True)
    if case.prepare is not None:
        case.prepare(scratch)
    before = snapshot(scratch)
    if in_process:
        from sciml_core.cli import main

        err, cwd = io.StringIO(), os.getcwd()
        os.chdir(scratch)
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                code, crashed = main(case.argv), False
        except BaseException:  # noqa: BLE001 - a bug: counted as a traceback
            code, crashed = 1, True
            err.write(traceback.format_exc())
        finally:
            os.chdir(cwd)
        outcome = Outcome(code, err.getvalue(), crashed)
    else:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
        proc = subprocess.run([sys.executable, "-m", "sciml_core.cli", *case.argv], cwd=scratch, env=env,
                              capture_output=True, text=True, timeout=600)
        crashed = proc.returncode < 0 or "Traceback" in proc.stderr
        outcome = Outcome(proc.returncode, proc.stderr, crashed)
    outcome.changed = changes(before, snapshot(scratch), case.writes)
    return outcome


def main() -> None:
    from _common import print_table, write_results

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few cases, in-process")
    args = parser.parse_args()
    cases = [c for c in CASES if c.name in QUICK] if args.quick else CASES
    start = time.perf_counter()
    rows, results = [], []
    with tempfile.TemporaryDirectory() as tmp:
        fixtures = Path(tmp) / "fixtures"
        build_fixtures(fixtures, runs=not args.quick)  # the quick cases need no finished runs
        for i, case in enumerate(cases):
            outcome = run_case(case, fixtures, Path(tmp) / f"case{i}", in_process=args.quick)
            ok = outcome.clear(case)
            rows.append((case.name, outcome.code, "yes" if ok else "NO", "yes" if outcome.traceback else "",
                         len(outcome.changed)))
            results.append({"case": case.name, "argv": case.argv, "code": outcome.code, "clear": ok,
                            "traceback": outcome.traceback, "changed": outcome.changed,
                            "stderr": outcome.stderr[-2000:]})
    print_table(rows, ["case", "exit", "clear", "traceback", "files changed"])
    clear = sum(r["clear"] for r in results)
    tracebacks = sum(r["traceback"] for r in results)
    changed = sum(len(r["changed"]) for r in results)
    print(f"\nclear errors: {clear} / {len(results)} cases; tracebacks: {tracebacks}; files changed: {changed}")
    write_results(__file__, {"cases": len(results), "clear_errors": clear, "tracebacks": tracebacks,
                             "files_changed": changed, "wall_s": round(time.perf_counter() - start, 1),
                             "mode": "in-process" if args.quick else "one process per case", "results": results},
                  quick=args.quick)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
