"""Linear advection and convection-diffusion on [0, 2 pi) periodic, with exact solutions.

    advection:             u_t + c u_x = 0,            u(x, 0) = sin x,   u = sin(x - c t)
    convection-diffusion:  u_t + c u_x = nu u_xx,      u(x, 0) = sin x,   u = exp(-nu t) sin(x - c t)

The failure-mode benchmark of Krishnapriyan et al. (NeurIPS 2021, "Characterizing possible
failure modes in physics-informed neural networks"): Eulerian PINNs lose the travelling wave
as c grows (rel L2 near 1 by c = 30-50), which Lagrangian PINNs (Mojgani, Balajewicz &
Hassanzadeh 2023) avoid by solving along the characteristics dx/dt = c.  Graded on the
published 256 (x) x 100 (t in [0, 1]) grid.

Both PDEs are *transport* PDEs for ``lagrangian-pinn``: ``characteristic_speed(u, x)`` is
the speed a of dx/dt = a, ``diffusivity`` the nu of du/dt = nu u_xx along it.
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
class Advection(PDE):
    """Linear advection u_t + c u_x = 0 on [0, 2 pi) periodic, u0 = sin x; exact sin(x - c t)."""

    name: ClassVar[str] = "advection"
    description: ClassVar[str] = "linear advection u_t + c u_x = 0, [0, 2 pi) periodic, u0 = sin x (exact)"
    presets: ClassVar[dict[str, dict[str, Any]]] = {f"c{c}": {"c": float(c)} for c in (1, 10, 30, 50)}
    reference_shape: ClassVar[dict[str, int]] = {"t": 100, "x": 256}

    c: float = 30.0
    t_end: float = 1.0

    @property
    def diffusivity(self) -> float:
        return 0.0

    def validate(self) -> None:
        if not self.t_end > 0:
            raise ConfigError(f"pde.t_end must be positive, got {self.t_end}")

    def domain(self) -> Domain:
        return Domain(bounds={"x": (0.0, 2 * np.pi)}, t=(0.0, self.t_end), periodic=("x",))

    def initial_condition(self, x: Any) -> dict[str, Any]:
        return {"u": array_module(x).sin(x)}

    def characteristic_speed(self, u: Any, x: Any) -> Any:
        """a(u, x) of the characteristics dx/dt = a."""
        return self.c + 0 * u

    def residual(self, d: Derivatives) -> dict[str, Any]:
        return {"u": d["u_t"] + self.c * d["u_x"]}

    def exact_solution(self, t: np.ndarray, x: np.ndarray) -> dict[str, np.ndarray]:
        t = np.asarray(t, dtype=np.float64)[:, None]
        return {"u": np.exp(-self.diffusivity * t) * np.sin(np.asarray(x, dtype=np.float64)[None, :] - self.c * t)}


@register_pde()
@dataclass
class ConvectionDiffusion(Advection):
    """u_t + c u_x = nu u_xx on [0, 2 pi) periodic, u0 = sin x; exact exp(-nu t) sin(x - c t)."""

    name: ClassVar[str] = "convection-diffusion"
    description: ClassVar[str] = "convection-diffusion u_t + c u_x = nu u_xx, [0, 2 pi) periodic, u0 = sin x (exact)"
    presets: ClassVar[dict[str, dict[str, Any]]] = {}

    nu: float = 0.5

    @property
    def diffusivity(self) -> float:
        return self.nu

    def validate(self) -> None:
        super().validate()
        if self.nu < 0:
            raise ConfigError(f"pde.nu must be non-negative, got {self.nu}")

    def residual(self, d: Derivatives) -> dict[str, Any]:
        return {"u": d["u_t"] + self.c * d["u_x"] - self.nu * d["u_xx"]}
