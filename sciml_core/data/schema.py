"""The dataset file: HDF5 laid out so that ``xarray.open_dataset(path, engine="h5netcdf")`` opens it.

Layout (schema ``sciml-dataset/1``)::

    dims       sample, t, [y,] x
    sample     (sample,) int64    global sample index (shards hold a contiguous range)
    t, y, x    1-D coordinates
    <field>    (sample, t, [y,] x) float32/float64, chunked one sample per chunk, NaN until written
    <param>    (sample,) float64  per-sample PDE parameters            (attr role = "parameter")
    ic_<name>  (sample,) float64  per-sample initial-condition draws   (attr role = "ic")
    completed  (sample,) int8     1 once every variable of the sample is written
    attrs      sciml_schema, name, pde, pde_params (JSON), solver, solver_config (JSON), seed,
               sciml_version, spec (JSON), fingerprint, shard ("K/N" or ""), n_total

Every chunk is allocated when the file is created, so filling a sample rewrites raw bytes in
place and never touches HDF5 metadata: a writer killed at any moment (even by SIGKILL)
leaves a readable file whose ``completed`` mask says which samples are whole.  Compression
(``gzip``/``lzf``) is applied when a complete file is copied (``--compression``, ``merge``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import h5netcdf
import h5py
import numpy as np

from ..errors import DataError

SCHEMA = "sciml-dataset/1"
SPACE_DIMS = ("z", "y", "x")
REQUIRED_ATTRS = ("sciml_schema", "pde", "pde_params", "solver", "solver_config", "seed", "sciml_version")


def package_version() -> str:
    try:
        return version("sciml")
    except PackageNotFoundError:
        return "unknown"


@dataclass
class Layout:
    """Everything needed to create an empty dataset file."""

    samples: np.ndarray  # global indices, contiguous
    t: np.ndarray
    space: dict[str, np.ndarray]  # dims order, e.g. {"y": ..., "x": ...}
    fields: tuple[str, ...]
    params: tuple[str, ...] = ()
    ic_draws: tuple[str, ...] = ()
    dtype: str = "float32"
    attrs: dict[str, Any] = field(default_factory=dict)
    compression: str | None = None


def _early_dcpl() -> Any:
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
    return dcpl


def create_file(path: Path, layout: Layout) -> None:
    """Write an empty dataset file (all chunks allocated, fields NaN, ``completed`` 0)."""
    n, nt = len(layout.samples), len(layout.t)
    space_shape = tuple(len(c) for c in layout.space.values())
    comp = {"compression": layout.compression} if layout.compression else {"dcpl": _early_dcpl()}
    with h5netcdf.File(path, "w") as f:
        f.dimensions = {"sample": n, "t": nt, **{d: len(c) for d, c in layout.space.items()}}
        f.create_variable("sample", ("sample",), data=np.asarray(layout.samples, dtype=np.int64))
        f.create_variable("t", ("t",), data=np.asarray(layout.t, dtype=np.float64))
        for d, c in layout.space.items():
            f.create_variable(d, (d,), data=np.asarray(c, dtype=np.float64))
        dims = ("sample", "t", *layout.space)
        for name in layout.fields:
            v = f.create_variable(name, dims, dtype=layout.dtype, chunks=(1, nt, *space_shape),
                                  fillvalue=np.nan, **comp)
            v.attrs["role"] = "field"
        for role, names, prefix in (("parameter", layout.params, ""), ("ic", layout.ic_draws, "ic_")):
            for name in names:
                v = f.create_variable(prefix + name, ("sample",), dtype="f8", chunks=(n,), fillvalue=np.nan, **comp)
                v.attrs["role"] = role
        f.create_variable("completed", ("sample",), dtype="i1", chunks=(n,), **comp)
        f.attrs["sciml_schema"] = SCHEMA
        f.attrs["sciml_version"] = package_version()
        for key, value in layout.attrs.items():
            f.attrs[key] = json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else value


@dataclass
class Header:
    """What a dataset file declares, read without loading any field data."""

    path: Path
    attrs: dict[str, Any]
    dims: dict[str, int]
    fields: tuple[str, ...]
    params: tuple[str, ...]
    ic_draws: tuple[str, ...]
    samples: np.ndarray
    completed: np.ndarray

    @property
    def space_dims(self) -> tuple[str, ...]:
        return tuple(d for d in SPACE_DIMS if d in self.dims)

    @property
    def n_complete(self) -> int:
        return int(self.completed.sum())

    def json_attr(self, key: str) -> Any:
        try:
            return json.loads(self.attrs.get(key, "{}"))
        except (TypeError, json.JSONDecodeError):
            raise DataError(f"{self.path}: attr {key!r} is not valid JSON") from None


def _text(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(()).item()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):
        return value.decode()
    return value


def _lock_error(exc: OSError) -> bool:
    text = str(exc).lower()
    return "lock file" in text or "locking" in text


def open_h5(path: str | Path, mode: str = "r", wait_s: float = 0.0) -> h5py.File:
    """Open an HDF5 file; a missing, truncated or non-HDF5 file raises DataError naming it.

    HDF5's default file locking is kept (so handles in one process agree with xarray's), but
    a reader that finds the file locked by a writer (a running generator) opens it without
    the lock; a writer waits up to ``wait_s`` seconds for readers to let go.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return h5py.File(path, mode)
        except OSError as exc:
            if not _lock_error(exc):
                raise DataError(f"{path}: not a readable HDF5 file (truncated or corrupt?): {exc}") from None
            if mode == "r":
                try:
                    return h5py.File(path, mode, locking=False)
                except OSError:
                    pass
            if time.monotonic() >= deadline:
                raise DataError(f"{path}: open in another process (HDF5 file lock); close it there, or set "
                                "HDF5_USE_FILE_LOCKING=FALSE") from None
            time.sleep(0.05)


def _source_candidates(vds_file: Path, name: str) -> list[Path]:
    """Where HDF5 looks for a virtual dataset's source file: as given (relative to the working
    directory), then relative to the directory of the file holding the virtual dataset."""
    if name == ".":
        return [vds_file]
    given = Path(name)
    return [given] if given.is_absolute() else [given, vds_file.parent / given]


def check_virtual_sources(f: h5py.File, path: Path, _seen: tuple[Path, ...] = ()) -> None:
    """DataError for a virtual dataset whose source is missing or leads back to a file on the
    way (HDF5 would return fill values, or recurse until it crashes); checked before any read."""
    here = path.resolve()
    seen = (*_seen, here)
    for name, obj in f.items():
        if not (isinstance(obj, h5py.Dataset) and obj.is_virtual):
            continue
        for source in {m.file_name for m in obj.virtual_sources()}:
            found = next((c for c in _source_candidates(path, source) if c.exists()), None)
            if found is None:
                raise DataError(f"{path}: {name!r} is a virtual dataset whose source file {source!r} is missing "
                                "(the shards must stay where 'sciml data merge --virtual' found them)")
            if found.resolve() in seen:
                target = "itself" if found.resolve() == here else repr(str(found))
                raise DataError(f"{path}: {name!r} is a virtual dataset that references {target} (a broken merge "
                                "output: regenerate it from the shards)")
            if len(seen) < 8:
                try:
                    with h5py.File(found, "r", locking=False) as g:
                        check_virtual_sources(g, found, seen)
                except OSError as exc:
                    raise DataError(f"{path}: source file {str(found)!r} of {name!r} is not readable: {exc}") from None


def read_header(path: str | Path) -> Header:
    """Check the schema (attrs, variables, dims, shapes) and return the header; DataError if bad."""
    path = Path(path)
    with open_h5(path) as f:
        check_virtual_sources(f, path)
        attrs = {k: _text(v) for k, v in f.attrs.items()}
        missing = [a for a in REQUIRED_ATTRS if a not in attrs]
        if missing:
            foreign = foreign_format(f)
            if foreign is not None:
                raise DataError(f"{path}: {foreign[0]}, not a sciml dataset; convert it first: "
                                f"sciml data convert {path} --from {foreign[1]} --out {path.with_suffix('')}.sciml.h5")
            raise DataError(f"{path}: missing attr {missing[0]!r} (not a sciml dataset file?)")
        if attrs["sciml_schema"] != SCHEMA:
            raise DataError(f"{path}: unsupported schema {attrs['sciml_schema']!r} (expected {SCHEMA!r})")
        for name in ("sample", "t", "completed"):
            if name not in f:
                raise DataError(f"{path}: missing dataset {name!r}")
        space = tuple(d for d in SPACE_DIMS if d in f)
        dims = {"sample": f["sample"].shape[0], "t": f["t"].shape[0], **{d: f[d].shape[0] for d in space}}
        for d in dims:
            if f[d].ndim != 1:
                raise DataError(f"{path}: coordinate {d!r} has rank {f[d].ndim}, expected 1")
        roles: dict[str, list[str]] = {"field": [], "parameter": [], "ic": []}
        for name, obj in f.items():
            role = _text(obj.attrs.get("role", ""))
            if role in roles:
                roles[role].append(name)
        if not roles["field"]:
            raise DataError(f"{path}: no field variables (datasets with attr role='field')")
        expect = (dims["sample"], dims["t"], *(dims[d] for d in space))
        for name in roles["field"]:
            if f[name].shape != expect:
                raise DataError(f"{path}: field {name!r} has shape {f[name].shape}, coordinates say {expect}")
        for name in roles["parameter"] + roles["ic"] + ["completed"]:
            if f[name].shape != (dims["sample"],):
                raise DataError(f"{path}: {name!r} has shape {f[name].shape}, expected ({dims['sample']},)")
        return Header(path, attrs, dims, tuple(roles["field"]), tuple(roles["parameter"]),
                      tuple(n[3:] for n in roles["ic"]), f["sample"][:], f["completed"][:].astype(bool))


def foreign_format(f: h5py.File) -> tuple[str, str] | None:
    """(what the file is, its ``convert --from`` name) for the layouts we read: PDEBench's
    single-file (``tensor``) and per-seed (``0000/data``) files, MP-PDE's split groups."""
    if isinstance(f.get("tensor"), h5py.Dataset) and "x-coordinate" in f:
        return "a PDEBench 1D file (tensor, x-coordinate, t-coordinate)", "pdebench"
    groups = [k for k in f if isinstance(f.get(k), h5py.Group)]
    if any(k.isdigit() and isinstance(f[k].get("data"), h5py.Dataset) for k in groups):
        return "a PDEBench per-seed file (groups 0000, 0001, ... with data and grid)", "pdebench"
    if any(any(n.startswith("pde_") for n in f[k]) for k in groups if k in ("train", "valid", "test")):
        return "an MP-PDE file (train/valid/test groups with pde_{nt}-{nx})", "mppde"
    return None


#: storage types the schema allows, per variable role
DTYPES = {"field": ("float32", "float64"), "parameter": ("float64", "float32"), "ic": ("float64", "float32"),
          "completed": ("int8", "uint8")}
JSON_ATTRS = ("pde_params", "solver_config", "spec")


def validate_file(path: str | Path, chunk: int = 64) -> Header:
    """Full check: schema, shapes, storage types, provenance (every JSON attribute parses,
    the seed is an integer), completeness, and no NaN/inf in any field or parameter.

    Raises DataError with the first problem found; returns the header when the file is good.
    """
    header = read_header(path)
    for key in JSON_ATTRS:
        if key in header.attrs:
            header.json_attr(key)
    seed = header.attrs.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise DataError(f"{header.path}: attr 'seed' is {seed!r}, expected an integer")
    with open_h5(header.path) as f:
        roles = [(n, "field") for n in header.fields] + [(n, "parameter") for n in header.params] + \
                [(f"ic_{n}", "ic") for n in header.ic_draws] + [("completed", "completed")]
        for name, role in roles:
            if str(f[name].dtype) not in DTYPES[role]:
                raise DataError(f"{header.path}: {name!r} is stored as {f[name].dtype}, a {role} must be "
                                f"{' or '.join(DTYPES[role])}")
    if header.n_complete < header.dims["sample"]:
        missing = np.flatnonzero(~header.completed)
        raise DataError(f"{header.path}: incomplete, {len(missing)} of {header.dims['sample']} samples "
                        f"missing (first: index {int(header.samples[missing[0]])}); re-run "
                        "'sciml data generate' with the same arguments to complete it")
    with open_h5(header.path) as f:
        names = list(header.fields) + list(header.params) + [f"ic_{n}" for n in header.ic_draws]
        for name in names:
            ds = f[name]
            for start in range(0, ds.shape[0], chunk):
                block = ds[start : start + chunk]
                bad = ~np.isfinite(block)
                if bad.any():
                    pos = start + int(np.argwhere(bad)[0][0])
                    raise DataError(f"{header.path}: {name!r} has NaN/inf in sample {int(header.samples[pos])}")
    return header


def open_dataset(path: str | Path, complete_only: bool = False) -> Any:
    """The file as a lazily loaded ``xarray.Dataset`` (``complete_only``: drop unfinished samples)."""
    import xarray as xr

    header = read_header(path)
    ds = xr.open_dataset(header.path, engine="h5netcdf")
    if complete_only and header.n_complete < header.dims["sample"]:
        ds = ds.isel(sample=np.flatnonzero(header.completed))
    return ds


def describe(header: Header) -> str:
    """Human summary used by ``sciml data info``: dims, storage, parameter ranges, provenance."""
    a = header.attrs
    done = header.completed
    with open_h5(header.path) as f:
        first = f[header.fields[0]]
        storage = f"{first.dtype}, chunks {first.chunks}, {first.compression or 'uncompressed'}, " \
                  f"{header.path.stat().st_size / 1e6:.1f} MB"
        coords = {d: f[d][:] for d in ("t", *header.space_dims)}
        ranges = []
        for name in list(header.params) + [f"ic_{n}" for n in header.ic_draws]:
            values = f[name][:][done]
            ranges.append(f"{name} in [{values.min():.4g}, {values.max():.4g}]" if len(values) else name)
        bad = non_finite_samples(f, header)
    lines = [f"{header.path}", f"  schema      {a['sciml_schema']} (sciml {a['sciml_version']})",
             "  dims        " + ", ".join(f"{d}={n}" for d, n in header.dims.items()),
             "  coords      " + ", ".join(f"{d} in [{c[0]:.4g}, {c[-1]:.4g}]" for d, c in coords.items() if len(c)),
             f"  fields      {', '.join(header.fields)} ({storage})",
             f"  per sample  {'; '.join(ranges) or '(no per-sample parameters)'}",
             f"  complete    {header.n_complete} / {header.dims['sample']}"
             + (f" (samples {int(header.samples[0])}..{int(header.samples[-1])})" if len(header.samples) else ""),
             f"  pde         {a['pde']} {a['pde_params']}",
             f"  solver      {a['solver']} {a['solver_config']}",
             f"  seed        {a['seed']}",
             "  values      " + ("all finite" if not bad else "WARNING: NaN/inf in " + "; ".join(
                 f"{name!r} ({len(idx)} completed samples, first {idx[0]})" for name, idx in bad.items())
                 + " -- 'sciml data validate' fails on this file")]
    for key in ("name", "shard", "source", "split"):
        if a.get(key):
            lines.append(f"  {key:<11} {a[key]}")
    return "\n".join(lines)


def non_finite_samples(f: h5py.File, header: Header, chunk: int = 64) -> dict[str, list[int]]:
    """Per variable, the completed samples (global indices) holding NaN/inf (unfinished ones are NaN by design)."""
    out: dict[str, list[int]] = {}
    done = np.flatnonzero(header.completed)
    for name in list(header.fields) + list(header.params) + [f"ic_{n}" for n in header.ic_draws]:
        ds, bad = f[name], []
        for start in range(0, len(done), chunk):
            idx = done[start : start + chunk]
            block = ds[idx[0] : idx[-1] + 1][idx - idx[0]]
            finite = np.isfinite(block).reshape(len(idx), -1).all(axis=1)
            bad += [int(header.samples[i]) for i in idx[~finite]]
        if bad:
            out[name] = bad
    return out


def write_dataset(path: Path, coords: Mapping[str, np.ndarray], fields: Mapping[str, np.ndarray],
                  params: Mapping[str, np.ndarray] | None = None, attrs: Mapping[str, Any] | None = None,
                  compression: str | None = None) -> None:
    """Write complete in-memory data (fields ``(sample, t, *space)``) in the schema.

    ``coords`` holds ``t`` and the spatial dims (in order); the file is written atomically.
    Used by the converters; ``attrs`` must carry the provenance keys of :data:`REQUIRED_ATTRS`.
    """
    from ..run import atomic_path

    first = next(iter(fields.values()))
    space = {d: np.asarray(coords[d]) for d in SPACE_DIMS if d in coords}
    params = dict(params or {})
    layout = Layout(samples=np.arange(first.shape[0]), t=np.asarray(coords["t"]), space=space,
                    fields=tuple(fields), params=tuple(params), dtype=str(first.dtype),
                    attrs=dict(attrs or {}), compression=compression)
    with atomic_path(path) as tmp:
        create_file(tmp, layout)
        with h5py.File(tmp, "r+") as f:
            for name, values in {**fields, **params}.items():
                f[name][...] = values
            f["completed"][...] = 1


def field_names(count: int) -> list[str]:
    """Default names for ``count`` channels: u, v, w, then c3, c4, ..."""
    base = ["u", "v", "w"]
    return [base[i] if i < 3 else f"c{i}" for i in range(count)]

