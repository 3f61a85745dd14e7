"""The reference a PINN is graded against, on the reference's own grid.

* PDEs with an exact solution (Burgers: Cole-Hopf) -> ``pde.exact_solution`` on
  ``pde.reference_grid()``;
* periodic PDEs with a pseudo-spectral form (Allen-Cahn, Kuramoto-Sivashinsky) -> the
  ``spectral-etdrk4`` reference solver on its own Fourier grid (``reference_shape["x"]``
  points) at the PDE's reference times, step ``dt = min(spectral_dt, 1e-4)``.

Results are cached in memory only (keyed by the PDE's parameters).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import torch

from sciml_core.config import build_config
from sciml_core.errors import NotImplementedForError
from sciml_core.pdes.base import PDE
from sciml_core.registry import get_solver
from sciml_core.solver import RunContext

_CACHE: dict[str, tuple[dict[str, np.ndarray], dict[str, np.ndarray] | None]] = {}


def _spectral(pde: PDE, grid: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    cls = get_solver("spectral-etdrk4")
    nx = pde.reference_shape.get("x", 512)
    cfg = build_config(cls.Config, {"n": nx, "dt": min(pde.spectral_dt, 1e-4)})
    solver = cls(pde, cfg, RunContext(dtype=torch.float64, progress=False))
    space = solver.grid()
    u0 = pde.initial_condition(**space)
    out = solver.integrate({f: np.asarray(v)[None] for f, v in u0.items()}, grid["t"])
    return {"t": grid["t"], **space}, {f: np.asarray(v)[0] for f, v in out.items()}


def reference(pde: PDE) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray] | None]:
    """``(grid, fields)``: 1-D coordinates (t first) and reference fields of shape ``(t, *space)``
    (None when the PDE has neither an exact solution nor a spectral form)."""
    key = json.dumps([pde.name, pde.params()], sort_keys=True, default=str)
    if key not in _CACHE:
        grid = pde.reference_grid()
        exact = pde.exact_solution(**grid)
        if exact is None:
            try:
                grid, exact = _spectral(pde, grid)
            except NotImplementedForError:
                exact = None
        _CACHE[key] = (grid, exact)
    grid, exact = _CACHE[key]
    return dict(grid), (dict(exact) if exact is not None else None)


def grid_points(grid: dict[str, Any], dtype: torch.dtype, device: torch.device) -> dict[str, torch.Tensor]:
    """Flattened meshgrid of ``grid`` as ``(n, 1)`` tensors per coordinate."""
    mesh = np.meshgrid(*grid.values(), indexing="ij")
    return {n: torch.as_tensor(m.reshape(-1, 1), dtype=dtype, device=device) for n, m in zip(grid, mesh)}
