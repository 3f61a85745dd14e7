"""Viscous Burgers equation in 1D with its exact Cole-Hopf solution.

    u_t + u u_x = nu u_xx,   x in [-1, 1],   u(x, 0) = -sin(pi x),   u(+-1, t) = 0.

The classic PINN benchmark (Raissi, Perdikaris, Karniadakis 2019) with nu = 0.01 / pi,
graded on the 256 (x) x 100 (t = 0, 0.01, ..., 0.99) grid.  Cole-Hopf: u = -2 nu phi_x / phi
with phi solving the heat equation, which gives (Basdevant et al. 1986)

    u(x, t) = - int sin(pi (x - eta)) f(x - eta) G(eta, t) d eta / int f(x - eta) G(eta, t) d eta,
    f(y) = exp(-cos(pi y) / (2 pi nu)),   G = exp(-eta^2 / (4 nu t)).

With eta = sqrt(4 nu t) z both integrals are Gauss-Hermite sums; they are evaluated in the
log domain (log-sum-exp) because f spans exp(+-1/(2 pi nu)), which overflows for small nu.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np
from scipy.special import logsumexp, roots_hermite

from ..errors import ConfigError
from ..registry import register_pde
from .base import PDE, Derivatives, Domain, array_module


@lru_cache(maxsize=8)
def _hermite_rule(n: int) -> tuple[np.ndarray, np.ndarray]:
    nodes, weights = roots_hermite(n)
    with np.errstate(divide="ignore"):  # weights of far nodes underflow to 0: log -> -inf
        return nodes, np.log(weights)


def cole_hopf_burgers(
    t: np.ndarray, x: np.ndarray, nu: float, n_quadrature: int = 128, chunk: int = 4096
) -> np.ndarray:
    """Exact solution of Burgers with u0 = -sin(pi x) on the grid ``t`` x ``x`` -> ``(t, x)``.

    Converged to about 1e-14 for nu = 0.01/pi, t < 1 with the default 128 nodes.
    """
    t = np.asarray(t, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    z, log_w = _hermite_rule(n_quadrature)
    tt, xx = np.meshgrid(t, x, indexing="ij")
    out = np.empty(tt.size)
    t_flat, x_flat = tt.ravel(), xx.ravel()
    for start in range(0, t_flat.size, chunk):
        ts, xs = t_flat[start : start + chunk, None], x_flat[start : start + chunk, None]
        y = xs - np.sqrt(4.0 * nu * ts) * z[None, :]  # (points, nodes)
        log_f = -np.cos(np.pi * y) / (2.0 * np.pi * nu) + log_w[None, :]
        weights = np.exp(log_f - logsumexp(log_f, axis=1, keepdims=True))
        out[start : start + chunk] = -(weights * np.sin(np.pi * y)).sum(axis=1)
    return out.reshape(tt.shape)


@register_pde()
@dataclass
class Burgers(PDE):
    """Viscous Burgers 1D, Dirichlet zero on [-1, 1], u0 = -sin(pi x); exact by Cole-Hopf."""

    name: ClassVar[str] = "burgers"
    description: ClassVar[str] = "viscous Burgers 1D, u0 = -sin(pi x), Dirichlet 0 (exact: Cole-Hopf)"
    reference_shape: ClassVar[dict[str, int]] = {"t": 100, "x": 256}

    nu: float = 0.01 / np.pi
    t_end: float = 1.0

    def validate(self) -> None:
        if not self.nu > 0:
            raise ConfigError(f"pde.nu must be positive, got {self.nu}")
        if not self.t_end > 0:
            raise ConfigError(f"pde.t_end must be positive, got {self.t_end}")

    def domain(self) -> Domain:
        return Domain(bounds={"x": (-1.0, 1.0)}, t=(0.0, self.t_end))

    def reference_grid(self) -> dict[str, np.ndarray]:
        """256 x in [-1, 1] and 100 t in [0, t_end) (t = 0, 0.01, ..., 0.99 by default)."""
        nt, nx = self.reference_shape["t"], self.reference_shape["x"]
        return {"t": self.t_end * np.arange(nt) / nt, "x": np.linspace(-1.0, 1.0, nx)}

    def initial_condition(self, x: Any) -> dict[str, Any]:
        xp = array_module(x)
        return {"u": -xp.sin(np.pi * x)}

    def residual(self, d: Derivatives) -> dict[str, Any]:
        return {"u": d["u_t"] + d["u"] * d["u_x"] - self.nu * d["u_xx"]}

    def exact_solution(self, t: np.ndarray, x: np.ndarray) -> dict[str, np.ndarray]:
        return {"u": cole_hopf_burgers(t, x, self.nu)}
