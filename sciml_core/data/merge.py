"""``sciml data merge``: join shard files (``--shard K/N`` outputs) into one dataset file.

Shards must come from the same spec and seed (their ``spec``/``seed`` attrs agree), be
complete, and hold disjoint sample ranges that together cover ``0 .. n_total - 1``.  The
merged file is a copy (optionally compressed) written atomically, or, with ``virtual=True``,
an HDF5 virtual dataset that references the shard files in place (they must stay beside it).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np

from ..errors import DataError, OutputError
from .schema import Header, Layout, create_file, open_h5, read_header

_PROVENANCE = ("pde", "pde_params", "solver", "solver_config", "seed", "spec", "sciml_schema")


def _grid(h: Header) -> dict[str, int]:
    return {d: n for d, n in h.dims.items() if d != "sample"}


def _check_inputs(headers: list[Header], require_full: bool) -> np.ndarray:
    """Validate the shard set; return the sorted global sample indices it covers."""
    first = headers[0]
    for h in headers:
        for key in _PROVENANCE:
            if h.attrs.get(key) != first.attrs.get(key):
                raise DataError(f"{h.path}: {key!r} differs from {first.path}; shards of different datasets")
        if _grid(h) != _grid(first) or h.fields != first.fields:
            raise DataError(f"{h.path}: dims/fields differ from {first.path}")
        if h.n_complete < h.dims["sample"]:
            raise DataError(f"{h.path}: incomplete ({h.n_complete} of {h.dims['sample']} samples); "
                            "finish it with the same 'sciml data generate' command first")
    samples = np.concatenate([h.samples for h in headers])
    if len(np.unique(samples)) != len(samples):
        raise DataError(f"{headers[0].path}: shards overlap (a sample index appears twice)")
    samples = np.sort(samples)
    n_total = int(first.attrs.get("n_total", len(samples)))
    if require_full and not np.array_equal(samples, np.arange(n_total)):
        missing = sorted(set(range(n_total)) - set(samples.tolist()))
        raise DataError(f"{headers[0].path}: shards cover {len(samples)} of {n_total} samples "
                        f"(first missing: {missing[0] if missing else '?'}); pass every shard")
    return samples


def merge(inputs: Sequence[str | Path], out: str | Path, *, compression: str | None = None,
          virtual: bool = False, require_full: bool = True, force: bool = False) -> Path:
    """Merge ``inputs`` into ``out``; refuses to overwrite an existing ``out`` without ``force``."""
    out = Path(out)
    if not inputs:
        raise DataError("merge: no input files")
    for p in inputs:
        if Path(p).resolve() == out.resolve():
            raise OutputError(f"--out {str(out)!r} is one of the input files ({str(p)!r}); merging into an input "
                              "would destroy it: name a new file")
    if out.exists() and not force:
        raise OutputError(f"--out {str(out)!r} exists; pass --force to overwrite it")
    return _write_merged(inputs, out, compression, virtual, require_full)


def recompress(path: Path, compression: str) -> Path:
    """Rewrite one complete-or-partial dataset file with ``compression`` (a copy, then a rename)."""
    return _write_merged([path], path, compression, virtual=False, require_full=False)


def _write_merged(inputs: Sequence[str | Path], out: Path, compression: str | None, virtual: bool,
                  require_full: bool) -> Path:
    from ..run import atomic_path

    headers = sorted((read_header(p) for p in inputs), key=lambda h: int(h.samples[0]))
    samples = _check_inputs(headers, require_full)
    first = headers[0]
    with open_h5(first.path) as f:
        t = f["t"][:]
        space = {d: f[d][:] for d in first.space_dims}
        dtype = str(f[first.fields[0]].dtype)
    attrs = {k: v for k, v in first.attrs.items() if k not in ("sciml_schema", "sciml_version") and not k.startswith("_")}
    if len(headers) > 1 and "spec" in attrs:  # the merged file is what one unsharded run writes
        from .generate import fingerprint

        attrs["shard"] = ""
        attrs["fingerprint"] = fingerprint(json.loads(attrs["spec"]), int(attrs["seed"]), None)
    layout = Layout(samples=samples, t=t, space=space, fields=first.fields, params=first.params,
                    ic_draws=first.ic_draws, dtype=dtype, attrs=attrs, compression=compression)
    names = list(first.fields) + list(first.params) + [f"ic_{n}" for n in first.ic_draws] + ["completed"]
    offsets = [int(np.searchsorted(samples, h.samples[0])) for h in headers]
    with atomic_path(out) as tmp:
        create_file(tmp, layout)
        with h5py.File(tmp, "r+") as dst:
            for name in names:
                if virtual:
                    _make_virtual(dst, name, headers, offsets, out.parent)
                    continue
                for h, lo in zip(headers, offsets):
                    with open_h5(h.path) as src:
                        for s in range(0, h.dims["sample"], 16):
                            e = min(s + 16, h.dims["sample"])
                            dst[name][lo + s : lo + e] = src[name][s:e]
    return out


def _make_virtual(dst: h5py.File, name: str, headers: list[Header], offsets: list[int], base: Path) -> None:
    """Replace the skeleton ``dst[name]`` by a virtual dataset over the shards' ``name``."""
    old = dst[name]
    shape, dtype, role = old.shape, old.dtype, old.attrs.get("role")
    dims = [old.dims[a][0].name.lstrip("/") for a in range(old.ndim)]
    vlayout = h5py.VirtualLayout(shape=shape, dtype=dtype)
    for h, lo in zip(headers, offsets):
        n = h.dims["sample"]
        src = Path(h.path).resolve()
        path = str(src.relative_to(base.resolve())) if src.is_relative_to(base.resolve()) else str(src)
        vlayout[lo : lo + n] = h5py.VirtualSource(path, name, shape=(n, *shape[1:]))
    for axis, dim in enumerate(dims):
        old.dims[axis].detach_scale(dst[dim])
    del dst[name]
    ds = dst.create_virtual_dataset(name, vlayout, fillvalue=np.nan if dtype.kind == "f" else 0)
    if role is not None:
        ds.attrs["role"] = role
    for axis, dim in enumerate(dims):
        ds.dims[axis].attach_scale(dst[dim])
