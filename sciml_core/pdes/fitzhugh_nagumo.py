"""FitzHugh-Nagumo reaction-diffusion in 2D, the PDEBench 2D diffusion-reaction system.

    u_t = Du Lap u + u - u^3 - k - v,
    v_t = Dv Lap v + u - v,

with Du = 1e-3, Dv = 5e-3, k = 5e-3 on [-1, 1)^2 and t in [0, 5] (Takamoto et al.,
PDEBench, NeurIPS 2022).  PDEBench uses no-flux walls; this catalogue entry is the periodic
variant (pseudo-spectral).  Initial condition: standard normal noise at each grid point from
``seed`` (as PDEBench).  Pseudo-spectral split: L = (-Du k^2, -1 - Dv k^2), N = (u - u^3 - k - v, u)
(growth terms stay in N: see the note in :mod:`.reaction_diffusion`).
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
class FitzHughNagumo(PDE):
    """FitzHugh-Nagumo (u, v) on [-1, 1)^2, periodic, N(0, 1) noise initial condition."""

    name: ClassVar[str] = "fitzhugh-nagumo"
    fields: ClassVar[tuple[str, ...]] = ("u", "v")
    description: ClassVar[str] = "FitzHugh-Nagumo reaction-diffusion 2D (PDEBench parameters), periodic"
    presets: ClassVar[dict[str, dict[str, Any]]] = {"pdebench": {}}
    spectral_dt: ClassVar[float] = 5e-3

    Du: float = 1e-3
    Dv: float = 5e-3
    k: float = 5e-3
    n: int = 128
    frames: int = 101
    seed: int = 0
    t_end: float = 5.0

    def validate(self) -> None:
        for key in ("Du", "Dv", "t_end"):
            if not getattr(self, key) > 0:
                raise ConfigError(f"pde.{key} must be positive, got {getattr(self, key)}")
        if self.n < 4 or self.frames < 2:
            raise ConfigError("pde.n must be at least 4 and pde.frames at least 2")

    def domain(self) -> Domain:
        return Domain(bounds={"y": (-1.0, 1.0), "x": (-1.0, 1.0)}, t=(0.0, self.t_end), periodic=("y", "x"))

    def reference_grid(self) -> dict[str, np.ndarray]:
        pts = -1.0 + 2.0 * np.arange(self.n) / self.n
        return {"t": np.linspace(0.0, self.t_end, self.frames), "y": pts, "x": pts.copy()}

    def initial_condition(self, y: Any, x: Any) -> dict[str, Any]:
        shape = np.broadcast_shapes(np.shape(y), np.shape(x))
        noise = np.random.default_rng(self.seed).standard_normal((2, *shape))
        return {"u": noise[0], "v": noise[1]}

    def residual(self, d: Derivatives) -> dict[str, Any]:
        u, v = d["u"], d["v"]
        return {"u": d["u_t"] - self.Du * (d["u_xx"] + d["u_yy"]) - u + u**3 + self.k + v,
                "v": d["v_t"] - self.Dv * (d["v_xx"] + d["v_yy"]) - u + v}

    def spectral_linear(self, k: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        k2 = k["x"] ** 2 + k["y"] ** 2
        return {"u": -self.Du * k2, "v": -1.0 - self.Dv * k2}

    def spectral_nonlinear(self, u_hat: Any, ops: Any) -> Any:
        w = ops.ifft(u_hat)
        u, v = w[:, 0], w[:, 1]
        return ops.fft(ops.xp.stack([u - u**3 - self.k - v, u], 1))
