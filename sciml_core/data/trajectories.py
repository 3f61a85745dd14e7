"""A dataset file's trajectories in memory, split and normalised, for training operators.

Operators train on many short windows cut at random from a few hundred trajectories; with
the trajectories resident on the training device (CPU or GPU) a mini-batch is one gather
(:func:`sciml_core.autoregressive.window_pairs`) instead of thousands of HDF5 reads.  The
completed samples are split in file order: the last ``n_test`` are held out, the
``n_train`` before them (default: all the others) train.  Fields are normalised per field
(channel) and per-sample parameters per name with the *training* samples' mean and standard
deviation, so nothing about the held-out samples leaks into training.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import ConfigError, DataError
from .schema import open_h5, read_header


@dataclass
class DataConfig:
    """Which part of the dataset file an operator trains on (``--set data.KEY=VALUE``).

    ``fields``: fields to use as channels (empty: all); ``params``: per-sample parameters given
    to the model (empty: none); ``n_test``: held-out samples (the last completed ones);
    ``n_train``: training samples before them (0: all the others); ``t_start``: frames to drop
    at the start of every trajectory (e.g. a transient); ``t_stride`` / ``x_stride``:
    subsampling of time and of every spatial dim; ``x_average``: in 1-D periodic data, a
    centred moving average over this many points before the ``x_stride`` subsampling (5 with
    stride 200 / nx is the MP-PDE down-projection, :func:`sciml_core.data.coarsen.downsample`);
    ``max_gb``: refuse to load more than this.
    """

    fields: tuple[str, ...] = ()
    params: tuple[str, ...] = ()
    n_test: int = 16
    n_train: int = 0
    t_start: int = 0
    t_stride: int = 1
    x_stride: int = 1
    x_average: int = 1
    normalise: bool = True
    max_gb: float = 8.0

    def validate(self) -> None:
        if self.n_test < 1 or self.n_train < 0:
            raise ConfigError(f"data.n_test must be >= 1 and data.n_train >= 0, got {self.n_test}, {self.n_train}")
        if self.t_start < 0 or self.t_stride < 1 or self.x_stride < 1:
            raise ConfigError("data.t_start must be >= 0 and data.t_stride, data.x_stride >= 1")
        if self.x_average < 1 or self.x_average % 2 == 0:
            raise ConfigError(f"data.x_average must be an odd number >= 1, got {self.x_average}")
        if not self.max_gb > 0:
            raise ConfigError(f"data.max_gb must be positive, got {self.max_gb}")


@dataclass
class TrajectorySet:
    """Normalised trajectories of one file, split into train and held-out ("test") samples.

    ``train`` / ``test``: (n, T, C, *space) on the training device; ``train_params`` /
    ``test_params``: (n, P); ``train_samples`` / ``test_samples``: the files' sample ids;
    ``t``: (T,) frame times; ``coords``: spatial coordinates in dims order; ``mean`` / ``std``:
    (C,) per-channel statistics; ``attrs``: the file's attributes (provenance).
    """

    path: Path
    fields: tuple[str, ...]
    param_names: tuple[str, ...]
    train: torch.Tensor
    test: torch.Tensor
    train_params: torch.Tensor
    test_params: torch.Tensor
    train_samples: np.ndarray
    test_samples: np.ndarray
    t: np.ndarray
    coords: dict[str, np.ndarray]
    mean: torch.Tensor
    std: torch.Tensor
    attrs: dict[str, Any]

    @property
    def space_dims(self) -> tuple[str, ...]:
        return tuple(self.coords)

    @property
    def n_frames(self) -> int:
        return self.train.shape[1]

    def _shape(self, stat: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        # channel dim is 2 in (batch, t, C, *space)
        return stat.to(u.device, u.dtype).reshape(1, 1, -1, *([1] * (u.ndim - 3)))

    def normalise(self, u: torch.Tensor) -> torch.Tensor:
        """Physical (batch, t, C, *space) frames -> the model's units."""
        return (u - self._shape(self.mean, u)) / self._shape(self.std, u)

    def denormalise(self, u: torch.Tensor) -> torch.Tensor:
        """The model's units -> physical values (batch, t, C, *space)."""
        return u * self._shape(self.std, u) + self._shape(self.mean, u)


def _split(n_complete: int, cfg: DataConfig, path: Path) -> tuple[np.ndarray, np.ndarray]:
    n_train = cfg.n_train or n_complete - cfg.n_test
    if n_train < 1 or n_train + cfg.n_test > n_complete:
        raise ConfigError(f"{path}: {n_complete} completed samples cannot give data.n_train = {n_train} "
                          f"training and data.n_test = {cfg.n_test} held-out samples")
    start = n_complete - cfg.n_test - n_train
    return np.arange(start, start + n_train), np.arange(n_complete - cfg.n_test, n_complete)


def load_trajectories(path: str | Path, cfg: DataConfig, device: torch.device, dtype: torch.dtype,
                      pde: str | None = None) -> TrajectorySet:
    """Read, split and normalise a dataset file (module docstring); ``pde`` must match the file's."""
    header = read_header(path)
    if pde is not None and header.attrs.get("pde") != pde:
        raise ConfigError(f"{header.path}: the file holds PDE {header.attrs.get('pde')!r}, not {pde!r}")
    fields = tuple(cfg.fields) or header.fields
    for name in fields:
        if name not in header.fields:
            raise ConfigError(f"data.fields: {header.path} has no field {name!r} (fields: {', '.join(header.fields)})")
    for name in cfg.params:
        if name not in header.params:
            raise ConfigError(f"data.params: {header.path} has no per-sample parameter {name!r} "
                              f"(parameters: {', '.join(header.params) or 'none'})")
    done = np.flatnonzero(header.completed)
    train_pos, test_pos = _split(len(done), cfg, header.path)
    positions = done[np.concatenate([train_pos, test_pos])]
    t_index = np.arange(cfg.t_start, header.dims["t"], cfg.t_stride)
    if len(t_index) < 2:
        raise ConfigError(f"{header.path}: data.t_start = {cfg.t_start} and data.t_stride = {cfg.t_stride} "
                          f"leave {len(t_index)} of {header.dims['t']} frames")
    space = header.space_dims
    n_space = [len(range(0, header.dims[d], cfg.x_stride)) for d in space]
    size_gb = len(positions) * len(t_index) * len(fields) * int(np.prod(n_space)) * torch.finfo(dtype).bits / 8e9
    if size_gb > cfg.max_gb:
        raise ConfigError(f"{header.path}: the selected trajectories take {size_gb:.1f} GB in memory, more than "
                          f"data.max_gb = {cfg.max_gb}; use fewer samples (data.n_train) or data.t_stride/x_stride")
    select = (slice(None, None, cfg.x_stride),) * len(space)
    if cfg.x_average > 1:
        if len(space) != 1 or header.dims[space[0]] % cfg.x_stride:
            raise ConfigError(f"{header.path}: data.x_average needs 1-D data whose {header.dims[space[-1]]} points "
                              f"data.x_stride = {cfg.x_stride} divides")
        from .coarsen import downsample

        n_coarse = header.dims[space[0]] // cfg.x_stride
    with open_h5(header.path) as f:
        blocks = []
        for name in fields:  # contiguous reads sample by sample, then subsampled in memory
            if cfg.x_average > 1:
                rows = [downsample(f[name][int(p)][t_index].astype(np.float64), n_coarse, cfg.x_average)
                        for p in positions]
            else:
                rows = [f[name][int(p)][(t_index, *select)] for p in positions]
            blocks.append(np.stack(rows).astype(np.float64))
        params = np.stack([f[p][:][positions] for p in cfg.params], axis=1) if cfg.params else \
            np.zeros((len(positions), 0))
        t = f["t"][:][t_index]
        coords = {d: f[d][:][select[0]] for d in space}
    u = np.stack(blocks, axis=2)  # (n, T, C, *space)
    if not np.isfinite(u).all():
        raise DataError(f"{header.path}: the selected trajectories hold NaN/inf (run 'sciml data validate')")
    n_train = len(train_pos)
    train_u = u[:n_train]
    axes = tuple(i for i in range(u.ndim) if i != 2)
    mean = train_u.mean(axis=axes) if cfg.normalise else np.zeros(len(fields))
    std = train_u.std(axis=axes) if cfg.normalise else np.ones(len(fields))
    std = np.where(std > 0, std, 1.0)
    u = (u - mean.reshape(1, 1, -1, *([1] * len(space)))) / std.reshape(1, 1, -1, *([1] * len(space)))
    if cfg.normalise:
        p_std = params[:n_train].std(axis=0)
        params = (params - params[:n_train].mean(axis=0)) / np.where(p_std > 0, p_std, 1.0)

    def tensor(a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.ascontiguousarray(a), dtype=dtype, device=device)

    return TrajectorySet(path=header.path, fields=fields, param_names=tuple(cfg.params),
                         train=tensor(u[:n_train]), test=tensor(u[n_train:]),
                         train_params=tensor(params[:n_train]), test_params=tensor(params[n_train:]),
                         train_samples=header.samples[positions[:n_train]],
                         test_samples=header.samples[positions[n_train:]],
                         t=t, coords=coords, mean=tensor(mean), std=tensor(std), attrs=dict(header.attrs))
