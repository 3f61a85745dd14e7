"""``fv-weno5``: WENO5 finite volumes with adaptive Dormand-Prince, the MP-PDE reference.

For a PDE with a finite-volume form (:meth:`sciml_core.pdes.base.PDE.flux_form`), periodic in
its one dim, the semi-discrete system on ``n`` cells of width ``dx = L / n`` centred at
``x_i = i dx`` is

    d u_i / dt = -(F_{i+1/2} - F_{i-1/2}) / dx + beta D2 u_i - gamma D3 u_i + s_i(t),

with ``F`` the Godunov (or local Lax-Friedrichs) flux of the WENO5 states
(:mod:`.weno`), ``D2``/``D3`` fourth-order central differences and ``s_i`` the cell average
of the forcing; it is integrated by adaptive Dormand-Prince 5(4) in float64 (:mod:`.dopri5`),
batched over samples on the run's device (CPU or CUDA).  The state holds cell averages, so
``run()`` starts from the cell averages of the PDE's initial condition (3-point Gauss).

Interface, as the spectral references: ``grid()`` and ``integrate(initial, t_out, t0=0.0,
params=None)`` with ``initial["u"]`` of shape ``(batch, n)`` -> ``out["u"]`` of shape
``(batch, len(t_out), n)`` (numpy float64).  ``params`` gives per-sample PDE parameters and
initial-condition draws (``(batch,)`` arrays; for the combined equation the forcing draws of
``mp-forcing``), so a dataset block with different parameters is one batch
(``batched_params``).  Each sample takes its own adaptive steps (:mod:`.dopri5`), so a stiff
sample does not slow its batch down; its bits still depend on its block through rounding, and
the generation engine's fixed blocks keep them reproducible.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import torch
import xarray as xr

from sciml_core.errors import ConfigError, DataError, NotImplementedForError
from sciml_core.pdes.base import PDE, FluxForm
from sciml_core.progress import Progress
from sciml_core.registry import register_solver
from sciml_core.solver import ReferenceSolver, SolverOutput

from .dopri5 import DormandPrince
from .weno import FLUXES, second_derivative, third_derivative, weno5_states


@dataclass
class WenoConfig:
    """n: cells (None: the PDE's reference grid); frames: output frames of ``run()`` over
    [0, t_end] (None: the PDE's reference times); flux: ``godunov`` (exact Riemann solver) or
    ``lax-friedrichs`` (local, Rusanov); weno_eps: the epsilon of the WENO weights (Jiang &
    Shu's 1e-6; the public MP-PDE code uses 1e-16); rtol/atol: Dormand-Prince tolerances;
    dt0: first step (None: Hairer's estimate); max_steps: step cap."""

    n: int | None = None
    frames: int | None = None
    flux: Literal["godunov", "lax-friedrichs"] = "godunov"
    weno_eps: float = 1e-6
    rtol: float = 1e-6
    atol: float = 1e-8
    dt0: float | None = None
    max_steps: int = 10_000_000

    def validate(self) -> None:
        if self.n is not None and self.n < 7:
            raise ConfigError(f"n must be at least 7 (the WENO5 and D3 stencils), got {self.n}")
        if self.frames is not None and self.frames < 2:
            raise ConfigError(f"frames must be at least 2, got {self.frames}")
        if not self.weno_eps > 0:
            raise ConfigError(f"weno_eps must be positive, got {self.weno_eps}")
        if not self.rtol > 0 or not self.atol >= 0:
            raise ConfigError(f"need rtol > 0 and atol >= 0, got rtol={self.rtol}, atol={self.atol}")
        if self.dt0 is not None and not self.dt0 > 0:
            raise ConfigError(f"dt0 must be positive, got {self.dt0}")
        if self.max_steps < 1:
            raise ConfigError(f"max_steps must be at least 1, got {self.max_steps}")


class SemiDiscrete:
    """The right-hand side ``f(t, u)`` of a batch: ``t`` ``(batch,)``, ``u`` ``(batch, n)``.

    The forcing's cell averages are ``s_i(t) = sum_j A_j [sin(w_j t + phi_j) C_j(x_i) + cos(w_j t
    + phi_j) S_j(x_i)]`` with ``C_j, S_j = sinc(k_j dx / 2) (cos, sin)(k_j x)``; waves of one
    wavenumber share those columns, so a step costs one ``(batch, 2U) @ (2U, n)`` product for
    the U distinct wavenumbers of the batch (2 in the MP-PDE data).
    """

    def __init__(self, tensors: dict[str, torch.Tensor | None], basis: torch.Tensor | None, dx: float,
                 flux: str, eps: float, signs: tuple[bool, bool, bool]) -> None:
        self.tensors, self.basis, self.dx, self.flux_name, self.eps, self.signs = tensors, basis, dx, flux, eps, signs
        self.flux = FLUXES[flux]
        for name, value in tensors.items():
            setattr(self, name, value)

    @classmethod
    def from_form(cls, form: FluxForm, x: np.ndarray, dx: float, flux: str, eps: float,
                  device: torch.device) -> "SemiDiscrete":
        def tensor(a: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(np.asarray(a), device=device)

        basis = wave = None
        if form.amplitude.shape[1] and np.any(form.amplitude):
            ks, wave = np.unique(form.wavenumber, return_inverse=True)
            half = ks * dx / 2
            sinc = np.where(half == 0, 1.0, np.sin(half) / np.where(half == 0, 1.0, half))[:, None]
            kx = ks[:, None] * x[None, :]
            basis = tensor(np.concatenate([sinc * np.cos(kx), sinc * np.sin(kx)]))  # (2U, n)
            wave = tensor(wave.reshape(form.wavenumber.shape))
        tensors = {"speed": tensor(form.speed)[:, None], "alpha": tensor(form.alpha)[:, None],
                   "beta": tensor(form.beta)[:, None] if np.any(form.beta) else None,
                   "gamma": tensor(form.gamma)[:, None] if np.any(form.gamma) else None,
                   "amplitude": tensor(form.amplitude), "omega": tensor(form.omega), "phase": tensor(form.phase),
                   "wave": wave}
        signs = (bool(np.any(form.alpha > 0)), bool(np.any(form.alpha < 0)), bool(np.any(form.alpha == 0)))
        return cls(tensors, basis, dx, flux, eps, signs)

    def select(self, rows: torch.Tensor) -> "SemiDiscrete":
        """The same system for the samples ``rows`` only."""
        tensors = {k: None if v is None else v[rows] for k, v in self.tensors.items()}
        return SemiDiscrete(tensors, self.basis, self.dx, self.flux_name, self.eps, self.signs)

    def source(self, t: torch.Tensor) -> torch.Tensor | None:
        if self.basis is None:
            return None
        arg = self.omega * t[:, None] + self.phase
        n_k = self.basis.shape[0] // 2
        coeff = torch.zeros((len(t), 2 * n_k), dtype=t.dtype, device=t.device)
        coeff.scatter_add_(1, self.wave, self.amplitude * torch.sin(arg))
        coeff.scatter_add_(1, self.wave + n_k, self.amplitude * torch.cos(arg))
        return coeff @ self.basis

    def __call__(self, t: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        u_minus, u_plus = weno5_states(u, self.eps)
        F = self.flux(u_minus, u_plus, self.speed, self.alpha, self.signs)
        du = (F[:, :-1] - F[:, 1:]) / self.dx
        if self.beta is not None:
            du += self.beta * second_derivative(u, self.dx)
        if self.gamma is not None:
            du -= self.gamma * third_derivative(u, self.dx)
        s = self.source(t)
        if s is not None:
            du += s
        return du


def cell_averages(fn: Any, x: np.ndarray, dx: float) -> np.ndarray:
    """Cell averages of ``fn(x)`` over ``[x_i - dx/2, x_i + dx/2]`` by 3-point Gauss-Legendre (6th order)."""
    nodes, weights = np.polynomial.legendre.leggauss(3)
    return sum(w / 2 * np.asarray(fn(x + node * dx / 2)) for node, w in zip(nodes, weights))


@register_solver()
class WenoSolver(ReferenceSolver):
    """WENO5 finite volumes + Godunov flux + 4th-order differences + adaptive Dormand-Prince (float64)."""

    name: ClassVar[str] = "fv-weno5"
    description: ClassVar[str] = "finite volumes: WENO5 + Godunov flux, 4th-order differences, adaptive Dormand-Prince 5(4)"
    Config: ClassVar[type] = WenoConfig
    batched_params: ClassVar[bool] = True
    presets: ClassVar[dict[str, dict[str, Any]]] = {"quick": {"n": 50, "frames": 26}, "default": {}}

    @classmethod
    def supports(cls, pde: PDE) -> bool:
        dom = pde.domain()
        return type(pde).flux_form is not PDE.flux_form and len(dom.dims) == 1 and set(dom.periodic) == set(dom.dims)

    def __init__(self, pde: PDE, config: Any, context: Any = None) -> None:
        super().__init__(pde, config, context)
        if not self.supports(pde):
            raise NotImplementedForError(f"{self.name} needs a 1-D periodic PDE with a finite-volume form "
                                         f"(flux_form); {pde.name!r} has none")
        dom = pde.domain()
        (self.dim, (lo, hi)), = dom.bounds.items()
        self.n = self.config.n or len(pde.reference_grid()[self.dim])
        self.dx = (hi - lo) / self.n
        self.x = lo + self.dx * np.arange(self.n)
        self.last_stats: dict[str, Any] = {}
        self._on_frames: Any = None  # run(): its progress bar / lines

    def resolved_config(self) -> Any:
        """The config with ``n`` (the PDE's reference grid) and ``frames`` (its reference times,
        when evenly spaced) written out, as ``config.toml`` records them; ``dt0`` None stays:
        each sample's first step is Hairer's estimate."""
        frames = self.config.frames if self.config.frames is not None else self.even_frames(self.times())
        return dataclasses.replace(self.config, n=self.n, frames=frames)

    def grid(self) -> dict[str, np.ndarray]:
        return {self.dim: self.x.copy()}

    def integrate(self, initial: dict[str, Any], t_out: Any, t0: float = 0.0,
                  params: Mapping[str, Any] | None = None) -> dict[str, np.ndarray]:
        """Advance a batch of cell-average states; see the module docstring (shapes, params)."""
        t_out = np.asarray(t_out, dtype=np.float64).reshape(-1)
        if t_out.size and (t_out[0] < t0 or np.any(np.diff(t_out) < 0)):
            raise ConfigError("t_out must be non-decreasing and start at or after t0")
        if "u" not in initial:
            raise DataError(f"initial state has no field 'u' (expected {', '.join(self.pde.fields)})")
        u0 = np.array(initial["u"], dtype=np.float64)
        if u0.ndim != 2 or u0.shape[1] != self.n:
            raise DataError(f"initial['u'] has shape {u0.shape}, expected (batch, {self.n})")
        form = self.pde.flux_form(params, batch=u0.shape[0])
        if form.batch != u0.shape[0]:
            raise DataError(f"params hold {form.batch} samples, initial['u'] {u0.shape[0]}")
        device = self.context.device
        rhs = SemiDiscrete.from_form(form, self.x, self.dx, self.config.flux, self.config.weno_eps, device)
        c = self.config
        stepper = DormandPrince(c.rtol, c.atol, c.dt0, c.max_steps, on_frames=self._on_frames)
        out = stepper.solve(rhs, torch.as_tensor(u0, device=device), t0, t_out).cpu().numpy()
        self.last_stats = stepper.stats
        return {"u": out}

    def times(self) -> np.ndarray:
        ref = self.pde.reference_grid()["t"]
        if self.config.frames is None:
            return np.asarray(ref, dtype=np.float64)
        return np.linspace(ref[0], ref[-1], self.config.frames)

    def run(self) -> SolverOutput:
        """The PDE's own initial condition (cell averages) to its reference times."""
        t_out = self.times()
        u0 = cell_averages(lambda x: self.pde.initial_condition(x=x)["u"], self.x, self.dx)
        start = time.perf_counter()
        progress = Progress(f"{self.name} {self.pde.name}", t_out.size, initial=1, noun="frame",
                            enabled=self.context.progress)
        self._on_frames = progress.update
        try:
            u = self.integrate({"u": np.broadcast_to(u0, (1, self.n))}, t_out, float(t_out[0]))["u"][0]
        finally:
            self._on_frames = None
            progress.close()
        wall = time.perf_counter() - start
        mass = u.sum(axis=1) * self.dx
        solution = xr.Dataset({"u": (("t", self.dim), u)}, coords={"t": t_out, self.dim: self.x},
                              attrs={"pde": self.pde.name, "solver": self.name, "cell_averages": 1})
        metrics = {**self.last_stats, "n": self.n, "frames": int(t_out.size), "integrate_s": round(wall, 4),
                   "mass_start": float(mass[0]), "mass_end": float(mass[-1])}
        return SolverOutput(solution=solution, steps=int(self.last_stats["steps_max"]), metrics=metrics)
