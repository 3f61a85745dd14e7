"""``spectral-dopri``: adaptive integrating-factor Dormand-Prince 5(4).

u_t = L u + N(u) in Lawson form (Dormand & Prince 1980 tableau, FSAL), embedded error in
the grid L2 norm against ``atol + rtol ||u||`` (worst sample of the batch), PI step control
(Gustafsson 1991); steps are clipped to land on output times without resetting the
controller.  ``dt0`` is the first step (None: a Hairer-style estimate from N(u0)).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from sciml_core.errors import ConfigError
from sciml_core.registry import register_solver

from .engine import SpectralConfig, SpectralSolver
from .fourier import SpectralOps
from .integrators import DOPRI5_TABLEAU, AdaptiveIFRungeKutta


@dataclass
class DopriConfig(SpectralConfig):
    """``rtol``/``atol``: error tolerances; ``dt0``: first step; ``max_steps``: step cap."""

    rtol: float = 1e-8
    atol: float = 1e-10
    dt0: float | None = None
    max_steps: int = 10_000_000

    def validate(self) -> None:
        super().validate()
        if not self.rtol > 0:
            raise ConfigError(f"rtol must be positive, got {self.rtol}")
        if not self.atol >= 0:
            raise ConfigError(f"atol must be non-negative, got {self.atol}")
        if self.dt0 is not None and not self.dt0 > 0:
            raise ConfigError(f"dt0 must be positive, got {self.dt0}")
        if self.max_steps < 1:
            raise ConfigError(f"max_steps must be at least 1, got {self.max_steps}")


@register_solver()
class SpectralDopri(SpectralSolver):
    """Fourier pseudo-spectral reference with adaptive integrating-factor Dormand-Prince 5(4)."""

    name: ClassVar[str] = "spectral-dopri"
    description: ClassVar[str] = "Fourier pseudo-spectral, integrating-factor Dormand-Prince 5(4), adaptive"
    Config: ClassVar[type] = DopriConfig
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "quick": {"frames": 11, "rtol": 1e-5, "atol": 1e-8}, "default": {}}

    def coarse_config(self) -> dict[str, Any]:
        """32x looser tolerances: about twice the step of this order-5 method (see error_estimate)."""
        return {"rtol": 32 * self.config.rtol, "atol": 32 * self.config.atol}

    def step_ratio(self, fine_steps: int, coarse_steps: int) -> float:
        """2: the step that 32x looser tolerances give an order-5 method (32^(1/5))."""
        return 2.0

    def make_integrator(self, L: np.ndarray, nonlinear: Any, ops: SpectralOps) -> AdaptiveIFRungeKutta:
        c = self.config
        return AdaptiveIFRungeKutta(L, nonlinear, ops, c.rtol, c.atol, c.dt0, c.max_steps, DOPRI5_TABLEAU)
