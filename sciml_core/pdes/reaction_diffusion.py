"""Lambda-omega reaction-diffusion system in 2D: spiral waves, their break-up and decay.

    u_t = d1 Lap u + (1 - A^2) u + beta A^2 v,
    v_t = d2 Lap v - beta A^2 u + (1 - A^2) v,        A^2 = u^2 + v^2,

on the periodic box [-L/2, L/2)^2 (lambda(A) = 1 - A^2, omega(A) = -beta A^2; Kopell &
Howard 1973, Ermentrout & Rinzel's lambda-omega normal form; regimes as in the rd-spiral
reference code).  Initial condition: an m-armed spiral

    u0 = tanh(r) cos(m theta - r),   v0 = tanh(r) sin(m theta - r),

which is not periodic at the box edge, so solutions converge only algebraically in n.

Presets (``--preset``): ``stable-spiral`` (d1 = d2 = 0.1, beta = 1, L = 20, n = 128,
t_end = 200, m = 1), ``turbulent`` (d1 = 0.03, d2 = 0.2, beta = 0.65, L = 50, n = 256,
t_end = 500, m = 4), ``decay`` (d1 = d2 = 0.5, beta = 1, L = 10, n = 64, t_end = 100, m = 1).
Pseudo-spectral split: L = -d k^2 per field, N = (1 - A^2)(u, v) + beta A^2 (v, -u) (with
the growth term u in L instead, ETDRK4 and IF-RK went unstable in the turbulent regime near
t = 75, while RK45 on the same semi-discrete system did not); when
d1 = d2 = d the solvers use the complex form z = u + i v with L = -d k^2 - i beta and
N = (1 + i beta)(1 - |z|^2) z, which puts the rotation of the limit cycle into the exact
linear part (about ten times smaller time error at the same step).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..errors import ConfigError
from ..registry import register_pde
from .base import PDE, Derivatives, Domain, array_module


def spiral_initial_condition(x: Any, y: Any, m: int = 1, x0: float = 0.0, y0: float = 0.0,
                             phase: float = 0.0) -> dict[str, Any]:
    """m-armed spiral centred at (x0, y0), rotated by ``phase``: ``{"u": ..., "v": ...}``."""
    xp = array_module(x)
    dx, dy = x - x0, y - y0
    r = xp.sqrt(dx**2 + dy**2)
    theta = xp.arctan2(dy, dx) if xp is np else xp.atan2(dy, dx)
    arg = m * theta - r + phase
    return {"u": xp.tanh(r) * xp.cos(arg), "v": xp.tanh(r) * xp.sin(arg)}


@register_pde()
@dataclass
class ReactionDiffusion(PDE):
    """Lambda-omega reaction-diffusion (u, v) on [-L/2, L/2)^2, spiral initial condition."""

    name: ClassVar[str] = "reaction-diffusion"
    fields: ClassVar[tuple[str, ...]] = ("u", "v")
    description: ClassVar[str] = "lambda-omega reaction-diffusion 2D (spiral waves), periodic"
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "stable-spiral": {"d1": 0.1, "d2": 0.1, "beta": 1.0, "length": 20.0, "n": 128, "t_end": 200.0, "m": 1},
        "turbulent": {"d1": 0.03, "d2": 0.2, "beta": 0.65, "length": 50.0, "n": 256, "t_end": 500.0, "m": 4},
        "decay": {"d1": 0.5, "d2": 0.5, "beta": 1.0, "length": 10.0, "n": 64, "t_end": 100.0, "m": 1},
    }

    d1: float = 0.1
    d2: float = 0.1
    beta: float = 1.0
    length: float = 20.0
    n: int = 128
    m: int = 1
    frames: int = 101
    t_end: float = 200.0

    spectral_dt: ClassVar[float] = 0.05

    def validate(self) -> None:
        for key in ("d1", "d2", "length", "t_end"):
            if not getattr(self, key) > 0:
                raise ConfigError(f"pde.{key} must be positive, got {getattr(self, key)}")
        if self.n < 4:
            raise ConfigError(f"pde.n must be at least 4, got {self.n}")
        if self.frames < 2:
            raise ConfigError(f"pde.frames must be at least 2, got {self.frames}")

    def domain(self) -> Domain:
        half = self.length / 2
        return Domain(bounds={"y": (-half, half), "x": (-half, half)}, t=(0.0, self.t_end), periodic=("y", "x"))

    def reference_grid(self) -> dict[str, np.ndarray]:
        """``frames`` times in [0, t_end] and ``n`` periodic points per dim."""
        pts = -self.length / 2 + self.length * np.arange(self.n) / self.n
        return {"t": np.linspace(0.0, self.t_end, self.frames), "y": pts, "x": pts.copy()}

    def initial_condition(self, y: Any, x: Any) -> dict[str, Any]:
        return spiral_initial_condition(x, y, self.m)

    def residual(self, d: Derivatives) -> dict[str, Any]:
        u, v = d["u"], d["v"]
        a2 = u**2 + v**2
        return {
            "u": d["u_t"] - self.d1 * (d["u_xx"] + d["u_yy"]) - (1 - a2) * u - self.beta * a2 * v,
            "v": d["v_t"] - self.d2 * (d["v_xx"] + d["v_yy"]) + self.beta * a2 * u - (1 - a2) * v,
        }

    def spectral_complex_pair(self) -> tuple[str, str] | None:
        """With d1 = d2, z = u + i v obeys z_t = d Lap z + z - (1 + i beta) |z|^2 z."""
        return ("u", "v") if self.d1 == self.d2 else None

    def spectral_linear(self, k: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        k2 = k["x"] ** 2 + k["y"] ** 2
        # complex form: the rotation of the limit cycle |z| = 1 is linear, N = (1 + i beta)(1 - |z|^2) z
        return {"u": -self.d1 * k2, "v": -self.d2 * k2, "u+iv": -self.d1 * k2 - 1j * self.beta}

    def spectral_nonlinear(self, u_hat: Any, ops: Any) -> Any:
        if ops.complex_pair is not None:
            z = ops.ifft(u_hat)
            # -(1 + i beta)(|z|^2 - 1) z in four in-place complex passes (|z|^2 as z conj(z):
            # complex-by-complex products vectorize, real-by-complex ones do not)
            gain = z * z.conj()
            gain -= 1.0
            gain *= -(1 + 1j * self.beta)
            gain *= z
            return ops.fft(gain)
        w = ops.ifft(u_hat)
        u, v = w[:, 0], w[:, 1]
        a2 = u * u + v * v
        ba2 = self.beta * a2
        return ops.fft(ops.xp.stack([(1 - a2) * u + ba2 * v, (1 - a2) * v - ba2 * u], 1))
