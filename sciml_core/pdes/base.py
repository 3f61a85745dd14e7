"""The PDE definition every solver shares.

A PDE is a dataclass of its physical parameters plus class-level facts: the fields it
evolves, its spatial coordinates, the domain, the initial and boundary conditions, the
residual used by PINNs, and the exact solution where one exists.  Numerical references add
their own hooks (e.g. the linear symbol and nonlinear term of a semilinear system) in the
same class, so adding a PDE is one file in this package.

Arrays: functions taking coordinates accept numpy arrays or torch tensors and return the
same kind (see :func:`array_module`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping, Protocol

import numpy as np

from ..config import build_config, to_dict
from ..errors import NotImplementedForError


def array_module(x: Any) -> Any:
    """``torch`` for tensors, ``numpy`` otherwise: lets one formula serve PINNs and references."""
    if type(x).__module__.startswith("torch"):
        import torch

        return torch
    return np


@dataclass(frozen=True)
class Domain:
    """Space-time domain: ``bounds[dim] = (lo, hi)`` per spatial dim, time interval ``t``.

    ``periodic`` names the spatial dims with periodic boundaries; the others carry the
    boundary condition of :meth:`PDE.boundary_value`.
    """

    bounds: Mapping[str, tuple[float, float]]
    t: tuple[float, float]
    periodic: tuple[str, ...] = ()

    @property
    def dims(self) -> tuple[str, ...]:
        return tuple(self.bounds)

    def length(self, dim: str) -> float:
        lo, hi = self.bounds[dim]
        return hi - lo


@dataclass(frozen=True)
class FluxForm:
    """A batch of scalar 1-D balance laws, one row per sample (the finite-volume hook's result):

        u_t + (c u + alpha u^2 / 2)_x = beta u_xx - gamma u_xxx + sum_j A_j sin(omega_j t + k_j x + phi_j).

    ``speed`` (c), ``alpha``, ``beta``, ``gamma``: ``(batch,)``; ``amplitude``, ``omega``,
    ``wavenumber`` (angular, k_j), ``phase``: ``(batch, J)`` (J = 0: no source).
    """

    speed: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray
    gamma: np.ndarray
    amplitude: np.ndarray
    omega: np.ndarray
    wavenumber: np.ndarray
    phase: np.ndarray

    @property
    def batch(self) -> int:
        return len(self.alpha)


class Derivatives(Protocol):
    """What :meth:`PDE.residual` receives: fields and their derivatives by name.

    ``d["u"]`` is the field, ``d["u_t"]``, ``d["u_x"]``, ``d["u_xx"]``, ``d["u_xxxx"]``,
    ``d["v_xy"]`` its partial derivatives (letters after the underscore, in any order);
    ``d.coords["x"]`` the collocation coordinates.  Implementations compute on demand and
    cache, so a residual asks only for what it uses.
    """

    coords: Mapping[str, Any]

    def __getitem__(self, name: str) -> Any: ...


@dataclass
class PDE:
    """Base class: subclass as a dataclass whose fields are the PDE's parameters.

    Class attributes to set: ``name``, ``fields`` (names of the evolved fields),
    ``description``, and ``presets`` (named parameter sets, e.g. literature regimes).
    ``t_end`` is a parameter of every PDE: the final time of the problem.
    """

    name: ClassVar[str] = ""
    fields: ClassVar[tuple[str, ...]] = ("u",)
    description: ClassVar[str] = ""
    presets: ClassVar[dict[str, dict[str, Any]]] = {}
    t_end: float = 1.0

    # ---- construction -------------------------------------------------------------------
    @classmethod
    def from_params(cls, params: Mapping[str, Any] | None = None, preset: str | None = None) -> "PDE":
        """Build from a preset name and/or a parameter dict (validated, unknown keys rejected)."""
        data: dict[str, Any] = {}
        if preset is not None:
            if preset not in cls.presets:
                from ..registry import unknown_name_error

                raise unknown_name_error(f"preset of PDE {cls.name!r}", preset, list(cls.presets))
            data.update(cls.presets[preset])
        data.update(params or {})
        return build_config(cls, data, prefix="pde.")

    def params(self) -> dict[str, Any]:
        """The parameters as plain data (for attrs, config.toml and dataset provenance)."""
        return to_dict(self)

    def replace(self, **changes: Any) -> "PDE":
        return dataclasses.replace(self, **changes)

    # ---- problem definition -------------------------------------------------------------
    def domain(self) -> Domain:
        raise NotImplementedError

    @property
    def spatial_dims(self) -> tuple[str, ...]:
        return self.domain().dims

    def initial_condition(self, **coords: Any) -> dict[str, Any]:
        """Fields at t = 0 on the given coordinates (arrays broadcast against each other)."""
        raise NotImplementedForError(f"PDE {self.name!r} defines no initial condition")

    def boundary_value(self, t: Any, **coords: Any) -> dict[str, Any]:
        """Dirichlet values on non-periodic boundaries (default: homogeneous)."""
        xp = array_module(t)
        return {f: xp.zeros_like(t) for f in self.fields}

    def residual(self, d: Derivatives) -> dict[str, Any]:
        """PDE residual per equation (zero for the exact solution), for PINNs."""
        raise NotImplementedForError(f"PDE {self.name!r} defines no residual for PINNs")

    def exact_solution(self, t: np.ndarray, **coords: np.ndarray) -> dict[str, np.ndarray] | None:
        """Exact solution on a grid (``t`` and coords 1-D; result dims ``(t, *dims)``), or None."""
        return None

    # ---- grids --------------------------------------------------------------------------
    reference_shape: ClassVar[dict[str, int]] = {}

    def reference_grid(self) -> dict[str, np.ndarray]:
        """The 1-D coordinate arrays (``t`` first) on which solutions are stored and graded."""
        dom = self.domain()
        shape = self.reference_shape
        grid = {"t": np.linspace(dom.t[0], dom.t[1], shape.get("t", 101))}
        for dim in dom.dims:
            lo, hi = dom.bounds[dim]
            n = shape.get(dim, 256)
            if dim in dom.periodic:
                grid[dim] = lo + (hi - lo) * np.arange(n) / n
            else:
                grid[dim] = np.linspace(lo, hi, n)
        return grid

    # ---- pseudo-spectral hooks (used by solvers/spectral) ----------------------------------
    #: Apply the 2/3 rule to the nonlinear term by default (right for polynomial nonlinearities).
    spectral_dealias: ClassVar[bool] = True
    #: Suggested fixed time step of a reference integration (ETDRK4 / RK4 default ``dt``).
    spectral_dt: ClassVar[float] = 1e-3

    def spectral_linear(self, k: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Diagonal linear symbol per field for ``u_t = L u + N(u)`` on a periodic box.

        ``k[dim]`` are wavenumber arrays broadcast to the rfft shape; return
        ``{field: L_hat}`` (real or complex arrays broadcastable to that shape).
        """
        raise NotImplementedForError(f"PDE {self.name!r} defines no pseudo-spectral form")

    def spectral_complex_pair(self) -> tuple[str, str] | None:
        """Fields (a, b) the spectral solvers may evolve as one complex field ``a + i b``.

        Then ``spectral_linear`` also returns the key ``"a+ib"`` and ``spectral_nonlinear``
        handles ``ops.complex_pair``; worth it when a rotation between a and b can go in L.
        """
        return None

    def spectral_nonlinear(self, u_hat: Any, ops: Any) -> Any:
        """Nonlinear term in Fourier space: ``u_hat`` ``(batch, n_fields, *spectral)`` -> same shape.

        ``ops`` (:class:`solvers.spectral.fourier.SpectralOps`) gives ``fft``, ``ifft``,
        ``k``, ``ik`` and ``xp``; the solver applies dealiasing to the result.
        """
        raise NotImplementedForError(f"PDE {self.name!r} defines no pseudo-spectral form")

    # ---- finite-volume hook (used by solvers/finite_volume) -------------------------------
    def flux_form(self, samples: Mapping[str, Any] | None = None, batch: int = 1) -> "FluxForm":
        """The PDE as a batch of balance laws (:class:`FluxForm`) for ``batch`` samples.

        ``samples`` maps per-sample parameter and initial-condition draw names to ``(batch,)``
        arrays (a dataset block); names it does not give take this instance's values.
        """
        raise NotImplementedForError(f"PDE {self.name!r} defines no finite-volume form")
