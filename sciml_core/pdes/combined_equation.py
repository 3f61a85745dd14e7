"""The combined equation of Brandstetter, Worrall & Welling, "Message passing neural PDE solvers" (ICLR 2022).

    u_t + (alpha u^2 / 2 - beta u_x + gamma u_xx)_x = delta(t, x),   x in [0, L) periodic, L = 16,
    delta(t, x) = sum_{j=1..J} A_j sin(omega_j t + 2 pi l_j x / L + phi_j),   u(0, x) = delta(0, x).

Burgers (gamma = 0) and KdV (beta = 0) are its edge cases.  The experiments draw J = 5 waves
with A ~ U(-0.5, 0.5), omega ~ U(-0.4, 0.4), phi ~ U(0, 2 pi) and l ~ U{1, 2}, on t in [0, 4]
with 250 frames; E1: (alpha, beta, gamma) = (1, 0, 0); E2: (1, U(0, 0.2), 0); E3: (U(0, 3),
U(0, 0.4), U(0, 1)).

Two details follow the authors' public generator rather than the paper's text, so that our
data and accumulated errors are comparable to the published ones: the convective flux is
alpha u^2 / 2 (the paper writes alpha u^2), and the wavenumbers l are drawn with
``randint(1, 3)``, i.e. from {1, 2} (the paper says {1, 2, 3}).

A PDE instance carries one forcing (the tuples ``forcing_*``; the default is one fixed draw);
a dataset draws a forcing per sample (initial condition ``mp-forcing``, stored as the
per-sample variables ``ic_A<j>``, ``ic_omega<j>``, ``ic_l<j>``, ``ic_phi<j>``), which the
finite-volume reference receives through :meth:`flux_form`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..errors import ConfigError
from ..registry import register_pde
from .base import PDE, Derivatives, Domain, FluxForm, array_module

#: Names of the per-sample forcing draws of wave j (stored as ``ic_<name>``).
FORCING_KEYS = ("A", "omega", "l", "phi")


def forcing_draw_names(n_waves: int) -> list[str]:
    """``["A0", ..., "A<J-1>", "omega0", ..., "l0", ..., "phi0", ...]``."""
    return [f"{key}{j}" for key in FORCING_KEYS for j in range(n_waves)]


def draw_forcing(rng: np.random.Generator, n_waves: int = 5, amplitude: float = 0.5, omega: float = 0.4,
                 l_max: int = 2) -> dict[str, np.ndarray]:
    """One forcing: ``A ~ U(-amplitude, amplitude)``, ``omega ~ U(-omega, omega)``,
    ``phi ~ U(0, 2 pi)``, ``l ~ U{1..l_max}``, each of length ``n_waves`` (drawn in that order)."""
    A = rng.uniform(-amplitude, amplitude, n_waves)
    w = rng.uniform(-omega, omega, n_waves)
    phi = rng.uniform(0.0, 2 * np.pi, n_waves)
    l = rng.integers(1, l_max + 1, n_waves).astype(np.float64)
    return {"A": A, "omega": w, "l": l, "phi": phi}


def sine_forcing(t: Any, x: Any, A: Any, omega: Any, l: Any, phi: Any, length: float,
                 cell: float = 0.0) -> Any:
    """``sum_j A_j sin(omega_j t + 2 pi l_j x / L + phi_j)`` on ``x`` (numpy or torch).

    ``A, omega, l, phi`` have shape ``(J,)`` or ``(batch, J)`` (then the result has a batch
    dim first); ``cell > 0`` gives the average over ``[x - cell/2, x + cell/2]`` instead of the
    point value (each wave scaled by ``sinc(k cell / 2)``), as a finite-volume state holds.
    """
    xp = array_module(x)
    k = 2 * np.pi * xp.asarray(l) / length
    amp = xp.asarray(A) * _sinc(k * cell / 2, xp)
    phase = xp.asarray(omega) * t + xp.asarray(phi)
    return (amp[..., None] * xp.sin(phase[..., None] + k[..., None] * x)).sum(-2)


def _sinc(z: Any, xp: Any) -> Any:
    """sin(z) / z with the value 1 at z = 0."""
    safe = xp.where(z == 0, xp.ones_like(z), z)
    return xp.where(z == 0, xp.ones_like(z), xp.sin(safe) / safe)


# one fixed draw (seed 0 of draw_forcing) so that the PDE alone is a complete problem
_DEFAULT = draw_forcing(np.random.default_rng(0))


@register_pde()
@dataclass
class CombinedEquation(PDE):
    """Combined Burgers-KdV equation with a travelling-wave forcing (MP-PDE experiments E1-E3)."""

    name: ClassVar[str] = "combined-equation"
    description: ClassVar[str] = ("u_t + (alpha u^2/2 - beta u_x + gamma u_xx)_x = sum of travelling sines, "
                                  "periodic L = 16 (MP-PDE E1-E3)")
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "E1": {"alpha": 1.0, "beta": 0.0, "gamma": 0.0},
        "burgers-viscous": {"alpha": 1.0, "beta": 0.2, "gamma": 0.0},
        "kdv": {"alpha": 3.0, "beta": 0.0, "gamma": 1.0},
    }
    reference_shape: ClassVar[dict[str, int]] = {"t": 250, "x": 200}

    alpha: float = 1.0
    beta: float = 0.0
    gamma: float = 0.0
    length: float = 16.0
    t_end: float = 4.0
    forcing_amplitude: tuple[float, ...] = tuple(float(v) for v in _DEFAULT["A"])
    forcing_omega: tuple[float, ...] = tuple(float(v) for v in _DEFAULT["omega"])
    forcing_wavenumber: tuple[float, ...] = tuple(float(v) for v in _DEFAULT["l"])
    forcing_phase: tuple[float, ...] = tuple(float(v) for v in _DEFAULT["phi"])

    def validate(self) -> None:
        if not self.length > 0:
            raise ConfigError(f"pde.length must be positive, got {self.length}")
        if not self.t_end > 0:
            raise ConfigError(f"pde.t_end must be positive, got {self.t_end}")
        if self.beta < 0:
            raise ConfigError(f"pde.beta must be non-negative (a viscosity), got {self.beta}")
        n = len(self.forcing_amplitude)
        for key in ("forcing_omega", "forcing_wavenumber", "forcing_phase"):
            if len(getattr(self, key)) != n:
                raise ConfigError(f"pde.{key} has {len(getattr(self, key))} entries, "
                                  f"pde.forcing_amplitude has {n}")

    def domain(self) -> Domain:
        return Domain(bounds={"x": (0.0, self.length)}, t=(0.0, self.t_end), periodic=("x",))

    def forcing(self, t: Any, x: Any, cell: float = 0.0) -> Any:
        """delta(t, x) of this instance (``cell``: average over cells of that width)."""
        return sine_forcing(t, x, self.forcing_amplitude, self.forcing_omega, self.forcing_wavenumber,
                            self.forcing_phase, self.length, cell)

    def initial_condition(self, x: Any, **_: Any) -> dict[str, Any]:
        return {"u": self.forcing(0.0, x)}

    def residual(self, d: Derivatives) -> dict[str, Any]:
        t, x = d.coords["t"], d.coords["x"]
        u = d["u"]
        return {"u": d["u_t"] + self.alpha * u * d["u_x"] - self.beta * d["u_xx"] + self.gamma * d["u_xxx"]
                - self.forcing(t, x)}

    def flux_form(self, samples: Mapping[str, Any] | None = None, batch: int = 1) -> FluxForm:
        """The batched terms: alpha, beta, gamma and the forcing per sample, taken from
        ``samples`` (per-sample parameters ``alpha``/``beta``/``gamma`` and forcing draws
        ``A<j>, omega<j>, l<j>, phi<j>``) where given, else this instance's values."""
        samples = dict(samples or {})
        if samples:
            batch = len(next(iter(samples.values())))

        def column(name: str) -> np.ndarray:
            value = samples.get(name, getattr(self, name))
            return np.broadcast_to(np.asarray(value, dtype=np.float64), (batch,)).copy()

        n_waves = sum(1 for k in samples if k.startswith("A") and k[1:].isdigit())
        if n_waves:
            try:
                waves = {key: np.stack([np.asarray(samples[f"{key}{j}"], dtype=np.float64) for j in range(n_waves)], 1)
                         for key in FORCING_KEYS}
            except KeyError as exc:
                raise ConfigError(f"per-sample forcing draws are incomplete: no {exc.args[0]!r} "
                                  f"(expected {', '.join(forcing_draw_names(n_waves))})") from None
        else:
            own = (self.forcing_amplitude, self.forcing_omega, self.forcing_wavenumber, self.forcing_phase)
            waves = {key: np.tile(np.asarray(v, dtype=np.float64), (batch, 1)) for key, v in zip(FORCING_KEYS, own)}
        return FluxForm(speed=np.zeros(batch), alpha=column("alpha"), beta=column("beta"), gamma=column("gamma"),
                        amplitude=waves["A"], omega=waves["omega"],
                        wavenumber=2 * np.pi * waves["l"] / self.length, phase=waves["phi"])
