"""Plane Poiseuille flow: the steady channel flow with an exact solution.

    u = 4 u_max y (H - y) / H^2,   v = 0,   p = G (L - x),   G = 8 nu u_max / H^2,

on [0, L] x [0, H]: no-slip walls at y = 0 and y = H, the parabolic profile imposed at the
inflow x = 0 and, at the outflow x = L, either the do-nothing condition nu du/dn - p n = 0
(``outflow = "do-nothing"``, soft; it also fixes the pressure's constant, p(L) = 0) or the same
parabolic profile (``"parabolic"``, exact; the pressure is graded with zero mean).

Stream-function lift psi = psi_in(y) = 4 u_max H (eta^2 / 2 - eta^3 / 3), eta = y / H: it meets
every Dirichlet segment exactly (and is the exact stream function: the network must learn a
vanishing correction and the linear pressure).  Distance function
phi = tanh(x / (H / 2)) 4 eta (1 - eta) [tanh((L - x) / (H / 2))].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..errors import ConfigError
from ..registry import register_pde
from .incompressible import ChannelFlow


@register_pde()
@dataclass
class Poiseuille(ChannelFlow):
    """Steady plane Poiseuille flow (module docstring); exact solution."""

    name: ClassVar[str] = "poiseuille"
    description: ClassVar[str] = "steady plane Poiseuille channel flow (exact solution)"
    reference_shape: ClassVar[dict[str, int]] = {"y": 51, "x": 101}

    def validate(self) -> None:
        for key in ("length", "height", "u_max", "nu"):
            if not getattr(self, key) > 0:
                raise ConfigError(f"pde.{key} must be positive, got {getattr(self, key)}")

    @property
    def velocity_scale(self) -> float:
        return self.u_max

    @property
    def length_scale(self) -> float:
        return self.height

    def distance(self, x: Any, y: Any) -> Any:
        return self.channel_distance(x, y, self.height / 2)

    def stream_lift(self, x: Any, y: Any) -> tuple[Any, Any]:
        return self.inflow_stream(y) + 0 * x, 0 * x

    def exact_solution(self, y: np.ndarray, x: np.ndarray) -> dict[str, np.ndarray]:  # type: ignore[override]
        yy, xx = np.meshgrid(np.asarray(y, dtype=np.float64), np.asarray(x, dtype=np.float64), indexing="ij")
        u, v = self.inflow_velocity(xx, yy)
        gradient = 8.0 * self.nu * self.u_max / self.height**2
        return {"u": u, "v": v, "p": gradient * (self.length - xx)}
