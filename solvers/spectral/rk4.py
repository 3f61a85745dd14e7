"""``spectral-rk4``: classical RK4 in integrating-factor (Lawson) form, fixed step.

Fourth order for u_t = L u + N(u); the integrating factor exp(t L) removes the explicit
diffusion limit.  ``dt`` defaults to the PDE's ``spectral_dt``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from sciml_core.registry import register_solver

from .engine import FixedStepConfig, SpectralSolver
from .fourier import SpectralOps
from .integrators import RK4_TABLEAU, IFRungeKutta


@register_solver()
class SpectralRK4(SpectralSolver):
    """Fourier pseudo-spectral reference with integrating-factor classical RK4."""

    name: ClassVar[str] = "spectral-rk4"
    description: ClassVar[str] = "Fourier pseudo-spectral, integrating-factor classical RK4, fixed step"
    Config: ClassVar[type] = FixedStepConfig
    presets: ClassVar[dict[str, dict[str, Any]]] = {"quick": {"frames": 11}, "default": {}}

    def make_integrator(self, L: np.ndarray, nonlinear: Any, ops: SpectralOps) -> IFRungeKutta:
        return IFRungeKutta(L, nonlinear, ops, self.fixed_dt(), RK4_TABLEAU)
