"""The Lagrangian frame of ``lagrangian-pinn``: the two-branch network, the chain rule that
writes diffusion along the moving coordinate, and the map back onto the Eulerian grid.

Labels X (a characteristic's starting point x0) and time t are the inputs; two branches give

    x(X, t) = X + t U N_x(t, X)        the characteristic, dx/dt = a(u, x), x(X, 0) = X
    u(X, t) = u0(X) + t N_u(t, X)      the state carried along it, du/dt = nu u_xx

(``hard_initial``: both initial conditions exact; U = max |a(u0, x0)|, so N_x is O(1) whatever
the speed).  Each branch sees [2 t / T - 1, cos(k X), sin(k X)]_{k <= K} (an exact periodic
embedding: x - X and u are periodic in X) and is an MLP or modified MLP from
:mod:`sciml_core.nn`.  Names follow continuum mechanics: coordinate ``X`` (the label) and
field ``x`` (the position), so the derivative engines read ``x_t``, ``x_X``, ``u_XX``.

Chain rule: with d/dx = (1 / x_X) d/dX along a time slice,

    u_xx = (u_XX x_X - u_X x_XX) / x_X^3.

Eulerian evaluation inverts x(., t) for every grid point (monotone interpolation of sampled
labels, then Newton steps on the network itself) and reads u there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from sciml_core.errors import ConfigError
from sciml_core.nn import Jet, PeriodicEmbedding, input_jet
from sciml_core.pdes.base import PDE

from .backbone import trunk
from .network import ModelConfig, pde_initial_jets

DIMS = ("t", "X")
FIELDS = ("x", "u")


def _uxx_times_x_X_cubed(d: Any) -> Any:
    """x_X^3 u_xx = u_XX x_X - u_X x_XX (no pole where the map folds)."""
    return d["u_XX"] * d["x_X"] - d["u_X"] * d["x_XX"]


def eulerian_uxx(d: Any) -> Any:
    """u_xx on the Eulerian grid from Lagrangian derivatives (module docstring)."""
    return _uxx_times_x_X_cubed(d) / d["x_X"] ** 3


def lagrangian_residuals(pde: PDE, d: Any, cleared: bool = False) -> dict[str, Any]:
    """r_x = x_t - a(u, x) and r_u = u_t - nu u_xx (u_xx by the chain rule).

    ``cleared``: r_u multiplied through by x_X^3, x_X^3 u_t - nu (u_XX x_X - u_X x_XX), which has
    no pole where the sampled map folds (x_X <= 0); the same zeros wherever x_X > 0.
    """
    nu = pde.diffusivity
    if not nu:
        r_u = d["u_t"]
    elif cleared:
        r_u = d["x_X"] ** 3 * d["u_t"] - nu * _uxx_times_x_X_cubed(d)
    else:
        r_u = d["u_t"] - nu * eulerian_uxx(d)
    return {"x": d["x_t"] - pde.characteristic_speed(d["u"], d["x"]), "u": r_u}


def speed_scale(pde: PDE, n: int = 256) -> float:
    """U = max over the labels of |a(u0(X), X)| (1 where the flow is at rest)."""
    lo, hi = pde.domain().bounds["x"]
    x = lo + (hi - lo) * np.arange(n) / n
    u0 = np.asarray(pde.initial_condition(x=x)["u"])
    scale = float(np.max(np.abs(np.asarray(pde.characteristic_speed(u0, x)) + 0 * x)))
    return scale if scale > 0 else 1.0


class LagrangianBranch(nn.Module):
    """One branch: (t, X) -> [2 t / T - 1, cos(k X), sin(k X)] (-> Fourier features) -> net -> 1."""

    def __init__(self, t_end: float, period: float, model: ModelConfig) -> None:
        super().__init__()
        self.register_buffer("input_weight", torch.diag(torch.tensor([2.0 / t_end, 1.0], dtype=torch.float64)),
                             persistent=False)
        self.register_buffer("input_shift", torch.tensor([-1.0, 0.0], dtype=torch.float64), persistent=False)
        self.embed, self.backbone = trunk([PeriodicEmbedding(2, [1], [period], model.periodic_modes)], 2, 1, model)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        x = nn.functional.linear(inputs, self.input_weight.to(inputs.dtype), self.input_shift.to(inputs.dtype))
        for layer in self.embed:
            x = layer(x)
        return self.backbone(x)

    def jet(self, j: Jet) -> Jet:
        dtype = j.value.dtype
        j = j.linear(self.input_weight.to(dtype), self.input_shift.to(dtype))
        for layer in self.embed:
            j = layer.jet(j)
        return self.backbone.jet(j)


class LagrangianNetwork(nn.Module):
    """Characteristic and state branches on (t, X), with exact or penalised initial conditions."""

    dims = DIMS
    fields = FIELDS

    def __init__(self, pde: PDE, model: ModelConfig, hard_initial: bool = True) -> None:
        super().__init__()
        dom = pde.domain()
        if dom.dims != ("x",) or dom.periodic != ("x",):
            raise ConfigError(f"lagrangian-pinn needs a 1D periodic PDE, {pde.name!r} has dims {dom.dims} "
                              f"(periodic: {dom.periodic})")
        if model.periodic_modes < 1:
            raise ConfigError("lagrangian-pinn needs model.periodic_modes >= 1 (the label X is periodic)")
        self.lo, hi = dom.bounds["x"]
        self.period = hi - self.lo
        self.t_end = dom.t[1]
        self.hard_initial = hard_initial
        self.speed = speed_scale(pde)
        self.characteristic = LagrangianBranch(self.t_end, self.period, model)
        self.state = LagrangianBranch(self.t_end, self.period, model)
        self._u0 = pde_initial_jets(pde)

    def _assemble(self, t: Any, X: Any, n_x: Any, n_u: Any, u0: Any) -> dict[str, Any]:
        """The output transform, shared by tensors and jets."""
        if self.hard_initial:
            return {"x": X + t * n_x * self.speed, "u": u0 + t * n_u}
        return {"x": X + n_x * (self.speed * self.t_end), "u": n_u}

    def jet(self, coords: Mapping[str, torch.Tensor], orders: Mapping[str, int]) -> dict[str, Jet]:
        """Both fields as jets carrying ``orders[c]`` pure derivatives in t and X."""
        inputs = input_jet(coords, list(DIMS), orders)
        u0 = self._u0({"x": coords["X"]}, {"x": orders.get("X", 0)})["u"]
        u0 = Jet.from_parts(u0.value, {"X": u0.derivs.get("x", [])}, inputs.layout)
        return self._assemble(inputs.narrow(0, 1), inputs.narrow(1, 1), self.characteristic.jet(inputs),
                              self.state.jet(inputs), u0)

    def forward(self, coords: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        inputs = torch.cat([coords["t"], coords["X"]], dim=-1)
        u0 = self._u0({"x": coords["X"]}, {})["u"].value
        return self._assemble(coords["t"], coords["X"], self.characteristic(inputs), self.state(inputs), u0)


PositionFn = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def network_position(network: LagrangianNetwork) -> PositionFn:
    """(t, X) -> (x, x_X) of a trained network, by a first-order jet."""

    def position(t: torch.Tensor, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            jet = network.jet({"t": t, "X": X}, {"X": 1})["x"]
        return jet.value, jet.derivs["X"][0]

    return position


def invert_characteristics(position: PositionFn, t: np.ndarray, x: np.ndarray, lo: float, period: float,
                           dtype: torch.dtype = torch.float64, device: torch.device | str = "cpu",
                           n_labels: int = 1024, newton_steps: int = 6) -> tuple[np.ndarray, dict[str, float]]:
    """Labels X (nt, nx) with x(X, t_i) = x_j modulo the period, for a monotone periodic flow map.

    Per time, the map sampled at ``n_labels`` labels gives the first guess by monotone
    interpolation; Newton steps X <- X - (x(X) - x*) / x_X then solve on ``position`` itself.
    Returns the labels and diagnostics: ``map_residual`` (max |x(X) - x*|) and
    ``crossed_rows`` (times whose sampled map is not monotone: characteristics crossed).
    """
    t, x = np.asarray(t, dtype=np.float64), np.asarray(x, dtype=np.float64)
    labels = lo + period * np.arange(n_labels) / n_labels

    def tensor(a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(a.reshape(-1, 1), dtype=dtype, device=device)

    tt, ll = np.meshgrid(t, labels, indexing="ij")
    sampled = position(tensor(tt), tensor(ll))[0].cpu().double().numpy().reshape(tt.shape)
    guess, targets, crossed = np.empty((t.size, x.size)), np.empty((t.size, x.size)), 0
    for i, s in enumerate(sampled):
        closed = np.append(s, s[0] + period)
        crossed += int(np.any(np.diff(closed) <= 0))
        targets[i] = s[0] + np.mod(x - s[0], period)  # the copy of x in [s_0, s_0 + period)
        guess[i] = np.interp(targets[i], closed, np.append(labels, lo + period))
    t_col = tensor(np.broadcast_to(t[:, None], guess.shape).copy())
    X, target = tensor(guess), tensor(targets)
    for _ in range(newton_steps):
        value, slope = position(t_col, X)
        X = X - (value - target) / slope
    residual = float((position(t_col, X)[0] - target).abs().max())
    return X.cpu().double().numpy().reshape(guess.shape), {"map_residual": residual, "crossed_rows": crossed}
