"""Gray-Scott reaction-diffusion in 2D (Pearson, "Complex patterns in a simple system", Science 1993).

    u_t = Du Lap u - u v^2 + F (1 - u),
    v_t = Dv Lap v + u v^2 - (F + k) v,

periodic on [0, length)^2.  Initial condition as in Pearson: u = 1, v = 0, except a central
square of side ``length / 12.5`` where u = 1/2, v = 1/4, all perturbed by +-1 % uniform noise
drawn from ``seed`` at each grid point.  Presets name classic (F, k) pairs.
Pseudo-spectral split: L = (-Du k^2 - F, -Dv k^2 - F - k), N = (-u v^2 + F, u v^2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..errors import ConfigError
from ..registry import register_pde
from .base import PDE, Derivatives, Domain


@register_pde()
@dataclass
class GrayScott(PDE):
    """Gray-Scott (u, v) on [0, length)^2, Pearson's perturbed-square initial condition."""

    name: ClassVar[str] = "gray-scott"
    fields: ClassVar[tuple[str, ...]] = ("u", "v")
    description: ClassVar[str] = "Gray-Scott reaction-diffusion 2D (Pearson 1993), periodic"
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "pearson": {"F": 0.04, "k": 0.06},
        "mitosis": {"F": 0.0367, "k": 0.0649},
        "coral": {"F": 0.0545, "k": 0.062},
    }
    spectral_dt: ClassVar[float] = 0.5

    Du: float = 2e-5
    Dv: float = 1e-5
    F: float = 0.04
    k: float = 0.06
    length: float = 2.5
    n: int = 128
    frames: int = 101
    seed: int = 0
    t_end: float = 5000.0

    def validate(self) -> None:
        for key in ("Du", "Dv", "length", "t_end"):
            if not getattr(self, key) > 0:
                raise ConfigError(f"pde.{key} must be positive, got {getattr(self, key)}")
        if self.n < 4 or self.frames < 2:
            raise ConfigError("pde.n must be at least 4 and pde.frames at least 2")

    def domain(self) -> Domain:
        return Domain(bounds={"y": (0.0, self.length), "x": (0.0, self.length)}, t=(0.0, self.t_end),
                      periodic=("y", "x"))

    def reference_grid(self) -> dict[str, np.ndarray]:
        pts = self.length * np.arange(self.n) / self.n
        return {"t": np.linspace(0.0, self.t_end, self.frames), "y": pts, "x": pts.copy()}

    def initial_condition(self, y: Any, x: Any) -> dict[str, Any]:
        y, x = np.broadcast_arrays(np.asarray(y, dtype=float), np.asarray(x, dtype=float))
        half = self.length / 25
        centre = (np.abs(x - self.length / 2) <= half) & (np.abs(y - self.length / 2) <= half)
        noise = np.random.default_rng(self.seed).uniform(-0.01, 0.01, size=(2, *x.shape))
        u = np.where(centre, 0.5, 1.0) * (1 + noise[0])
        v = np.where(centre, 0.25, 0.0) * (1 + noise[1])
        return {"u": u, "v": v}

    def residual(self, d: Derivatives) -> dict[str, Any]:
        u, v = d["u"], d["v"]
        uv2 = u * v * v
        return {"u": d["u_t"] - self.Du * (d["u_xx"] + d["u_yy"]) + uv2 - self.F * (1 - u),
                "v": d["v_t"] - self.Dv * (d["v_xx"] + d["v_yy"]) - uv2 + (self.F + self.k) * v}

    def spectral_linear(self, k: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        k2 = k["x"] ** 2 + k["y"] ** 2
        return {"u": -self.Du * k2 - self.F, "v": -self.Dv * k2 - (self.F + self.k)}

    def spectral_nonlinear(self, u_hat: Any, ops: Any) -> Any:
        w = ops.ifft(u_hat)
        uv2 = w[:, 0] * w[:, 1] ** 2
        return ops.fft(ops.xp.stack([self.F - uv2, uv2], 1))
