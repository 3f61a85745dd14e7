"""Hard-constraint experts for 2D incompressible Navier-Stokes in vorticity form.

    w_t + u w_x + v w_y = nu Lap w - drag w + f,   Lap psi = -w,   (u, v) = (psi_y, -psi_x),

periodic on [0, 2 pi)^2 (``navier-stokes-2d``), after Chalapathi, Du & Krishnapriyan,
"Scaling physics-informed hard constraints with mixture-of-experts" (ICLR 2024).  A 3D FNO
on (t, y, x) maps the initial vorticity (broadcast over t) to N basis functions b; the
normalised vorticity is w_n = b . c, w = m + s w_n with the data's mean m and std s.

Derivatives of the basis: x and y spectrally (FFT, the Nyquist mode dropped from first
derivatives), t by the finite differences of :func:`.constraint.time_derivative`.  Each basis
function's velocity comes from psi_hat = b_hat / |k|^2 (the k = 0 mode zero): bu = psi_y,
bv = -psi_x.  Velocity is linear in c, so the residual (divided by s) is quadratic in c,

    r = b_t.c + s [(bu.c)(bx.c) + (bv.c)(by.c)] - nu blap.c + drag b.c - g,   g = (f - drag m) / s,

with the closed-form Jacobian

    dr/dc = b_t + s [(bx.c) bu + (bu.c) bx + (by.c) bv + (bv.c) by] - nu blap + drag b.

Experts: K = k x k equal blocks in (y, x).  Expert k solves

    c_k = argmin 1/2 ||[r / sqrt(M), ic_weight (b(0) . c - w_n(0)) / sqrt(M_ic)]||^2 + 1/2 ridge ||c||^2

with r at M sampled nodes of its block and the initial condition on the whole t = 0 field
(M_ic cells; no boundary rows: the domain is periodic).  The prediction is piecewise,
w = sum_k (b . c_k) 1[(x, y) in block k].  The coefficients nu, drag, forcing are those that
generated the data file (its ``pde_params``): a physics-only loss must use the data's equation.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
import numpy as np
import torch
from neuralop.models import FNO
from torch import Tensor, nn

from sciml_core.data.trajectories import TrajectorySet
from sciml_core.errors import ConfigError
from sciml_core.pdes.navier_stokes import NavierStokes2D

from .constraint import combine, time_derivative
from .problems import ExpertProblem, at_nodes


def spectral_derivatives(b: Tensor, dx: float, dy: float) -> dict[str, Tensor]:
    """Periodic fields b (..., Y, X) -> their x, y derivatives, Laplacian and the velocity
    (u, v) = (psi_y, -psi_x) of Lap psi = -b, each (..., Y, X)."""
    Y, X = b.shape[-2:]
    kx = 2 * math.pi * torch.fft.rfftfreq(X, d=dx, dtype=torch.float64)
    ky = 2 * math.pi * torch.fft.fftfreq(Y, d=dy, dtype=torch.float64)
    k2 = (kx[None, :] ** 2 + ky[:, None] ** 2).to(b.device, b.dtype)
    kx1, ky1 = kx.clone(), ky.clone()  # first derivatives: without the Nyquist mode of an even grid
    if X % 2 == 0:
        kx1[-1] = 0.0
    if Y % 2 == 0:
        ky1[Y // 2] = 0.0
    ikx, iky = 1j * kx1.to(b.device, b.dtype), 1j * ky1.to(b.device, b.dtype)[:, None]
    b_hat = torch.fft.rfft2(b)
    psi_hat = b_hat / torch.where(k2 > 0, k2, torch.ones_like(k2))  # the k = 0 mode: times ik = 0 below
    back = lambda a: torch.fft.irfft2(a, s=(Y, X))
    return {"b_x": back(ikx * b_hat), "b_y": back(iky * b_hat), "b_lap": back(-k2 * b_hat),
            "b_u": back(iky * psi_hat), "b_v": back(-ikx * psi_hat)}


@dataclass
class VorticityNodes:
    """The basis and its derivatives at M nodes of each of P problems (N basis functions)."""

    basis: Tensor  # (P, M, N)
    basis_t: Tensor  # (P, M, N)
    basis_x: Tensor  # (P, M, N)
    basis_y: Tensor  # (P, M, N)
    basis_u: Tensor  # (P, M, N) velocity of each basis function
    basis_v: Tensor  # (P, M, N)
    basis_lap: Tensor  # (P, M, N)
    source: Tensor  # (P, M) g at the nodes


@dataclass
class VorticityConstraint(VorticityNodes):
    """The experts' problems for one batch (P = samples * experts): the nodes and the IC."""

    basis_ic: Tensor  # (P, M_ic, N) the whole t = 0 field
    w0: Tensor  # (P, M_ic) normalised initial vorticity


class VorticityResidual:
    """Rows and closed-form Jacobian of the module docstring's problems; ``scale`` is s."""

    def __init__(self, nu: float, drag: float, scale: float, ic_weight: float) -> None:
        self.nu, self.drag, self.scale, self.ic_weight = nu, drag, scale, ic_weight

    def pde_rows(self, w: Tensor, c: VorticityNodes) -> Tensor:
        """r at the nodes, (P, M)."""
        advection = combine(c.basis_u, w) * combine(c.basis_x, w) + combine(c.basis_v, w) * combine(c.basis_y, w)
        return (combine(c.basis_t, w) + self.scale * advection - self.nu * combine(c.basis_lap, w)
                + self.drag * combine(c.basis, w) - c.source)

    def rows(self, w: Tensor, c: VorticityConstraint) -> Tensor:
        """[r / sqrt(M), ic_weight (b(0) . w - w0) / sqrt(M_ic)], (P, M + M_ic)."""
        ic = self.ic_weight * (combine(c.basis_ic, w) - c.w0) / c.basis_ic.shape[1] ** 0.5
        return torch.cat([self.pde_rows(w, c) / c.basis.shape[1] ** 0.5, ic], dim=1)

    def rows_and_jacobian(self, w: Tensor, c: VorticityConstraint) -> tuple[Tensor, Tensor]:
        """:meth:`rows` and their Jacobian in w, (P, M + M_ic, N) (module docstring)."""
        terms = [(c.basis_x, c.basis_u), (c.basis_u, c.basis_x), (c.basis_y, c.basis_v), (c.basis_v, c.basis_y)]
        advection = sum(combine(a, w)[..., None] * b for a, b in terms)
        J_pde = c.basis_t + self.scale * advection - self.nu * c.basis_lap + self.drag * c.basis
        J = torch.cat([J_pde / c.basis.shape[1] ** 0.5, self.ic_weight * c.basis_ic / c.basis_ic.shape[1] ** 0.5], 1)
        return self.rows(w, c), J


class VorticityBasisNetwork(nn.Module):
    """3D FNO on (t, y, x) -> N basis functions, periodic in x and y: the inputs are the
    initial vorticity, t / t_end and (cos, sin) of x and y, with padding in t only."""

    def __init__(self, n_basis: int, width: int, n_modes: tuple[int, int, int], n_layers: int, soft: bool) -> None:
        super().__init__()
        self.fno = FNO(n_modes=n_modes, in_channels=6, out_channels=n_basis, hidden_channels=width,
                       n_layers=n_layers, positional_embedding=None, domain_padding=[0.125, 0.0, 0.0])
        self.w = nn.Parameter(torch.full((n_basis,), 1.0 / n_basis)) if soft else None

    def forward(self, ic: Tensor, n_t: int) -> Tensor:
        """Normalised initial vorticity (B, Y, X) -> basis (B, N, T, Y, X) (the grid: [0, 2 pi)^2)."""
        B, Y, X = ic.shape
        tau = torch.linspace(0.0, 1.0, n_t, dtype=ic.dtype, device=ic.device)[:, None, None].expand(n_t, Y, X)
        x = 2 * math.pi * torch.arange(X, dtype=ic.dtype, device=ic.device) / X
        y = 2 * math.pi * torch.arange(Y, dtype=ic.dtype, device=ic.device) / Y
        xx, yy = x[None, None, :].expand(n_t, Y, X), y[None, :, None].expand(n_t, Y, X)
        grid = torch.stack([tau, xx.cos(), xx.sin(), yy.cos(), yy.sin()])
        inputs = torch.cat([ic[:, None, None].expand(B, 1, n_t, Y, X), grid[None].expand(B, -1, -1, -1, -1)], 1)
        return self.fno(inputs.contiguous())


class NavierStokesProblem(ExpertProblem):
    """``navier-stokes-2d`` for :mod:`.solver`: the module docstring's basis, experts and rows."""

    def bind(self, data: TrajectorySet) -> None:
        cfg = self.config
        if data.fields != ("w",) or data.space_dims != ("y", "x"):
            raise ConfigError(f"hard-constraint-moe on navier-stokes-2d needs the vorticity field 'w' on (y, x), got "
                              f"fields {data.fields} on {data.space_dims}")
        side = math.isqrt(cfg.experts)
        n_y, n_x = len(data.coords["y"]), len(data.coords["x"])
        if side * side != cfg.experts or n_y % side or n_x % side or min(n_y, n_x) // side < 2:
            raise ConfigError(f"the {n_y} x {n_x} grid does not split into n_experts = {cfg.experts} equal square "
                              f"blocks (k x k with k dividing both sizes, >= 2 cells a side)")
        self.dy, self.dx = (float(data.coords[d][1] - data.coords[d][0]) for d in ("y", "x"))
        if not (math.isclose(n_x * self.dx, 2 * math.pi, rel_tol=1e-6)
                and math.isclose(n_y * self.dy, 2 * math.pi, rel_tol=1e-6)):
            raise ConfigError(f"the grid must be uniform on the periodic [0, 2 pi)^2 (data.x_stride must divide "
                              f"{n_x} and {n_y})")
        dt = np.diff(data.t)
        if data.n_frames < 3 or not np.allclose(dt, dt[0], rtol=1e-6):
            raise ConfigError(f"hard-constraint-moe needs >= 3 equally spaced frames, got {data.n_frames}")
        self.data, self.side, self.dt = data, side, float(dt[0])
        # the equation that generated the file (the run's pde_params when the file names none)
        pde = NavierStokes2D.from_params(json.loads(data.attrs["pde_params"])) if "pde_params" in data.attrs \
            else self.pde
        self.equation = pde
        mean, std = float(data.mean[0]), float(data.std[0])
        y = torch.as_tensor(data.coords["y"], dtype=data.train.dtype, device=data.train.device)
        forcing = -pde.forcing * pde.k_forcing * torch.cos(pde.k_forcing * y) if pde.forcing else 0 * y
        self.source = ((forcing - pde.drag * mean) / std)[:, None].expand(n_y, n_x)  # g (Y, X)
        self.system = VorticityResidual(pde.nu, pde.drag, std, cfg.ic_weight)

    def network(self) -> nn.Module:
        cfg = self.config
        n_modes = (min(cfg.n_modes, self.data.n_frames), *(min(cfg.n_modes, len(self.data.coords[d])) for d in "yx"))
        return VorticityBasisNetwork(cfg.n_basis, cfg.width, n_modes, cfg.n_layers, cfg.constraint == "soft")

    def initial_state(self, first: Tensor) -> tuple[Tensor, Tensor]:
        """Normalised (B, Y, X) initial vorticity: the network's input and the IC target."""
        return first[:, 0, 0], first[:, 0, 0]

    def blocks(self, a: Tensor) -> Tensor:
        """(B, N, T, Y, X) -> (B, K, T, S, N), blocks in (y, x) row-major order."""
        B, N, T, Y, X = a.shape
        k = self.side
        a = a.reshape(B, N, T, k, Y // k, k, X // k).permute(0, 3, 5, 2, 4, 6, 1)
        return a.reshape(B, k * k, T, (Y // k) * (X // k), N)

    def grids(self, model: nn.Module, ic: Tensor, n_t: int) -> dict[str, Tensor]:
        b = model(ic, n_t)  # (B, N, T, Y, X)
        grids = {"b": b, "b_t": time_derivative(b, self.dt, dim=2), **spectral_derivatives(b, self.dx, self.dy)}
        out = {name: self.blocks(a) for name, a in grids.items()}
        source = self.source.to(b.device, b.dtype)[None, None, None].expand(1, 1, n_t, -1, -1)
        out["source"] = self.blocks(source).expand(b.shape[0], -1, -1, -1, -1)
        return out

    def nodes(self, g: dict[str, Tensor], nodes: Tensor | None) -> VorticityNodes:
        """The grids at ``nodes`` (K, M) of each block (None: all), per (sample, expert) problem."""
        B, K = g["b"].shape[:2]
        per_problem = lambda name: at_nodes(g[name], nodes).reshape(B * K, -1, g[name].shape[-1])
        return VorticityNodes(*(per_problem(f"b{s}") for s in ("", "_t", "_x", "_y", "_u", "_v", "_lap")),
                              source=per_problem("source")[..., 0])

    def constraint(self, g: dict[str, Tensor], target: Tensor, nodes: Tensor | None) -> VorticityConstraint:
        """The P = B K problems at ``nodes``; every expert fits the whole initial field ``target`` (B, Y, X)."""
        B, K, T, S, N = g["b"].shape
        ic = g["b"][:, :, 0].reshape(B, 1, K * S, N).expand(B, K, K * S, N).reshape(B * K, K * S, N)
        w0 = self.blocks(target[:, None, None]).reshape(B, 1, K * S).expand(B, K, K * S).reshape(B * K, K * S)
        return VorticityConstraint(**vars(self.nodes(g, nodes)), basis_ic=ic, w0=w0)

    def pde_rows(self, w: Tensor, g: dict[str, Tensor], nodes: Tensor) -> Tensor:
        return self.system.pde_rows(w, self.nodes(g, nodes))

    def unblock(self, u: Tensor) -> Tensor:
        B, K, T, S = u.shape
        k, (Y, X) = self.side, (len(self.data.coords["y"]), len(self.data.coords["x"]))
        u = u.reshape(B, k, k, T, Y // k, X // k).permute(0, 3, 1, 4, 2, 5)
        return u.reshape(B, T, 1, Y, X)

