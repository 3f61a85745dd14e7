"""Graphs over 1-D point sets, regular or irregular: neighbours within a radius or the k nearest.

A :class:`Graph` holds directed edges ``j -> i`` (``src``, ``dst``) of one point set, shared by
every sample of a batch (the samples of a dataset live on one grid), plus each edge's offset
``x_i - x_j`` and each node's in-degree.  On a periodic domain distances and offsets use the
nearest periodic image.  Message passing over it is plain torch: gather ``h[:, src]``, then
``index_add_`` into the targets and divide by the degree (mean aggregation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from sciml_core.errors import ConfigError


@dataclass(frozen=True)
class Graph:
    """Edges ``src[e] -> dst[e]`` over ``n_nodes`` points; ``offset[e] = x_dst - x_src``."""

    src: torch.Tensor
    dst: torch.Tensor
    offset: torch.Tensor
    degree: torch.Tensor
    n_nodes: int

    def to(self, device: torch.device | str, dtype: torch.dtype) -> "Graph":
        return Graph(self.src.to(device), self.dst.to(device), self.offset.to(device, dtype),
                     self.degree.to(device, dtype), self.n_nodes)

    def mean(self, messages: torch.Tensor) -> torch.Tensor:
        """Mean of edge ``messages`` (batch, E, H) over each node's incoming edges -> (batch, N, H)."""
        out = messages.new_zeros((messages.shape[0], self.n_nodes, messages.shape[2]))
        out.index_add_(1, self.dst, messages)
        return out / self.degree[:, None]


def _offsets(x: np.ndarray, period: float | None) -> np.ndarray:
    """``d[i, j] = x_i - x_j`` (nearest periodic image when ``period`` is given)."""
    d = x[:, None] - x[None, :]
    if period is not None:
        d = d - period * np.round(d / period)
    return d


def _graph(x: np.ndarray, keep: np.ndarray, d: np.ndarray) -> Graph:
    np.fill_diagonal(keep, False)
    dst, src = np.nonzero(keep)  # row-major: edges sorted by target
    degree = np.bincount(dst, minlength=len(x)).astype(np.float64)
    if (degree == 0).any():
        raise ConfigError(f"point {int(np.argmin(degree))} has no neighbours: use a larger radius or k")
    return Graph(torch.as_tensor(src), torch.as_tensor(dst), torch.as_tensor(d[dst, src]),
                 torch.as_tensor(degree), len(x))


def radius_graph(x: np.ndarray, radius: float, period: float | None = None) -> Graph:
    """Every pair closer than ``radius`` (a point is not its own neighbour)."""
    x = np.asarray(x, dtype=np.float64)
    if not radius > 0:
        raise ConfigError(f"the graph radius must be positive, got {radius}")
    d = _offsets(x, period)
    return _graph(x, np.abs(d) <= radius, d)


def knn_graph(x: np.ndarray, k: int, period: float | None = None) -> Graph:
    """Each point receives from its ``k`` nearest others (ties broken by index)."""
    x = np.asarray(x, dtype=np.float64)
    if not 1 <= k < len(x):
        raise ConfigError(f"k must be in [1, {len(x) - 1}] for {len(x)} points, got {k}")
    d = _offsets(x, period)
    dist = np.abs(d)
    np.fill_diagonal(dist, np.inf)
    order = np.argsort(dist, axis=1, kind="stable")[:, :k]
    keep = np.zeros_like(dist, dtype=bool)
    np.put_along_axis(keep, order, True, axis=1)
    return _graph(x, keep, d)
