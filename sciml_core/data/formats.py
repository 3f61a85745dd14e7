"""Readers and writers for the layouts people already have: PDEBench and MP-PDE.

PDEBench 1D single file
    ``tensor`` (N, nt, nx), ``x-coordinate`` (nx,), ``t-coordinate`` (nt + 1,) whose first nt
    entries are the frame times, attrs ``beta`` (advection) or ``Nu`` (Burgers).
PDEBench per-seed groups
    groups ``0000``, ``0001``, ... each with ``data`` (t, x, c) in 1D or (t, y, x, c) in 2D
    (axis 1 is y, as in PDEBench's 2D files), ``grid/x``, ``grid/y``, ``grid/t``.
MP-PDE (Brandstetter et al. 2022)
    a group per split (``train``/``valid``/``test``) with ``pde_{nt}-{nx}`` (N, nt, nx) per
    resolution and per-sample ``alpha``, ``beta``, ``gamma`` (N,).  Optional ``x``/``t``
    datasets give the grid; otherwise it is rebuilt from the paper (L = 16 periodic, T = 4).

Everything streams a block of samples at a time, so files larger than memory convert.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ..errors import ConfigError, DataError, OutputError
from .schema import Layout, create_file, field_names, open_h5, read_header

BLOCK = 16


@dataclass
class Source:
    """A file opened for streaming: coordinates, per-sample params and a block reader."""

    path: Path
    n: int
    coords: dict[str, np.ndarray]  # "t" then the spatial dims, in order
    fields: tuple[str, ...]
    read: Callable[[int, int], dict[str, np.ndarray]]  # samples [start, stop) -> (k, t, *space)
    params: dict[str, np.ndarray] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)


def _need(f: h5py.Group, name: str, path: Path, ndim: int | tuple[int, ...]) -> h5py.Dataset:
    if name not in f or not isinstance(f[name], h5py.Dataset):
        raise DataError(f"{path}: missing dataset {f.name.rstrip('/')}/{name}")
    ds = f[name]
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if ds.ndim not in allowed:
        raise DataError(f"{path}: {ds.name} has rank {ds.ndim}, expected {' or '.join(map(str, allowed))}")
    return ds


def _check_len(path: Path, what: str, values: np.ndarray, n: int) -> None:
    if len(values) != n:
        raise DataError(f"{path}: {what} has {len(values)} entries, the data has {n}")


def _pdebench(f: h5py.File, path: Path) -> Source:
    if "tensor" in f:
        tensor = _need(f, "tensor", path, 3)
        n, nt, nx = tensor.shape
        x = _need(f, "x-coordinate", path, 1)[:]
        t = _need(f, "t-coordinate", path, 1)[:]
        _check_len(path, "x-coordinate", x, nx)
        if len(t) not in (nt, nt + 1):
            raise DataError(f"{path}: t-coordinate has {len(t)} entries, expected {nt + 1} (nt + 1) for nt = {nt}")
        params = {k.lower(): float(np.asarray(f.attrs[k]).reshape(-1)[0]) for k in ("beta", "Nu") if k in f.attrs}
        pde = "pdebench-advection" if "beta" in params else "pdebench-burgers" if "nu" in params else "pdebench"
        return Source(path, n, {"t": t[:nt], "x": x}, ("u",), lambda s, e: {"u": tensor[s:e]},
                      attrs={"pde": pde, "pde_params": params})
    groups = sorted(k for k in f if re.fullmatch(r"\d+", k) and isinstance(f[k], h5py.Group))
    if not groups:
        raise DataError(f"{path}: neither a 'tensor' dataset nor seed groups '0000', '0001', ... (not PDEBench?)")
    first = f[groups[0]]
    data = _need(first, "data", path, (3, 4))
    space = ("x",) if data.ndim == 3 else ("y", "x")
    coords = {"t": _need(first, "grid/t", path, 1)[:]}
    for d in space:
        coords[d] = _need(first, f"grid/{d}", path, 1)[:]
    for axis, d in enumerate(("t", *space)):
        _check_len(path, f"{groups[0]}/grid/{d}", coords[d], data.shape[axis])
    names = tuple(field_names(data.shape[-1]))
    for g in groups:
        if _need(f[g], "data", path, data.ndim).shape != data.shape:
            raise DataError(f"{path}: {g}/data has shape {f[g]['data'].shape}, {groups[0]}/data has {data.shape}")

    def read(s: int, e: int) -> dict[str, np.ndarray]:
        block = np.stack([f[g]["data"][...] for g in groups[s:e]])  # (k, t, *space, c)
        return {name: block[..., c] for c, name in enumerate(names)}

    return Source(path, len(groups), coords, names, read, attrs={"pde": "pdebench", "pde_params": {}})


def _mppde(f: h5py.File, path: Path, split: str | None) -> Source:
    splits = sorted(k for k in f if isinstance(f[k], h5py.Group))
    if not splits:
        raise DataError(f"{path}: no split groups (train/valid/test): not an MP-PDE file?")
    if split is None:
        split = "train" if "train" in splits else splits[0]
    if split not in splits:
        raise DataError(f"{path}: no split {split!r} (found: {', '.join(splits)})")
    g = f[split]
    found = {m.group(0): (int(m.group(1)), int(m.group(2)))
             for m in (re.fullmatch(r"pde_(\d+)-(\d+)", k) for k in g) if m}
    if not found:
        raise DataError(f"{path}: group {split!r} has no 'pde_{{nt}}-{{nx}}' dataset")
    name = max(found, key=lambda k: found[k][1])  # the finest grid: the ground truth
    data = _need(g, name, path, 3)
    n, nt, nx = data.shape
    if (nt, nx) != found[name]:
        raise DataError(f"{path}: {split}/{name} has shape {data.shape}, its name says (N, {nt}, {nx})")
    coords = {"t": np.linspace(0.0, 4.0, nt), "x": np.linspace(0.0, 16.0, nx, endpoint=False)}
    for d in ("t", "x"):
        if d in g:
            values = np.asarray(g[d][:])
            coords[d] = values[0] if values.ndim == 2 else values
            _check_len(path, f"{split}/{d}", coords[d], data.shape[1 if d == "t" else 2])
    params = {}
    for k in ("alpha", "beta", "gamma"):
        if k in g:
            values = _need(g, k, path, 1)[:]
            _check_len(path, f"{split}/{k}", values, n)
            params[k] = values.astype(np.float64)
    return Source(path, n, coords, ("u",), lambda s, e: {"u": data[s:e]}, params,
                  attrs={"pde": "mp-pde-combined", "pde_params": {}, "split": split})


def _sciml(f: h5py.File, path: Path) -> Source:
    header = read_header(path)
    if header.n_complete < header.dims["sample"]:
        raise DataError(f"{path}: incomplete ({header.n_complete} of {header.dims['sample']} samples)")
    coords = {d: f[d][:] for d in ("t", *header.space_dims)}
    params = {p: f[p][:] for p in header.params}
    return Source(path, header.dims["sample"], coords, header.fields,
                  lambda s, e: {n: f[n][s:e] for n in header.fields}, params,
                  attrs={"pde": header.attrs["pde"], "pde_params": header.json_attr("pde_params")})


@contextlib.contextmanager
def open_source(path: str | Path, fmt: str, split: str | None = None) -> Iterator[Source]:
    """Open ``path`` in format ``pdebench``, ``mppde`` or ``sciml`` for streaming."""
    path = Path(path)
    with open_h5(path) as f:
        if fmt == "pdebench":
            yield _pdebench(f, path)
        elif fmt == "mppde":
            yield _mppde(f, path, split)
        elif fmt == "sciml":
            yield _sciml(f, path)
        else:
            raise ConfigError(f"unknown format {fmt!r} (choose pdebench, mppde or sciml)")


def _blocks(src: Source) -> Iterator[tuple[int, int, dict[str, np.ndarray]]]:
    for s in range(0, src.n, BLOCK):
        e = min(s + BLOCK, src.n)
        block = src.read(s, e)
        for name, arr in block.items():
            bad = ~np.isfinite(arr)
            if bad.any():
                raise DataError(f"{src.path}: {name!r} has NaN/inf in sample {s + int(np.argwhere(bad)[0][0])}")
        yield s, e, block


def _to_sciml(src: Source, out: Path, compression: str | None) -> None:
    from ..run import atomic_path

    first = src.read(0, 1)
    layout = Layout(samples=np.arange(src.n), t=src.coords["t"], space={d: c for d, c in src.coords.items() if d != "t"},
                    fields=src.fields, params=tuple(src.params), dtype=str(first[src.fields[0]].dtype),
                    compression=compression,
                    attrs={**src.attrs, "solver": "external", "solver_config": {}, "seed": -1,
                           "source": str(src.path), "n_total": src.n, "shard": ""})
    with atomic_path(out) as tmp:
        create_file(tmp, layout)
        with h5py.File(tmp, "r+") as f:
            for name, values in src.params.items():
                f[name][...] = values
            for s, e, block in _blocks(src):
                for name, arr in block.items():
                    f[name][s:e] = arr
            f["completed"][...] = 1


def _to_pdebench(src: Source, out: Path) -> None:
    from ..run import atomic_path

    t, space = src.coords["t"], [d for d in src.coords if d != "t"]
    with atomic_path(out) as tmp, h5py.File(tmp, "w") as f:
        if space == ["x"] and len(src.fields) == 1:
            nt, nx = len(t), len(src.coords["x"])
            tensor = f.create_dataset("tensor", (src.n, nt, nx), dtype="f4", chunks=(1, nt, nx))
            f["x-coordinate"] = src.coords["x"].astype("f4")
            dt = t[-1] - t[-2] if nt > 1 else 1.0
            f["t-coordinate"] = np.append(t, t[-1] + dt).astype("f4")
            for key, attr in (("beta", "beta"), ("nu", "Nu")):
                if key in src.attrs.get("pde_params", {}):
                    f.attrs[attr] = src.attrs["pde_params"][key]
            for s, e, block in _blocks(src):
                tensor[s:e] = block[src.fields[0]]
            return
        for s, e, block in _blocks(src):
            stacked = np.stack([block[n] for n in src.fields], axis=-1)  # (k, t, *space, c)
            for i in range(e - s):
                g = f.create_group(f"{s + i:04d}")
                g["data"] = stacked[i].astype("f4")
                for d in ("t", *space):
                    g[f"grid/{d}"] = src.coords[d]


def convert(path: str | Path, out: str | Path, *, source: str, target: str = "sciml", split: str | None = None,
            force: bool = False, compression: str | None = None) -> Path:
    """Convert ``path`` (format ``source``) to ``out`` in format ``target`` (``sciml`` or ``pdebench``).

    PDEBench output is the 1D single-file layout for one-field 1D data, else per-seed groups.
    """
    out = Path(out)
    if out.exists() and not force:
        raise OutputError(f"--out {str(out)!r} exists; pass --force to overwrite it")
    if Path(path).resolve() == out.resolve():
        raise OutputError(f"--out {str(out)!r} is the input file")
    if target not in ("sciml", "pdebench"):
        raise ConfigError(f"unknown target format {target!r} (choose sciml or pdebench)")
    with open_source(path, source, split) as src:
        if src.n == 0:
            raise DataError(f"{path}: no samples")
        if target == "sciml":
            _to_sciml(src, out, compression)
        else:
            _to_pdebench(src, out)
    return out


def read_pdebench(path: str | Path) -> Any:
    """A PDEBench file (either layout) as an in-memory ``xarray.Dataset`` (dims sample, t, [y,] x)."""
    return _as_xarray(path, "pdebench")


def read_mppde(path: str | Path, split: str | None = None) -> Any:
    """An MP-PDE split as an in-memory ``xarray.Dataset`` with ``alpha``/``beta``/``gamma``."""
    return _as_xarray(path, "mppde", split)


def write_pdebench(path: str | Path, out: str | Path, force: bool = False) -> Path:
    """Write our dataset file ``path`` in PDEBench layout (so their baselines can train on it)."""
    return convert(path, out, source="sciml", target="pdebench", force=force)


def _as_xarray(path: str | Path, fmt: str, split: str | None = None) -> Any:
    import xarray as xr

    with open_source(path, fmt, split) as src:
        dims = ("sample", *src.coords)
        data = {n: [] for n in src.fields}
        for _, _, block in _blocks(src):
            for n in src.fields:
                data[n].append(block[n])
        variables = {n: (dims, np.concatenate(v)) for n, v in data.items()}
        variables.update({k: (("sample",), v) for k, v in src.params.items()})
        coords = {"sample": np.arange(src.n), **src.coords}
        return xr.Dataset(variables, coords=coords, attrs={"pde": src.attrs["pde"], "source": str(src.path)})
