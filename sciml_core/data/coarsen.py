"""Coarse views of fine periodic 1-D data: the MP-PDE down-projection.

Brandstetter et al. (2022) train and score on coarse grids (nx = 100, 50, 40) whose values are
taken from the nx = 200 ground truth, not solved at nx: their loader averages each fine point
with its two neighbours on either side (a periodic 5-point mean, ``conv`` with ``[0.2] * 5``)
and keeps every ``(200 / nx)``-th point (the convolution's stride).  :func:`downsample` does
the same on our periodic grid ``x_i = i L / N``, so coarse point j sits at ``j L / nx``, the
coarse solver's own grid point.  (The public code stores ``linspace(0, L, N)``, whose last
point repeats the first; its padding skips that duplicate.)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ConfigError


def downsample(u: Any, nx: int, width: int = 5) -> np.ndarray:
    """``(..., N)`` -> ``(..., nx)``: periodic ``width``-point mean, then every ``N / nx``-th point."""
    u = np.asarray(u)
    n = u.shape[-1]
    if nx < 1 or n % nx:
        raise ConfigError(f"cannot down-project {n} points to nx = {nx}: nx must divide {n}")
    if width < 1 or width % 2 == 0:
        raise ConfigError(f"the averaging width must be odd and positive, got {width}")
    ratio, half = n // nx, width // 2
    points = np.arange(nx) * ratio
    stencil = (points[:, None] + np.arange(-half, half + 1)[None, :]) % n  # (nx, width)
    return u[..., stencil].mean(axis=-1)
