"""Collocation points: uniform grid, random, Sobol, Latin hypercube, and R3 adaptive sampling.

Every draw is a pure function of (seed, index) so that resumed runs see the same points.
R3 (retain-resample-release; Daw, Bu, Wang, Perdikaris, Karpatne, ICML 2023): at each
resampling, keep the points whose squared residual exceeds the population mean and replace
the others with fresh draws, so the population accumulates where the PDE is violated.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy.stats import qmc

from sciml_core.errors import ConfigError

Method = Literal["grid", "random", "sobol", "lhs"]


@dataclass
class SamplingConfig:
    """``n_residual`` collocation points by ``method``; new points every ``resample_every``
    Adam steps (0: fixed; L-BFGS keeps the last set); ``adaptive = "r3"`` retains the
    high-residual points at each resampling; ``grid_shape``: points per dim (t first) of the
    residual grid (``method = "grid"``; its product is ``n_residual``; empty: round(n^(1/d))
    per dim)."""

    n_residual: int = 4096
    n_initial: int = 256
    n_boundary: int = 256
    method: Method = "sobol"
    resample_every: int = 0
    adaptive: Literal["none", "r3"] = "none"
    grid_shape: list[int] = field(default_factory=list)

    def validate(self) -> None:
        for key in ("n_residual", "n_initial", "n_boundary"):
            if getattr(self, key) < 1:
                raise ConfigError(f"sampling.{key} must be >= 1, got {getattr(self, key)}")
        if self.grid_shape and (self.method != "grid" or min(self.grid_shape) < 1
                                or math.prod(self.grid_shape) != self.n_residual):
            raise ConfigError(f"sampling.grid_shape {self.grid_shape} needs sampling.method = 'grid' and positive "
                              f"counts whose product is sampling.n_residual ({self.n_residual})")
        if self.resample_every < 0:
            raise ConfigError(f"sampling.resample_every must be >= 0, got {self.resample_every}")
        if self.adaptive == "r3" and not self.resample_every:
            raise ConfigError("sampling.adaptive = 'r3' needs sampling.resample_every > 0")


def sample_unit(n: int, dim: int, method: Method, seed: int, index: int,
                shape: Sequence[int] = ()) -> np.ndarray:
    """``n`` points in [0, 1)^dim (grid: the midpoints of ``shape[i]`` cells in dim i, by default
    ``round(n^(1/dim))`` in every dim (so not always n points), shifted randomly by less than a
    cell for index > 0, so resampled grids still cover)."""
    rng = np.random.default_rng([seed, index])
    if method == "sobol":
        return qmc.Sobol(dim, scramble=True, seed=rng).random(n)
    if method == "lhs":
        return qmc.LatinHypercube(dim, seed=rng).random(n)
    if method == "grid":
        counts = list(shape) or [max(1, int(round(n ** (1.0 / dim))))] * dim
        shift = rng.random(dim) - 0.5 if index > 0 else np.zeros(dim)
        axes = [(np.arange(m) + 0.5 + shift[i]) / m for i, m in enumerate(counts)]
        return np.stack([a.ravel() for a in np.meshgrid(*axes, indexing="ij")], axis=-1) % 1.0
    return rng.random((n, dim))


def r3_update(points: np.ndarray, sq_residual: np.ndarray, fresh: np.ndarray) -> np.ndarray:
    """Keep points with ``sq_residual > mean``, fill the rest of the population from ``fresh``."""
    keep = points[sq_residual > sq_residual.mean()]
    return np.concatenate([keep, fresh[: len(points) - len(keep)]], axis=0)
