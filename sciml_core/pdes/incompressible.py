"""Steady incompressible 2D Navier-Stokes in stream-function form, the base of the flow cases.

    (u . grad) u + grad p = nu Lap u,   div u = 0   (density 1),   u = psi_y,  v = -psi_x,

so the velocity is divergence free by construction and the momentum residuals read

    r_x = psi_y psi_xy - psi_x psi_yy + p_x - nu (psi_xxy + psi_yyy),
    r_y = -psi_y psi_xx + psi_x psi_xy + p_y + nu (psi_xxx + psi_xyy).

A case (one module each: lid-driven cavity, plane Poiseuille, the Schafer-Turek cylinder)
declares its geometry as data the ``hard-bc-pinn`` solver needs to impose the velocity
boundary conditions exactly (Sukumar & Srivastava 2022; Lagaris et al. 1998):

* ``segments()``: the boundary pieces, each with its kind (``wall``, ``lid``, ``inflow``,
  ``outflow``, ``obstacle``) and, unless it is an outflow, its Dirichlet velocity;
* ``distance(x, y)``: phi, vanishing to first order on every Dirichlet segment (a product of
  one smooth factor per segment) and positive inside;
* ``stream_lift(x, y)``: (g0, g1) with psi = g0 + psi_c g1 meeting psi and d psi / dn on every
  Dirichlet segment for any island constant psi_c (g1 = 0 without an island), so that
  psi = g0 + psi_c g1 + phi^2 N does too, for any network N;
* outflow segments carry the do-nothing condition nu du/dn - p n = 0 as a soft term;
* ``benchmark(probe)``: the case's validation figures from a probe of the trained flow.

Arrays: the geometry functions take numpy arrays or torch tensors (differentiable).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from .base import PDE, Derivatives, Domain, array_module

Probe = Callable[[np.ndarray, np.ndarray], dict[str, np.ndarray]]
"""(x, y) -> {"psi", "u", "v", "p", "u_x", "u_y", "v_x", "v_y"} at the given points."""


@dataclass(frozen=True)
class Segment:
    """A straight boundary piece from ``start`` to ``end`` or, with ``centre``, a full circle of
    ``radius`` (counter-clockwise); ``velocity(x, y) -> (u, v)`` on Dirichlet segments."""

    name: str
    kind: Literal["wall", "lid", "inflow", "outflow", "obstacle"]
    start: tuple[float, float] = (0.0, 0.0)
    end: tuple[float, float] = (0.0, 0.0)
    centre: tuple[float, float] | None = None
    radius: float = 0.0
    velocity: Callable[[Any, Any], tuple[Any, Any]] | None = None

    def points(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Points at curve parameters ``s`` in [0, 1]."""
        s = np.asarray(s, dtype=np.float64)
        if self.centre is not None:
            angle = 2 * np.pi * s
            return self.centre[0] + self.radius * np.cos(angle), self.centre[1] + self.radius * np.sin(angle)
        return (self.start[0] + s * (self.end[0] - self.start[0]), self.start[1] + s * (self.end[1] - self.start[1]))

    def normal(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Unit normal pointing out of the fluid at ``s``."""
        s = np.asarray(s, dtype=np.float64)
        if self.centre is not None:
            angle = 2 * np.pi * s
            return -np.cos(angle), -np.sin(angle)  # out of the fluid = into the obstacle
        dx, dy = self.end[0] - self.start[0], self.end[1] - self.start[1]
        length = np.hypot(dx, dy)
        return np.full_like(s, dy / length), np.full_like(s, -dx / length)  # fluid on the left


def smooth_step(s: Any) -> Any:
    """C-infinity step: 0 for s <= 0, 1 for s >= 1, every derivative 0 at both ends,
    f(s) / (f(s) + f(1 - s)) with f(s) = exp(-1/s)."""
    xp = array_module(s)
    inside = (s > 0) & (s < 1)
    safe = xp.where(inside, s, 0.5 + 0 * s)  # keeps exp(-1/s) and its derivatives finite
    a, b = xp.exp(-1.0 / safe), xp.exp(-1.0 / (1.0 - safe))
    return xp.where(inside, a / (a + b), (s >= 1) * (1.0 + 0 * s))


def wall_factor(d: Any, width: float) -> Any:
    """tanh(d / width): one segment's factor of the distance function (d = signed distance)."""
    return array_module(d).tanh(d / width)


def poiseuille_stream(y: Any, height: float, u_max: float) -> Any:
    """psi of the parabolic profile u = 4 u_max y (H - y) / H^2: psi(0) = 0, psi(H) = 2/3 u_max H."""
    eta = y / height
    return 4.0 * u_max * height * (eta**2 / 2 - eta**3 / 3)


@dataclass
class SteadyIncompressibleFlow(PDE):
    """Base of the steady flow cases (module docstring).  Subclasses set ``nu``, the geometry
    hooks and ``velocity_scale`` / ``length_scale`` (the residual is reported and trained in
    units of velocity_scale^2 / length_scale)."""

    fields: ClassVar[tuple[str, ...]] = ("u", "v", "p")
    network_fields: ClassVar[tuple[str, ...]] = ("psi", "p")
    #: "mean": the pressure is defined up to a constant (enclosed flow), reported with zero mean.
    pressure_gauge: ClassVar[str] = "none"
    has_island: ClassVar[bool] = False

    t_end: float = 0.0

    @property
    def velocity_scale(self) -> float:
        raise NotImplementedError

    @property
    def length_scale(self) -> float:
        raise NotImplementedError

    def size(self) -> tuple[float, float]:
        """(length in x, height in y) of the bounding box [0, L] x [0, H]."""
        raise NotImplementedError

    def domain(self) -> Domain:
        length, height = self.size()
        return Domain(bounds={"y": (0.0, height), "x": (0.0, length)}, t=(0.0, 0.0))

    def reference_grid(self) -> dict[str, np.ndarray]:
        """The regular (y, x) grid of ``solution.nc`` (``reference_shape`` points per dim)."""
        length, height = self.size()
        return {"y": np.linspace(0.0, height, self.reference_shape.get("y", 101)),
                "x": np.linspace(0.0, length, self.reference_shape.get("x", 101))}

    # ---- geometry -------------------------------------------------------------------------
    def segments(self) -> list[Segment]:
        raise NotImplementedError

    def distance(self, x: Any, y: Any) -> Any:
        raise NotImplementedError

    def stream_lift(self, x: Any, y: Any) -> tuple[Any, Any]:
        raise NotImplementedError

    def island_guess(self) -> float:
        """First value of the island's stream-function constant psi_c."""
        return 0.0

    def inside_obstacle(self, x: Any, y: Any) -> Any:
        return 0 * x > 1

    def refinement_box(self) -> tuple[float, float, float, float] | None:
        """(x0, x1, y0, y1) where extra collocation points go (None: uniform only)."""
        return None

    # ---- physics --------------------------------------------------------------------------
    def stream_residual(self, d: Derivatives) -> dict[str, Any]:
        """Momentum residuals in stream-function form (module docstring)."""
        psi_x, psi_y, psi_xy = d["psi_x"], d["psi_y"], d["psi_xy"]
        r_x = psi_y * psi_xy - psi_x * d["psi_yy"] + d["p_x"] - self.nu * (d["psi_xxy"] + d["psi_yyy"])
        r_y = -psi_y * d["psi_xx"] + psi_x * psi_xy + d["p_y"] + self.nu * (d["psi_xxx"] + d["psi_xyy"])
        return {"momentum_x": r_x, "momentum_y": r_y}

    def outflow_residual(self, probe: dict[str, Any], normal: tuple[float, float]) -> dict[str, Any]:
        """Do-nothing condition nu du/dn - p n = 0 on an outflow with unit normal ``normal``."""
        nx, ny = normal
        du_dn = probe["u_x"] * nx + probe["u_y"] * ny
        dv_dn = probe["v_x"] * nx + probe["v_y"] * ny
        return {"outflow_x": self.nu * du_dn - probe["p"] * nx, "outflow_y": self.nu * dv_dn - probe["p"] * ny}

    def exact_solution(self, y: np.ndarray, x: np.ndarray) -> dict[str, np.ndarray] | None:  # type: ignore[override]
        return None

    def benchmark(self, probe: Probe) -> tuple[dict[str, float], dict[str, tuple[tuple[str, ...], np.ndarray]],
                                                 dict[str, np.ndarray]]:
        """(metrics, profile variables {name: (dims, values)}, their coordinates) of the case."""
        return {}, {}, {}


@dataclass
class ChannelFlow(SteadyIncompressibleFlow):
    """A channel [0, L] x [0, H] with no-slip walls, the parabolic inflow
    u = 4 u_max y (H - y) / H^2 at x = 0 and, at x = L, the do-nothing outflow (soft) or, with
    ``outflow = "parabolic"``, the inflow profile again (exact; the pressure constant is then
    free and reported with zero mean).  Subclasses add obstacles to :meth:`segments`."""

    length: float = 2.0
    height: float = 1.0
    u_max: float = 1.5
    nu: float = 0.02
    outflow: Literal["do-nothing", "parabolic"] = "do-nothing"

    @property
    def pressure_gauge(self) -> str:  # type: ignore[override]
        return "none" if self.outflow == "do-nothing" else "mean"

    def size(self) -> tuple[float, float]:
        return self.length, self.height

    def inflow_velocity(self, x: Any, y: Any) -> tuple[Any, Any]:
        eta = y / self.height
        return 4.0 * self.u_max * eta * (1.0 - eta), 0 * x

    def inflow_stream(self, y: Any) -> Any:
        return poiseuille_stream(y, self.height, self.u_max)

    def segments(self) -> list[Segment]:
        L, H = self.size()

        def still(x: Any, y: Any) -> tuple[Any, Any]:
            return 0 * x, 0 * x

        parabolic = self.outflow == "parabolic"
        return [Segment("bottom", "wall", (0.0, 0.0), (L, 0.0), velocity=still),
                Segment("outlet", "inflow" if parabolic else "outflow", (L, 0.0), (L, H),
                        velocity=self.inflow_velocity if parabolic else None),
                Segment("top", "wall", (L, H), (0.0, H), velocity=still),
                Segment("inlet", "inflow", (0.0, H), (0.0, 0.0), velocity=self.inflow_velocity)]

    def channel_distance(self, x: Any, y: Any, width: float) -> Any:
        """tanh(x / width) 4 eta (1 - eta) [tanh((L - x) / width)]: the inflow, walls [and outlet]."""
        eta = y / self.height
        phi = wall_factor(x, width) * 4.0 * eta * (1.0 - eta)
        return phi * wall_factor(self.length - x, width) if self.outflow == "parabolic" else phi
