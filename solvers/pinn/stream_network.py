"""The hard-boundary network of ``hard-bc-pinn``: a stream function and a pressure,

    psi(x, y) = g0(x, y) + psi_c g1(x, y) + phi(x, y)^2 S_psi N_psi(x, y),   p = S_p N_p(x, y),

with (g0, g1) the case's stream-function lift and phi its distance function
(:class:`sciml_core.pdes.incompressible.SteadyIncompressibleFlow`), N one network with two
outputs (an MLP or modified MLP from :mod:`sciml_core.nn`, optionally on Fourier features),
S_psi = U L and S_p = U^2 the case's scales, and psi_c a trained constant where the geometry
has an island (the cylinder).  Because phi^2 vanishes to second order on every Dirichlet
segment, psi and its normal derivative there are the lift's: u = psi_y and v = -psi_x meet
the boundary velocity exactly, and the velocity is divergence free everywhere.

``jet`` gives psi and p as Taylor jets along the four polarization directions of
:mod:`.polarization` (the lift and distance factors' jets computed once per point set by
reverse mode, the network's by the jet engine), for residuals with third derivatives of psi;
``forward`` gives plain values (reverse mode differentiates it), and ``probe`` evaluates the
flow and its velocity gradients at any points.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from sciml_core.nn import AutogradDerivatives, Jet
from sciml_core.pdes.incompressible import Probe, SteadyIncompressibleFlow

from .backbone import trunk
from .network import ModelConfig
from .polarization import fixed_jets, plane_jet

Scaling = Literal["box", "isotropic"]


class StreamFunctionNetwork(nn.Module):
    """psi and p on (x, y) with the velocity boundary conditions built in (module docstring).

    ``scaling``: ``box`` maps each coordinate of the bounding box onto [-1, 1]; ``isotropic``
    divides both by the same half-length (the longer side's), keeping circles circular."""

    fields = ("psi", "p")

    def __init__(self, pde: SteadyIncompressibleFlow, model: ModelConfig, scaling: Scaling = "box") -> None:
        super().__init__()
        self.pde = pde
        length, height = pde.size()
        half = (length / 2, height / 2) if scaling == "box" else (max(length, height) / 2,) * 2
        self.register_buffer("input_weight", torch.diag(torch.tensor([1 / half[0], 1 / half[1]], dtype=torch.float64)),
                             persistent=False)
        self.register_buffer("input_shift", torch.tensor([-length / 2 / half[0], -height / 2 / half[1]],
                                                         dtype=torch.float64), persistent=False)
        self.embed, self.backbone = trunk([], 2, 2, model)
        self.psi_scale = pde.velocity_scale * pde.length_scale
        self.p_scale = pde.velocity_scale**2
        if pde.has_island:
            self.island = nn.Parameter(torch.tensor(pde.island_guess() / self.psi_scale))

        self._fixed: tuple[torch.Tensor, int, list[Jet]] | None = None

    def _factors(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(g0, g1, phi^2) of the case at the points."""
        g0, g1 = self.pde.stream_lift(x, y)
        return g0, g1 + 0 * x, self.pde.distance(x, y) ** 2

    def _assemble(self, n_psi: Any, n_p: Any, g0: Any, g1: Any, phi2: Any) -> dict[str, Any]:
        """The output transform, shared by tensors and jets."""
        psi = g0 + phi2 * (n_psi * self.psi_scale)
        if self.pde.has_island:
            psi = psi + g1 * (self.island * self.psi_scale)
        return {"psi": psi, "p": n_p * self.p_scale}

    def forward(self, coords: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        x, y = coords["x"], coords["y"]
        h = nn.functional.linear(torch.cat([x, y], dim=-1), self.input_weight.to(x.dtype), self.input_shift.to(x.dtype))
        for layer in self.embed:
            h = layer(h)
        out = self.backbone(h)
        return self._assemble(out[:, :1], out[:, 1:2], *self._factors(x, y))

    def jet(self, coords: Mapping[str, torch.Tensor], order: int = 3) -> dict[str, Jet]:
        """psi and p as jets along the polarization directions (``coords["x"]`` of shape (n, 1));
        the fixed factors' jets are cached for the last point set."""
        x, y = coords["x"], coords["y"]
        if self._fixed is None or self._fixed[0] is not x or self._fixed[1] != order:
            self._fixed = (x, order, fixed_jets(self._factors, x, y, order))
        j = plane_jet(x, y, order).linear(self.input_weight.to(x.dtype), self.input_shift.to(x.dtype))
        for layer in self.embed:
            j = layer.jet(j)
        out = self.backbone.jet(j)
        return self._assemble(out.narrow(0, 1), out.narrow(1, 1), *self._fixed[2])


def flow_quantities(d: AutogradDerivatives) -> dict[str, torch.Tensor]:
    """Velocity, pressure and velocity gradients from the stream function's derivatives."""
    return {"psi": d["psi"], "u": d["psi_y"], "v": -d["psi_x"], "p": d["p"], "u_x": d["psi_xy"], "u_y": d["psi_yy"],
            "v_x": -d["psi_xx"], "v_y": -d["psi_xy"]}


def probe(network: StreamFunctionNetwork, dtype: torch.dtype, device: torch.device, chunk: int = 8192) -> Probe:
    """(x, y) arrays -> the flow quantities there, as float64 numpy arrays."""

    def evaluate(x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
        x, y = np.asarray(x, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
        parts: list[dict[str, np.ndarray]] = []
        with torch.enable_grad():
            for i in range(0, x.size, chunk):
                coords = {"x": torch.as_tensor(x[i : i + chunk, None], dtype=dtype, device=device),
                          "y": torch.as_tensor(y[i : i + chunk, None], dtype=dtype, device=device)}
                values = flow_quantities(AutogradDerivatives(network, coords))
                parts.append({k: v.detach().cpu().double().numpy().ravel() for k, v in values.items()})
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    return evaluate
