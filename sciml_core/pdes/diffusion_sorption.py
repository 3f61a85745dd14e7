"""1D diffusion-sorption (PDEBench; Takamoto et al. 2022, after Nowak & Guthke 2016):

    u_t = D / R(u) u_xx,   R(u) = 1 + ((1 - phi) / phi) rho_s k_f n_f (u + 1e-6)^(n_f - 1),

on x in [0, 1], t in [0, 500]: a contaminant of concentration u diffusing into a porous
medium with Freundlich sorption (retardation R); D = 5e-4, porosity phi = 0.29, bulk
density rho_s = 2880, Freundlich k_f = 3.5e-4 and n_f = 0.874.  The 1e-6 keeps R finite
at u = 0, exactly as PDEBench's generator (``sim_diff_sorp.py``) writes it.

Boundaries: u(0, t) = 1 (the solubility); at x = 1 PDEBench's paper writes
u(1, t) = D u_x(1, t), its generator sets the ghost value beyond the last cell to
D (u_{N-2} - u_{N-1}) / dx, i.e. u(1, t) = -D u_x(1, t): we follow the generator, whose data
the published numbers are measured on (the difference is O(D) = 5e-4).  Initial state: a
constant u0 ~ U(0, 0.2) per sample (``u0`` here, the dataset's ``uniform-constant`` draw).

The cell-centred finite-volume discretisation that generates the data lives in
:mod:`solvers.diffusion_sorption`; :meth:`residual` is the continuous equation (PINNs,
hard-constraint layers).
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
class DiffusionSorption(PDE):
    """PDEBench's 1D diffusion-sorption with Freundlich retardation (module docstring)."""

    name: ClassVar[str] = "diffusion-sorption"
    fields: ClassVar[tuple[str, ...]] = ("u",)
    description: ClassVar[str] = "1D diffusion-sorption u_t = D/R(u) u_xx (PDEBench), Dirichlet left, Robin right"

    D: float = 5e-4
    porosity: float = 0.29
    rho_s: float = 2880.0
    k_f: float = 3.5e-4
    n_f: float = 0.874
    solubility: float = 1.0
    u0: float = 0.1
    n: int = 1024
    frames: int = 501
    t_end: float = 500.0

    def validate(self) -> None:
        for key in ("D", "rho_s", "k_f", "n_f", "t_end"):
            if not getattr(self, key) > 0:
                raise ConfigError(f"pde.{key} must be positive, got {getattr(self, key)}")
        if not 0 < self.porosity < 1:
            raise ConfigError(f"pde.porosity must be in (0, 1), got {self.porosity}")
        if self.u0 < 0:
            raise ConfigError(f"pde.u0 must be >= 0, got {self.u0}")
        if self.n < 3 or self.frames < 2:
            raise ConfigError("pde.n must be at least 3 and pde.frames at least 2")

    def domain(self) -> Domain:
        return Domain(bounds={"x": (0.0, 1.0)}, t=(0.0, self.t_end))

    def reference_grid(self) -> dict[str, np.ndarray]:
        """PDEBench's grid: ``n`` cell centres ``(i + 1/2) / n`` and ``frames`` times."""
        return {"t": np.linspace(0.0, self.t_end, self.frames), "x": (np.arange(self.n) + 0.5) / self.n}

    @property
    def sorption(self) -> float:
        """((1 - phi) / phi) rho_s k_f n_f, the prefactor of R(u) - 1."""
        return (1 - self.porosity) / self.porosity * self.rho_s * self.k_f * self.n_f

    def retardation(self, u: Any) -> Any:
        return 1 + self.sorption * (u + 1e-6) ** (self.n_f - 1)

    def retardation_derivative(self, u: Any) -> Any:
        """dR/du."""
        return self.sorption * (self.n_f - 1) * (u + 1e-6) ** (self.n_f - 2)

    def initial_condition(self, x: Any) -> dict[str, Any]:
        xp = array_module(x)
        return {"u": self.u0 + xp.zeros_like(x)}

    def boundary_value(self, t: Any, **coords: Any) -> dict[str, Any]:
        """The Dirichlet value at x = 0 (the Robin condition at x = 1 is in :meth:`boundary_residual`)."""
        xp = array_module(t)
        return {"u": self.solubility + xp.zeros_like(t)}

    def boundary_residual(self, u_left: Any, u_right: Any, u_x_right: Any) -> tuple[Any, Any]:
        """``(u(0) - solubility, u(1) + D u_x(1))``, zero for the generator's solution."""
        return u_left - self.solubility, u_right + self.D * u_x_right

    def residual(self, d: Derivatives) -> dict[str, Any]:
        u = d["u"]
        return {"u": d["u_t"] - self.D / self.retardation(u) * d["u_xx"]}
