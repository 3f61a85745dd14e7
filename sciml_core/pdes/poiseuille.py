"""Plane Poiseuille flow: the steady channel flow with an exact solution.

    u = 4 u_max y (H - y) / H^2,   v = 0,   p = G (L - x),   G = 8 nu u_max / H^2,

on [0, L] x [0, H]: no-slip walls at y = 0 and y = H, the parabolic profile imposed at the
inflow x = 0 and, at the outflow x = L, either the do-nothing condition nu du/dn - p n = 0
(``outflow = "do-nothing"``, soft; it also fixes the pressure's constant, p(L) = 0) or the same
parabolic profile (``"parabolic"``, exact; the pressure is then known up to a constant and is
graded with zero mean).

Stream-function lift psi = psi_in(y) = 4 u_max H (eta^2 / 2 - eta^3 / 3), eta = y / H: it meets
every Dirichlet segment exactly (and is the exact stream function: the network must learn a
vanishing correction and the linear pressure).  Distance function
phi = tanh(x / (H / 2)) 4 eta (1 - eta) [tanh((L - x) / (H / 2))].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from ..errors import ConfigError
from ..registry import register_pde
from .incompressible import Segment, SteadyIncompressibleFlow, poiseuille_stream, wall_factor


@register_pde()
@dataclass
class Poiseuille(SteadyIncompressibleFlow):
    """Steady plane Poiseuille flow (module docstring); exact solution."""

    name: ClassVar[str] = "poiseuille"
    description: ClassVar[str] = "steady plane Poiseuille channel flow (exact solution)"
    reference_shape: ClassVar[dict[str, int]] = {"y": 51, "x": 101}

    length: float = 2.0
    height: float = 1.0
    u_max: float = 1.5
    nu: float = 0.02
    outflow: Literal["do-nothing", "parabolic"] = "do-nothing"

    def validate(self) -> None:
        for key in ("length", "height", "u_max", "nu"):
            if not getattr(self, key) > 0:
                raise ConfigError(f"pde.{key} must be positive, got {getattr(self, key)}")

    @property
    def pressure_gauge(self) -> str:  # type: ignore[override]
        return "none" if self.outflow == "do-nothing" else "mean"

    @property
    def velocity_scale(self) -> float:
        return self.u_max

    @property
    def length_scale(self) -> float:
        return self.height

    def size(self) -> tuple[float, float]:
        return self.length, self.height

    def inflow_velocity(self, x: Any, y: Any) -> tuple[Any, Any]:
        eta = y / self.height
        return 4.0 * self.u_max * eta * (1.0 - eta), 0 * x

    def segments(self) -> list[Segment]:
        L, H = self.size()

        def still(x: Any, y: Any) -> tuple[Any, Any]:
            return 0 * x, 0 * x

        exit_kind = "outflow" if self.outflow == "do-nothing" else "inflow"
        return [Segment("bottom", "wall", (0.0, 0.0), (L, 0.0), velocity=still),
                Segment("outlet", exit_kind, (L, 0.0), (L, H),
                        velocity=None if self.outflow == "do-nothing" else self.inflow_velocity),
                Segment("top", "wall", (L, H), (0.0, H), velocity=still),
                Segment("inlet", "inflow", (0.0, H), (0.0, 0.0), velocity=self.inflow_velocity)]

    def distance(self, x: Any, y: Any) -> Any:
        L, H = self.size()
        eta = y / H
        phi = wall_factor(x, H / 2) * 4.0 * eta * (1.0 - eta)
        return phi * wall_factor(L - x, H / 2) if self.outflow == "parabolic" else phi

    def stream_lift(self, x: Any, y: Any) -> tuple[Any, Any]:
        return poiseuille_stream(y, self.height, self.u_max) + 0 * x, 0 * x

    def exact_solution(self, y: np.ndarray, x: np.ndarray) -> dict[str, np.ndarray]:  # type: ignore[override]
        yy, xx = np.meshgrid(np.asarray(y, dtype=np.float64), np.asarray(x, dtype=np.float64), indexing="ij")
        u, v = self.inflow_velocity(xx, yy)
        gradient = 8.0 * self.nu * self.u_max / self.height**2
        return {"u": u, "v": v, "p": gradient * (self.length - xx)}
