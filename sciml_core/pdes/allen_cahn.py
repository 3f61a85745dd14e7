"""Allen-Cahn equation in 1D, the causal-PINN benchmark (Wang, Sankaran, Perdikaris 2022).

    u_t = d u_xx + 5 (u - u^3),   x in [-1, 1] periodic,   u(x, 0) = x^2 cos(pi x),   t in [0, 1].

No closed form; the reference comes from the pseudo-spectral solvers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..errors import ConfigError
from ..registry import register_pde
from .base import PDE, Derivatives, Domain, array_module


@register_pde()
@dataclass
class AllenCahn(PDE):
    """Allen-Cahn 1D, periodic on [-1, 1], u0 = x^2 cos(pi x)."""

    name: ClassVar[str] = "allen-cahn"
    description: ClassVar[str] = "Allen-Cahn 1D, u_t = d u_xx + 5(u - u^3), periodic, u0 = x^2 cos(pi x)"
    presets: ClassVar[dict[str, dict[str, Any]]] = {"d1e-4": {"d": 1e-4}, "d1e-3": {"d": 1e-3}}
    reference_shape: ClassVar[dict[str, int]] = {"t": 101, "x": 512}

    d: float = 1e-4
    reaction: float = 5.0
    t_end: float = 1.0

    def validate(self) -> None:
        if not self.d > 0:
            raise ConfigError(f"pde.d must be positive, got {self.d}")

    def domain(self) -> Domain:
        return Domain(bounds={"x": (-1.0, 1.0)}, t=(0.0, self.t_end), periodic=("x",))

    def initial_condition(self, x: Any) -> dict[str, Any]:
        xp = array_module(x)
        return {"u": x**2 * xp.cos(np.pi * x)}

    def residual(self, d: Derivatives) -> dict[str, Any]:
        u = d["u"]
        return {"u": d["u_t"] - self.d * d["u_xx"] - self.reaction * (u - u**3)}

    # ---- pseudo-spectral form (solvers/spectral): L = -d k^2, N(u) = reaction (u - u^3) ----
    def spectral_linear(self, k: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"u": -self.d * k["x"] ** 2}

    def spectral_nonlinear(self, u_hat: Any, ops: Any) -> Any:
        u = ops.ifft(u_hat)
        return ops.fft(self.reaction * (u - u**3))
