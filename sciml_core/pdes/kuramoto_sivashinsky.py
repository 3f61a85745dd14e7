"""Kuramoto-Sivashinsky equation in 1D, both forms used by causal-PINN benchmarks.

    u_t + alpha u u_x + beta u_xx + gamma u_xxxx = 0,   periodic on [x_min, x_max).

* default (``regular`` preset): alpha = 5, beta = 0.5, gamma = 0.005 on [-1, 1],
  u0 = -sin(pi x), t in [0, 1] (Wang, Sankaran & Perdikaris 2022);
* ``chaotic`` preset: alpha = 100/16, beta = 100/16^2, gamma = 100/16^4 on [0, 2 pi],
  u0 = cos(x) (1 + sin(x)), t in [0, 1] (the Kassam-Trefethen example rescaled from
  [0, 32 pi] to [0, 2 pi] and t to [0, 1]).

One class with an ``initial`` switch rather than two registered names: the chaotic form is
``get_pde("kuramoto-sivashinsky").from_params(preset="chaotic")`` or ``--preset chaotic``.
Pseudo-spectral split: L = beta k^2 - gamma k^4, N = -(alpha / 2) (u^2)_x.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from ..errors import ConfigError
from ..registry import register_pde
from .base import PDE, Derivatives, Domain, array_module


@register_pde()
@dataclass
class KuramotoSivashinsky(PDE):
    """KS 1D, periodic; ``initial`` is ``"-sin(pi x)"`` (regular) or ``"cos(x)(1+sin(x))"`` (chaotic)."""

    name: ClassVar[str] = "kuramoto-sivashinsky"
    description: ClassVar[str] = "Kuramoto-Sivashinsky 1D, u_t + a u u_x + b u_xx + g u_xxxx = 0, periodic"
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "regular": {},
        "chaotic": {"alpha": 100 / 16, "beta": 100 / 16**2, "gamma": 100 / 16**4, "x_min": 0.0,
                    "x_max": 2 * np.pi, "initial": "cos(x)(1+sin(x))"},
    }
    reference_shape: ClassVar[dict[str, int]] = {"t": 101, "x": 512}
    spectral_dt: ClassVar[float] = 1e-4

    alpha: float = 5.0
    beta: float = 0.5
    gamma: float = 0.005
    x_min: float = -1.0
    x_max: float = 1.0
    initial: Literal["-sin(pi x)", "cos(x)(1+sin(x))"] = "-sin(pi x)"
    t_end: float = 1.0

    def validate(self) -> None:
        if not self.gamma > 0:
            raise ConfigError(f"pde.gamma must be positive, got {self.gamma}")
        if not self.x_max > self.x_min:
            raise ConfigError(f"pde.x_max must exceed pde.x_min, got [{self.x_min}, {self.x_max}]")
        if not self.t_end > 0:
            raise ConfigError(f"pde.t_end must be positive, got {self.t_end}")

    def domain(self) -> Domain:
        return Domain(bounds={"x": (self.x_min, self.x_max)}, t=(0.0, self.t_end), periodic=("x",))

    def initial_condition(self, x: Any) -> dict[str, Any]:
        xp = array_module(x)
        if self.initial == "-sin(pi x)":
            return {"u": -xp.sin(np.pi * x)}
        return {"u": xp.cos(x) * (1 + xp.sin(x))}

    def residual(self, d: Derivatives) -> dict[str, Any]:
        return {"u": d["u_t"] + self.alpha * d["u"] * d["u_x"] + self.beta * d["u_xx"] + self.gamma * d["u_xxxx"]}

    def spectral_linear(self, k: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        k2 = k["x"] ** 2
        return {"u": self.beta * k2 - self.gamma * k2 * k2}

    def spectral_nonlinear(self, u_hat: Any, ops: Any) -> Any:
        u = ops.ifft(u_hat)
        return (-0.5 * self.alpha) * ops.ik["x"] * ops.fft(u * u)
