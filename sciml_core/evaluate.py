"""``sciml eval``: recompute a run's metrics from its ``solution.nc``.

Without a reference file the stored ``<field>_ref`` variables are used; with one, its
variables named like the run's fields (or ``<field>_ref``) are compared, interpolated
linearly onto the run's grid when the coordinates differ.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataError
from .metrics import rel_l2
from .run import json_default, write_text_atomic


def _open(path: Path, what: str) -> Any:
    import xarray as xr

    if not path.exists():
        raise DataError(f"{what} {str(path)!r} does not exist")
    try:
        return xr.load_dataset(path, engine="h5netcdf")
    except Exception as exc:  # h5netcdf / h5py raise many types for unreadable files
        raise DataError(f"{what} {str(path)!r} cannot be read: {str(exc).splitlines()[0] if str(exc) else exc}") from None


def evaluate_run(run_dir: str | Path, reference: str | Path | None = None) -> dict[str, Any]:
    """Recompute ``rel_l2`` (overall and per field), update ``metrics.json``, return the metrics."""
    run_dir = Path(run_dir)
    solution = _open(run_dir / "solution.nc", "solution file")
    fields = [n for n in solution.data_vars if not n.endswith("_ref")]
    metrics_path = run_dir / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
    if reference is not None:
        ref_ds = _open(Path(reference), "reference file")
        refs, interpolated = {}, False
        for field in fields:
            name = field if field in ref_ds.data_vars else f"{field}_ref"
            if name not in ref_ds.data_vars:
                raise DataError(f"reference file {str(reference)!r} has no variable {field!r} or {field + '_ref'!r}")
            da = ref_ds[name]
            if any(d not in da.dims for d in solution[field].dims):
                raise DataError(f"reference file {str(reference)!r}: {name!r} has dims {da.dims}, "
                                f"the run's {field!r} has {solution[field].dims}")
            same = all(np.array_equal(da[d].values, solution[d].values) for d in solution[field].dims if d in da.coords)
            if not same:
                da, interpolated = da.interp_like(solution[field]), True
            refs[field] = da.transpose(*solution[field].dims)
        metrics["reference"] = str(reference)
        metrics["reference_interpolated"] = interpolated
    else:
        refs = {f: solution[f"{f}_ref"] for f in fields if f"{f}_ref" in solution.data_vars}
    if refs:
        for field, ref in refs.items():
            metrics[f"rel_l2_{field}"] = rel_l2(solution[field].values, ref.values)
        metrics["rel_l2"] = rel_l2(np.concatenate([solution[f].values.ravel() for f in refs]),
                                   np.concatenate([r.values.ravel() for r in refs.values()]))
    else:
        metrics["rel_l2"] = None
    if metrics_path.parent.exists():
        write_text_atomic(metrics_path, json.dumps(metrics, indent=2, default=json_default) + "\n")
    return metrics
