"""Viscous Burgers equation on a periodic interval, exact by Cole-Hopf.

    u_t + u u_x = nu u_xx,   x in [-1, 1) periodic,   u(x, 0) = -sin(pi x).

-sin(pi x) is 2-periodic and odd, so the whole-line Cole-Hopf solution
(:func:`sciml_core.pdes.burgers.cole_hopf_burgers`) is periodic and is the exact solution
here too (it also vanishes at x = +-1, which is why the Dirichlet ``burgers`` shares it).
Pseudo-spectral split: L = -nu k^2, N = -(u^2 / 2)_x.  The default nu = 0.01/pi forms a
steep front near t = 1/pi that needs thousands of modes; ``smooth`` (nu = 0.1/pi) stays
resolved on 256 points.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..registry import register_pde
from .base import PDE, Domain
from .burgers import Burgers


@register_pde()
@dataclass
class BurgersPeriodic(Burgers):
    """Viscous Burgers 1D, periodic on [-1, 1), u0 = -sin(pi x); exact by Cole-Hopf.

    Parameters, initial condition, residual and exact solution are those of ``burgers``;
    only the domain (periodic), the grid and the spectral split differ.
    """

    name: ClassVar[str] = "burgers-periodic"
    description: ClassVar[str] = "viscous Burgers 1D, periodic, u0 = -sin(pi x) (exact: Cole-Hopf)"
    presets: ClassVar[dict[str, dict[str, Any]]] = {"shock": {"nu": 0.01 / np.pi}, "smooth": {"nu": 0.1 / np.pi}}
    reference_shape: ClassVar[dict[str, int]] = {"t": 101, "x": 1024}
    spectral_dt: ClassVar[float] = 1e-4

    def domain(self) -> Domain:
        return Domain(bounds={"x": (-1.0, 1.0)}, t=(0.0, self.t_end), periodic=("x",))

    def reference_grid(self) -> dict[str, np.ndarray]:
        return PDE.reference_grid(self)

    def spectral_linear(self, k: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"u": -self.nu * k["x"] ** 2}

    def spectral_nonlinear(self, u_hat: Any, ops: Any) -> Any:
        u = ops.ifft(u_hat)
        return -0.5 * ops.ik["x"] * ops.fft(u * u)
