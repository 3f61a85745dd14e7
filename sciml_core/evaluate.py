"""``sciml eval``: recompute a run's metrics from its ``solution.nc``.

Without a reference file the stored ``<field>_ref`` variables are used; with one, its
variables named like the run's fields (or ``<field>_ref``) are compared, interpolated
linearly onto the run's grid when the coordinates differ.  The result goes to
``metrics.eval.json`` beside the run's ``metrics.json``, which is never rewritten: the
numbers a run reported stay what it reported.

A reference is refused (one line naming the file and variable) when it holds NaN/inf, when
its grid does not cover the run's (interpolation would invent NaN at the edges), or when its
layout differs (e.g. a dataset file with a ``sample`` dimension for a single-trajectory run).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataError
from .metrics import rel_l2
from .run import RunDirectory, dumps_json, write_text_atomic

EVAL_FILE = "metrics.eval.json"


def _open(path: Path, what: str) -> Any:
    import xarray as xr

    if not path.exists():
        raise DataError(f"{what} {str(path)!r} does not exist")
    if path.is_dir():
        raise DataError(f"{what} {str(path)!r} is a directory, not a netCDF/HDF5 file")
    try:
        return xr.load_dataset(path, engine="h5netcdf")
    except Exception as exc:  # h5netcdf / h5py raise many types for unreadable files
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{what} {str(path)!r} cannot be read: {first}") from None


def _reference_field(ref_ds: Any, field: str, target: Any, where: str) -> tuple[Any, bool]:
    """The reference of ``field`` on ``target``'s grid (and whether it was interpolated)."""
    name = field if field in ref_ds.data_vars else f"{field}_ref"
    if name not in ref_ds.data_vars:
        raise DataError(f"{where} has no variable {field!r} or {field + '_ref'!r}")
    da = ref_ds[name]
    if set(da.dims) != set(target.dims):
        hint = " (a dataset file? select one sample first, e.g. ds.isel(sample=0))" if "sample" in da.dims else ""
        raise DataError(f"{where}: {name!r} has dims {tuple(da.dims)}, the run's {field!r} has "
                        f"{tuple(target.dims)}{hint}")
    values = np.asarray(da.values, dtype=np.float64)
    if not np.isfinite(values).all():
        raise DataError(f"{where}: {name!r} holds {int((~np.isfinite(values)).sum())} NaN/inf values; "
                        "a reference must be finite")
    same = True
    for d in target.dims:
        if d not in da.coords or d not in target.coords:
            if da.sizes[d] != target.sizes[d]:
                raise DataError(f"{where}: {name!r} has {da.sizes[d]} points along {d!r}, the run has "
                                f"{target.sizes[d]}, and no coordinate values to interpolate with")
            continue
        ref_c, run_c = np.asarray(da[d].values, dtype=np.float64), np.asarray(target[d].values, dtype=np.float64)
        if ref_c.shape == run_c.shape and np.array_equal(ref_c, run_c):
            continue
        same = False
        span = max(abs(run_c.max() - run_c.min()), 1.0)
        if ref_c.min() > run_c.min() + 1e-9 * span or ref_c.max() < run_c.max() - 1e-9 * span:
            raise DataError(f"{where}: {name!r} covers {d} in [{ref_c.min():.6g}, {ref_c.max():.6g}], the run's "
                            f"grid spans [{run_c.min():.6g}, {run_c.max():.6g}]; give a reference that covers it")
    if not same:
        da = da.interp_like(target)
        if not np.isfinite(da.values).all():  # e.g. unsorted coordinates
            raise DataError(f"{where}: {name!r} could not be interpolated onto the run's grid (are its "
                            "coordinates sorted?)")
    return da.transpose(*target.dims), not same


def evaluate_run(run_dir: str | Path, reference: str | Path | None = None) -> dict[str, Any]:
    """Recompute ``rel_l2`` (overall and per field); write and return ``metrics.eval.json``'s content."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise DataError(f"run directory {str(run_dir)!r} does not exist")
    status = RunDirectory.existing(run_dir).status()
    if status in ("running", "aborted"):
        raise DataError(f"run directory {str(run_dir)!r} holds a run that has not completed ({status}); "
                        "finish it with --resume first")
    metrics_path = run_dir / "metrics.json"
    stored: dict[str, Any] = {}
    if metrics_path.exists():
        try:
            stored = json.loads(metrics_path.read_text())
        except (ValueError, UnicodeDecodeError) as exc:
            raise DataError(f"{str(metrics_path)!r} is not valid JSON ({exc}); eval never rewrites it: restore it "
                            "or rerun the run") from None
        if not isinstance(stored, dict):
            raise DataError(f"{str(metrics_path)!r} holds {type(stored).__name__}, not a JSON object of metrics")
    solution = _open(run_dir / "solution.nc", "solution file")
    fields = [n for n in solution.data_vars if not n.endswith("_ref")]
    out: dict[str, Any] = {k: stored[k] for k in ("pde", "solver", "kind", "preset", "seed") if k in stored}
    out["evaluated"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    if reference is not None:
        ref_ds = _open(Path(reference), "reference file")
        where = f"reference file {str(reference)!r}"
        refs, interpolated = {}, False
        for field in fields:
            refs[field], moved = _reference_field(ref_ds, field, solution[field], where)
            interpolated |= moved
        out["reference"] = str(reference)
        out["reference_interpolated"] = interpolated
    else:
        refs = {f: solution[f"{f}_ref"] for f in fields if f"{f}_ref" in solution.data_vars}
        out["reference"] = "solution.nc (<field>_ref)" if refs else None
    if refs:
        for field, ref in refs.items():
            out[f"rel_l2_{field}"] = rel_l2(solution[field].values, ref.values)
        out["rel_l2"] = rel_l2(np.concatenate([solution[f].values.ravel() for f in refs]),
                               np.concatenate([r.values.ravel() for r in refs.values()]))
    else:
        out["rel_l2"] = None
    if "rel_l2" in stored:
        out["rel_l2_stored"] = stored["rel_l2"]
    write_text_atomic(run_dir / EVAL_FILE, dumps_json(out))
    return out
