"""2D incompressible Navier-Stokes in vorticity form, optionally Kolmogorov-forced.

    w_t + u . grad w = nu Lap w - drag w + f,   Lap psi = -w,   u = (psi_y, -psi_x),

periodic on [0, 2 pi)^2.  Kolmogorov forcing: the body force (amplitude sin(k_f y), 0),
whose curl is f = -amplitude k_f cos(k_f y) (Kochkov et al. 2021: amplitude 1, k_f = 4,
drag 0.1, nu = 1e-3, i.e. Re = 1000; the flow of McCabe et al. 2023).

Initial conditions: ``taylor-green`` w0 = 2 sin x sin y, an exact solution decaying as
exp(-(2 nu + drag) t) when unforced (``exact_solution``); ``random``: a smooth random field,
sum over 1 <= |k| <= 4 of N(0, 1) / |k| amplitudes with uniform phases from ``seed``.
Pseudo-spectral split: L = -nu k^2 - drag, N = -(u w_x + v w_y) + f.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from ..errors import ConfigError
from ..registry import register_pde
from .base import PDE, Domain, array_module


@register_pde()
@dataclass
class NavierStokes2D(PDE):
    """Vorticity-form Navier-Stokes on [0, 2 pi)^2 with optional Kolmogorov forcing and drag."""

    name: ClassVar[str] = "navier-stokes-2d"
    fields: ClassVar[tuple[str, ...]] = ("w",)
    description: ClassVar[str] = "2D incompressible Navier-Stokes, vorticity form, periodic, Kolmogorov forcing"
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "taylor-green": {"nu": 1e-2, "forcing": 0.0, "drag": 0.0, "initial": "taylor-green", "n": 64},
        "kolmogorov": {"nu": 1e-3, "forcing": 1.0, "k_forcing": 4, "drag": 0.1, "initial": "random",
                       "n": 256, "t_end": 20.0},
    }
    spectral_dt: ClassVar[float] = 5e-3

    nu: float = 1e-3
    forcing: float = 1.0
    k_forcing: int = 4
    drag: float = 0.1
    initial: Literal["random", "taylor-green"] = "random"
    seed: int = 0
    n: int = 128
    frames: int = 101
    t_end: float = 10.0

    def validate(self) -> None:
        if not self.nu > 0:
            raise ConfigError(f"pde.nu must be positive, got {self.nu}")
        if self.drag < 0:
            raise ConfigError(f"pde.drag must be non-negative, got {self.drag}")
        if self.n < 4 or self.frames < 2:
            raise ConfigError("pde.n must be at least 4 and pde.frames at least 2")

    def domain(self) -> Domain:
        two_pi = 2 * np.pi
        return Domain(bounds={"y": (0.0, two_pi), "x": (0.0, two_pi)}, t=(0.0, self.t_end), periodic=("y", "x"))

    def reference_grid(self) -> dict[str, np.ndarray]:
        pts = 2 * np.pi * np.arange(self.n) / self.n
        return {"t": np.linspace(0.0, self.t_end, self.frames), "y": pts, "x": pts.copy()}

    def initial_condition(self, y: Any, x: Any) -> dict[str, Any]:
        xp = array_module(x)
        if self.initial == "taylor-green":
            return {"w": 2 * xp.sin(x) * xp.sin(y)}
        rng = np.random.default_rng(self.seed)
        w = 0 * x + 0 * y
        for kx in range(-4, 5):
            for ky in range(5):
                kk = np.hypot(kx, ky)
                if 1 <= kk <= 4 and (ky > 0 or kx > 0):
                    amp, phase = rng.standard_normal() / kk, rng.uniform(0, 2 * np.pi)
                    w = w + amp * xp.cos(kx * x + ky * y + phase)
        return {"w": w}

    def exact_solution(self, t: np.ndarray, y: np.ndarray, x: np.ndarray) -> dict[str, np.ndarray] | None:
        if self.initial != "taylor-green" or self.forcing != 0:
            return None
        decay = np.exp(-(2 * self.nu + self.drag) * np.asarray(t))
        return {"w": decay[:, None, None] * (2 * np.sin(x)[None, None, :] * np.sin(y)[None, :, None])}

    def spectral_linear(self, k: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"w": -self.nu * (k["x"] ** 2 + k["y"] ** 2) - self.drag}

    def spectral_nonlinear(self, w_hat: Any, ops: Any) -> Any:
        k2 = ops.k["x"] ** 2 + ops.k["y"] ** 2
        k2 = k2 + (k2 == 0)  # psi has no mean: w_hat[0, 0] / 1 is multiplied by ik = 0 below
        w = w_hat[:, 0]
        psi = w / k2
        parts = ops.ifft(ops.xp.stack([ops.ik["y"] * psi, -ops.ik["x"] * psi, ops.ik["x"] * w, ops.ik["y"] * w], 1))
        adv = -(parts[:, 0] * parts[:, 2] + parts[:, 1] * parts[:, 3])
        out = ops.fft(adv)[:, None]
        if self.forcing:  # rfft of -A k_f cos(k_f y): modes (+-k_f, 0), each -A k_f n_y n_x / 2
            at_kf = (abs(ops.k["x"]) < 0.5) * (abs(abs(ops.k["y"]) - self.k_forcing) < 0.5)
            out = out + (-0.5 * self.forcing * self.k_forcing * np.prod(ops.shape)) * at_kf
        return out
