"""Schafer-Turek benchmark 2D-1: steady channel flow past a cylinder at Re = 20.

Schafer & Turek, "Benchmark computations of laminar flow around a cylinder" (1996): channel
[0, 2.2] x [0, 0.41], cylinder of radius 0.05 centred at (0.2, 0.2), nu = 1e-3, density 1,
inflow u = 4 U_m y (H - y) / H^2 with U_m = 0.3 (mean speed U = 2 U_m / 3 = 0.2, diameter
D = 0.1, Re = U D / nu = 20), no slip on the walls and the cylinder, do-nothing outflow
nu du/dn - p n = 0 at x = 2.2 (``outflow = "parabolic"`` imposes the inflow profile there
instead).  Benchmark values (the 1996 intervals; the digits of later converged FEM runs):

    c_D = 2 F_D / (U^2 D) = 5.5795   (5.57 - 5.59)
    c_L = 2 F_L / (U^2 D) = 0.010619 (0.0104 - 0.0110)
    Delta p = p(0.15, 0.2) - p(0.25, 0.2) = 0.11752   (0.1172 - 0.1176)

with the force F = oint sigma n ds on the cylinder, sigma = -p I + nu (grad u + grad u^T),
n the body's outward normal, evaluated by the trapezoidal rule in the angle
(:func:`cylinder_forces`; spectrally accurate for a smooth periodic integrand).

Hard boundary conditions.  The stream function is psi_in(y) (the inflow profile's) on the
inflow, 0 and Q = 2/3 U_m H on the walls, and an unknown constant psi_c on the cylinder (the
flux passing below it, trained with the network).  Lift psi = psi_in(y) b + psi_c (1 - b),
b = smooth_step((rho - r) / blend) of the distance rho to the centre: b and every derivative
vanish on the cylinder (psi = psi_c, d psi / dn = 0 there) and b = 1 from rho = r + blend on,
away from the outer boundary.  Distance function: phi = tanh(x / s) 4 eta (1 - eta)
tanh((rho - r) / s_c) [tanh((L - x) / s)], eta = y / H.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..errors import ConfigError
from ..registry import register_pde
from .base import array_module
from .incompressible import ChannelFlow, Probe, Segment, smooth_step, wall_factor

BENCHMARK_2D1 = {"c_d": 5.5795, "c_l": 0.010619, "delta_p": 0.11752}


def cylinder_forces(theta: np.ndarray, radius: float, p: np.ndarray, u_x: np.ndarray, u_y: np.ndarray,
                    v_x: np.ndarray, v_y: np.ndarray, nu: float) -> tuple[float, float]:
    """(F_x, F_y) = oint sigma n ds on a circle from values at equispaced angles ``theta``,
    sigma = -p I + nu (grad u + grad u^T), n = (cos theta, sin theta) (out of the body)."""
    nx, ny = np.cos(theta), np.sin(theta)
    sxx, syy, sxy = -p + 2 * nu * u_x, -p + 2 * nu * v_y, nu * (u_y + v_x)
    ds = 2 * np.pi * radius / theta.size
    return float(np.sum(sxx * nx + sxy * ny) * ds), float(np.sum(sxy * nx + syy * ny) * ds)


@register_pde()
@dataclass
class Cylinder2D1(ChannelFlow):
    """Schafer-Turek 2D-1, steady flow past a cylinder in a channel at Re = 20 (module docstring)."""

    name: ClassVar[str] = "cylinder-2d1"
    description: ClassVar[str] = "Schafer-Turek 2D-1: steady channel flow past a cylinder, Re = 20 (c_D = 5.5795)"
    reference_shape: ClassVar[dict[str, int]] = {"y": 83, "x": 441}
    has_island: ClassVar[bool] = True

    length: float = 2.2
    height: float = 0.41
    centre_x: float = 0.2
    centre_y: float = 0.2
    radius: float = 0.05
    u_max: float = 0.3
    nu: float = 1e-3
    blend: float = 0.1
    wall_width: float = 0.1
    cylinder_width: float = 0.05

    def validate(self) -> None:
        for key in ("length", "height", "radius", "u_max", "nu", "blend", "wall_width", "cylinder_width"):
            if not getattr(self, key) > 0:
                raise ConfigError(f"pde.{key} must be positive, got {getattr(self, key)}")
        clearance = min(self.centre_x, self.centre_y, self.height - self.centre_y, self.length - self.centre_x)
        if self.radius + self.blend >= clearance:
            raise ConfigError(f"pde.blend = {self.blend}: the lift's transition (radius + blend) must end before "
                              f"the nearest outer boundary, {clearance} from the centre")

    @property
    def mean_speed(self) -> float:
        return 2.0 * self.u_max / 3.0

    @property
    def velocity_scale(self) -> float:
        return self.mean_speed

    @property
    def length_scale(self) -> float:
        return 2.0 * self.radius

    @property
    def reynolds(self) -> float:
        return self.mean_speed * 2 * self.radius / self.nu

    def segments(self) -> list[Segment]:
        return [*super().segments(), Segment("cylinder", "obstacle", centre=(self.centre_x, self.centre_y),
                                             radius=self.radius, velocity=lambda x, y: (0 * x, 0 * x))]

    def _rho(self, x: Any, y: Any) -> Any:
        return array_module(x).sqrt((x - self.centre_x) ** 2 + (y - self.centre_y) ** 2)

    def inside_obstacle(self, x: Any, y: Any) -> Any:
        return (x - self.centre_x) ** 2 + (y - self.centre_y) ** 2 < self.radius**2

    def distance(self, x: Any, y: Any) -> Any:
        return self.channel_distance(x, y, self.wall_width) * wall_factor(self._rho(x, y) - self.radius,
                                                                           self.cylinder_width)

    def stream_lift(self, x: Any, y: Any) -> tuple[Any, Any]:
        b = smooth_step((self._rho(x, y) - self.radius) / self.blend)
        return self.inflow_stream(y) * b + 0 * x, 1.0 - b

    def island_guess(self) -> float:
        return float(self.inflow_stream(self.centre_y))

    def refinement_box(self) -> tuple[float, float, float, float] | None:
        """The near field: from the inflow to 8 radii behind the cylinder."""
        return 0.0, self.centre_x + 8 * self.radius, 0.0, self.height

    def benchmark(self, probe: Probe) -> tuple[dict[str, float], dict[str, Any], dict[str, np.ndarray]]:
        """c_D, c_L from the surface stresses, the pressure difference, and the surface pressure."""
        theta = 2 * np.pi * np.arange(512) / 512
        xs = self.centre_x + self.radius * np.cos(theta)
        ys = self.centre_y + self.radius * np.sin(theta)
        wall = probe(xs, ys)
        fx, fy = cylinder_forces(theta, self.radius, wall["p"], wall["u_x"], wall["u_y"], wall["v_x"], wall["v_y"],
                                 self.nu)
        scale = 2.0 / (self.mean_speed**2 * 2 * self.radius)
        ends = probe(np.array([self.centre_x - self.radius, self.centre_x + self.radius]), np.full(2, self.centre_y))
        metrics = {"c_d": fx * scale, "c_l": fy * scale, "delta_p": float(ends["p"][0] - ends["p"][1])}
        metrics.update({f"{k}_rel_error": abs(metrics[k] - v) / abs(v) for k, v in BENCHMARK_2D1.items()})
        variables = {"p_surface": (("theta",), wall["p"]),
                     "vorticity_surface": (("theta",), wall["v_x"] - wall["u_y"])}
        return metrics, variables, {"theta": theta}
