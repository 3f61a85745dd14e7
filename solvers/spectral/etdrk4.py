"""``spectral-etdrk4``: fixed-step ETDRK4 (Cox & Matthews 2002; Kassam & Trefethen 2005).

Fourth order in time for u_t = L u + N(u); the stiff diagonal L is integrated exactly, so
the step is limited by the nonlinear dynamics only.  ``dt`` defaults to the PDE's
``spectral_dt``; ``contour_points`` is M of the Kassam-Trefethen contour (upper half circle
for real symbols, 2M points on the full circle for complex ones).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from sciml_core.errors import ConfigError
from sciml_core.registry import register_solver

from .engine import FixedStepConfig, SpectralSolver
from .fourier import SpectralOps
from .integrators import ETDRK4


@dataclass
class ETDRK4Config(FixedStepConfig):
    """``dt``: time step (None: the PDE's ``spectral_dt``); ``contour_points``: M (>= 8)."""

    contour_points: int = 32

    def validate(self) -> None:
        super().validate()
        if self.contour_points < 8:
            raise ConfigError(f"contour_points must be at least 8, got {self.contour_points}")


@register_solver()
class SpectralETDRK4(SpectralSolver):
    """Fourier pseudo-spectral reference with fixed-step ETDRK4."""

    name: ClassVar[str] = "spectral-etdrk4"
    description: ClassVar[str] = "Fourier pseudo-spectral, ETDRK4 (Kassam-Trefethen), fixed step"
    Config: ClassVar[type] = ETDRK4Config
    presets: ClassVar[dict[str, dict[str, Any]]] = {"quick": {"frames": 11}, "default": {}}

    def make_integrator(self, L: np.ndarray, nonlinear: Any, ops: SpectralOps) -> ETDRK4:
        return ETDRK4(L, nonlinear, ops, self.fixed_dt(), self.config.contour_points)
