"""Torch datasets over a dataset file.

* :class:`TrajectoryWindows` -- K input frames -> the next H frames (operators, MP-PDE);
* :class:`Snapshots` -- single frames (autoencoders, generative models);
* :class:`ReferenceGrid` -- one sample's space-time grid as points (grading PINNs).

All read lazily through h5py handles opened per process (safe with ``num_workers > 0``) and
only look at completed samples.  Normalisation statistics (per field and per-sample
parameter mean/std over the completed samples) are computed once and stored beside the file
as ``<file>.stats.json``, keyed by the file's fingerprint and completion count.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import ConfigError
from .schema import Header, open_h5, read_header


def normalisation_stats(path: str | Path, header: Header | None = None) -> dict[str, list[float]]:
    """``{name: [mean, std]}`` for every field and per-sample parameter (cached in ``<file>.stats.json``)."""
    header = header or read_header(path)
    cache = Path(f"{header.path}.stats.json")
    key = {"fingerprint": str(header.attrs.get("fingerprint", "")), "n_complete": header.n_complete,
           "size": header.path.stat().st_size}
    if cache.exists():
        try:
            stored = json.loads(cache.read_text())
            if stored.get("key") == key:
                return stored["stats"]
        except (OSError, json.JSONDecodeError):
            pass
    done = np.flatnonzero(header.completed)
    stats: dict[str, list[float]] = {}
    with open_h5(header.path) as f:
        for name in header.fields:
            total = total_sq = count = 0.0
            for start in range(0, len(done), 16):
                block = f[name][done[start : start + 16]].astype(np.float64)
                total, total_sq, count = total + block.sum(), total_sq + (block**2).sum(), count + block.size
            mean = total / max(count, 1)
            stats[name] = [mean, float(np.sqrt(max(total_sq / max(count, 1) - mean**2, 0.0)))]
        for name in header.params:
            values = f[name][:][done]
            stats[name] = [float(values.mean()), float(values.std())]
    try:
        tmp = cache.with_name(f".{cache.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"key": key, "stats": stats}, indent=1))
        os.replace(tmp, cache)
    except OSError:  # a read-only data directory: keep the statistics in memory only
        pass
    return stats


class _FileDataset(Dataset):
    """Shared plumbing: header, per-process h5py handle, field/parameter selection, scaling."""

    def __init__(self, path: str | Path, fields: Sequence[str] | None, params: Sequence[str] | None,
                 normalise: bool, samples: Sequence[int] | None) -> None:
        self.path = Path(path)
        self.header = read_header(self.path)
        self.fields = tuple(fields or self.header.fields)
        self.params = tuple(params or ())
        for name in self.fields:
            if name not in self.header.fields:
                raise ConfigError(f"{self.path}: no field {name!r} (fields: {', '.join(self.header.fields)})")
        for name in self.params:
            if name not in self.header.params:
                raise ConfigError(f"{self.path}: no per-sample parameter {name!r} "
                                  f"(parameters: {', '.join(self.header.params) or 'none'})")
        done = np.flatnonzero(self.header.completed)
        self.positions = done if samples is None else done[np.asarray(samples, dtype=np.int64)]
        self.stats = normalisation_stats(self.path, self.header) if normalise else None
        with open_h5(self.path) as f:
            self.param_values = {p: f[p][:] for p in self.params}
        self._h5: h5py.File | None = None
        self._datasets: dict[str, h5py.Dataset] = {}
        self._pid = -1

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_h5"], state["_datasets"], state["_pid"] = None, {}, -1  # each process opens its own handle
        return state

    def _file(self) -> dict[str, h5py.Dataset]:
        """This process's h5py datasets of the selected fields (opened on first use)."""
        if self._h5 is None or self._pid != os.getpid():
            self._h5, self._pid = open_h5(self.path), os.getpid()
            self._datasets = {name: self._h5[name] for name in self.fields}
        return self._datasets

    def _scale(self, name: str, values: np.ndarray) -> np.ndarray:
        """Normalise (in place when ``values`` is a float array of our own)."""
        if self.stats is None:
            return values
        mean, std = self.stats[name]
        if isinstance(values, np.ndarray) and values.dtype.kind == "f":
            values -= values.dtype.type(mean)
            values *= values.dtype.type(1.0 / std if std > 0 else 1.0)
            return values
        return (values - mean) / (std if std > 0 else 1.0)

    def _param_channels(self, pos: int, space_shape: tuple[int, ...]) -> list[np.ndarray]:
        return [np.full((1, *space_shape), self._scale(p, self.param_values[p][pos]), dtype=np.float32)
                for p in self.params]

    def denormalise(self, name: str, values: Any) -> Any:
        """Undo the normalisation of field ``name``."""
        if self.stats is None:
            return values
        mean, std = self.stats[name]
        return values * (std if std > 0 else 1.0) + mean


class TrajectoryWindows(_FileDataset):
    """Input ``window`` frames -> the next ``horizon`` frames, fields stacked as channels.

    Item: ``{"input": (window * F + P, *space), "target": (horizon * F, *space), "sample", "t0"}``
    (float32), channel ``k * F + f`` holding frame k of field f; the P per-sample parameters
    follow as constant channels.  ``t_stride``/``x_stride`` subsample time and every spatial
    dim; ``start="all"`` enumerates every start frame, ``"random"`` draws one per sample per
    access (with torch's RNG, so DataLoader worker seeding applies).  ``samples`` picks
    completed samples by position (e.g. ``range(0, 100)`` / ``range(100, 128)`` for a split);
    ``params`` names per-sample parameters to append as channels; ``normalise=False`` gives
    the stored values.
    """

    def __init__(self, path: str | Path, window: int = 1, horizon: int | None = None, *,
                 fields: Sequence[str] | None = None, params: Sequence[str] | None = None,
                 start: str = "all", t_stride: int = 1, x_stride: int = 1, normalise: bool = True,
                 samples: Sequence[int] | None = None) -> None:
        super().__init__(path, fields, params, normalise, samples)
        self.window, self.horizon = window, horizon if horizon is not None else window
        self.t_stride, self.x_stride, self.start = t_stride, x_stride, start
        if min(window, self.horizon, t_stride, x_stride) < 1:
            raise ConfigError("window, horizon, t_stride and x_stride must all be >= 1")
        if start not in ("all", "random"):
            raise ConfigError(f"start must be 'all' or 'random', got {start!r}")
        nt = len(range(0, self.header.dims["t"], t_stride))
        self.n_starts = nt - self.window - self.horizon + 1
        if self.n_starts < 1:
            raise ConfigError(f"{self.path}: {nt} frames (after t_stride {t_stride}) are too few for "
                              f"window {window} + horizon {self.horizon}")

    def __len__(self) -> int:
        return len(self.positions) * (self.n_starts if self.start == "all" else 1)

    def __getitem__(self, item: int) -> dict[str, Any]:
        return self.__getitems__([item])[0]

    def __getitems__(self, items: list[int]) -> list[dict[str, Any]]:
        """Batched fetch (used by DataLoader): windows of one sample share a single read."""
        starts: dict[int, list[tuple[int, int]]] = {}
        for k, item in enumerate(items):
            if self.start == "all":
                pos, t0 = int(self.positions[item // self.n_starts]), item % self.n_starts
            else:
                pos, t0 = int(self.positions[item]), int(torch.randint(self.n_starts, ()).item())
            starts.setdefault(pos, []).append((k, t0))
        out: list[dict[str, Any]] = [{}] * len(items)
        span = self.window + self.horizon
        for pos, members in starts.items():
            first = min(t0 for _, t0 in members)
            frames = self._frames(pos, first, max(t0 for _, t0 in members) + span - first)
            params = self._param_channels(pos, frames.shape[2:])
            for k, t0 in members:  # views into ``frames``; the DataLoader's collate copies them
                window = frames[t0 - first : t0 - first + span]
                inputs = window[: self.window].reshape(-1, *frames.shape[2:])
                if params:
                    inputs = np.concatenate([inputs, *params])
                out[k] = {"input": torch.from_numpy(inputs),
                          "target": torch.from_numpy(window[self.window :].reshape(-1, *frames.shape[2:])),
                          "sample": int(self.header.samples[pos]), "t0": int(t0)}
        return out

    def _frames(self, pos: int, first: int, count: int) -> np.ndarray:
        """Normalised float32 frames ``first .. first + count - 1`` (strided), shape (count, F, *space)."""
        lo, hi = first * self.t_stride, (first + count - 1) * self.t_stride + 1
        datasets = self._file()
        space = (slice(None, None, self.x_stride),) * len(self.header.space_dims)
        strided = self.t_stride > 1 or self.x_stride > 1
        parts = []
        for name in self.fields:
            values = datasets[name][pos, lo:hi]  # h5py's fast contiguous read
            if strided:
                values = np.ascontiguousarray(values[(slice(None, None, self.t_stride), *space)])
            parts.append(self._scale(name, values.astype(np.float32, copy=False)))
        return parts[0][:, None] if len(parts) == 1 else np.stack(parts, axis=1)


class Snapshots(_FileDataset):
    """Single frames: item ``{"fields": (F, *space), "params": (P,), "t": float, "sample": int}``."""

    def __init__(self, path: str | Path, *, fields: Sequence[str] | None = None, params: Sequence[str] | None = None,
                 t_stride: int = 1, x_stride: int = 1, normalise: bool = True,
                 samples: Sequence[int] | None = None) -> None:
        super().__init__(path, fields, params, normalise, samples)
        self.x_stride = x_stride
        self.times = np.arange(0, self.header.dims["t"], t_stride)
        with open_h5(self.path) as f:
            self.t_values = f["t"][:]

    def __len__(self) -> int:
        return len(self.positions) * len(self.times)

    def __getitem__(self, item: int) -> dict[str, Any]:
        pos, ti = self.positions[item // len(self.times)], int(self.times[item % len(self.times)])
        space = (slice(None, None, self.x_stride),) * len(self.header.space_dims)
        datasets = self._file()
        frame = np.stack([self._scale(n, datasets[n][(pos, ti, *space)]) for n in self.fields])
        params = np.array([self._scale(p, self.param_values[p][pos]) for p in self.params])
        return {"fields": torch.from_numpy(frame.astype(np.float32)),
                "params": torch.from_numpy(params.astype(np.float32)),
                "t": float(self.t_values[ti]), "sample": int(self.header.samples[pos])}


class ReferenceGrid(Dataset):
    """One sample's solution as points for grading a PINN: item ``(coords (1 + d,), values (F,))``.

    ``coords`` orders ``t`` then the spatial dims; ``grid`` holds the 1-D coordinate arrays and
    ``values[field]`` the full ``(t, *space)`` array (float64, not normalised).
    """

    def __init__(self, path: str | Path, sample: int = 0, fields: Sequence[str] | None = None) -> None:
        header = read_header(path)
        matches = np.flatnonzero(header.samples == sample)
        if not len(matches) or not header.completed[matches[0]]:
            raise ConfigError(f"{header.path}: sample {sample} is not in the file or not complete")
        self.fields = tuple(fields or header.fields)
        with open_h5(header.path) as f:
            self.grid = {d: f[d][:] for d in ("t", *header.space_dims)}
            self.values = {n: f[n][int(matches[0])].astype(np.float64) for n in self.fields}
        mesh = np.meshgrid(*self.grid.values(), indexing="ij")
        self.points = torch.from_numpy(np.stack([m.ravel() for m in mesh], axis=1))
        self.targets = torch.from_numpy(np.stack([self.values[n].ravel() for n in self.fields], axis=1))

    def __len__(self) -> int:
        return self.points.shape[0]

    def __getitem__(self, item: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.points[item], self.targets[item]
