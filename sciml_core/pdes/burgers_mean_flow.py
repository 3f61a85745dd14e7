"""Viscous Burgers with a mean flow on [0, 2 pi) periodic, graded against the spectral reference.

    u_t + u u_x = nu u_xx,   x in [0, 2 pi) periodic,   u(x, 0) = c0 + sin x,   t in [0, t_end].

The mean flow c0 carries the wave along (Galilean invariance: u = c0 + w(x - c0 t, t), w the
zero-mean solution), so an Eulerian PINN meets the transport failure mode of the advection
benchmark on top of the steepening front (inviscid characteristics x = X + t (c0 + sin X)
would meet at t = 1).  As a transport PDE for ``lagrangian-pinn`` the characteristics move
with dx/dt = u and carry du/dt = nu u_xx.  Residual and pseudo-spectral split are those of
``burgers-periodic``; no closed form: the reference is ``spectral-etdrk4`` on 512 Fourier
points, dt = 1e-4.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..registry import register_pde
from .base import Domain, array_module
from .burgers_periodic import BurgersPeriodic


@register_pde()
@dataclass
class BurgersMeanFlow(BurgersPeriodic):
    """Viscous Burgers on [0, 2 pi) periodic, u0 = c0 + sin x; spectral reference."""

    name: ClassVar[str] = "burgers-mean-flow"
    description: ClassVar[str] = "viscous Burgers 1D with mean flow, [0, 2 pi) periodic, u0 = c0 + sin x (spectral reference)"
    presets: ClassVar[dict[str, dict[str, Any]]] = {}
    reference_shape: ClassVar[dict[str, int]] = {"t": 101, "x": 512}

    nu: float = 0.01
    c0: float = 10.0

    @property
    def diffusivity(self) -> float:
        return self.nu

    def domain(self) -> Domain:
        return Domain(bounds={"x": (0.0, 2 * np.pi)}, t=(0.0, self.t_end), periodic=("x",))

    def initial_condition(self, x: Any) -> dict[str, Any]:
        return {"u": self.c0 + array_module(x).sin(x)}

    def characteristic_speed(self, u: Any, x: Any) -> Any:
        """a(u, x) of the characteristics dx/dt = a: the state itself."""
        return u

    def exact_solution(self, t: np.ndarray, x: np.ndarray) -> None:  # type: ignore[override]
        return None
