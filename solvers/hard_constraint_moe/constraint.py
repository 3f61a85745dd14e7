"""The hard-constraint layer: per-expert least-squares solves for the basis weights.

Chalapathi, Du & Krishnapriyan, "Scaling physics-informed hard constraints with mixture-of-
experts" (ICLR 2024).  A backbone gives N basis functions b(t, x) on the space-time grid;
the solution is u = b . w.  The domain is split along x into K equal blocks (experts); on
its block expert k solves

    w_k = argmin_w  1/2 ||r_k(w)||^2 + 1/2 ridge ||w||^2,
    r_k = [ r_pde / sqrt(M),  c_ic r_ic / sqrt(M_ic),  c_bc r_bc / sqrt(M_bc) ]

with r_pde the PDE residual at M sampled grid nodes of the block, r_ic the initial
condition and r_bc the boundary conditions.  By default (the paper's choice) every expert
fits the initial condition on the whole t = 0 row and both boundary conditions: b . w_k is
a function on the whole domain, and the global conditions are what carry the boundary data
into an inner block (with only its own IC rows and no boundary, an inner expert's best fit
keeps u near the constant initial state: u_t = u_xx = 0 satisfies the PDE).  The solver's
``expert_conditions = "local"`` gives each expert its block's t = 0 nodes and zero rows for
the boundaries its block does not touch.  Every expert's problem has the same size, so all
of them are one batched Levenberg-Marquardt call.  Each solve is differentiated by the implicit
function theorem (:func:`sciml_core.implicit.levenberg_marquardt`), locally to its expert:
the batched backward solve sees one N x N block per (sample, expert).  The output is
piecewise, u = sum_k (b . w_k) 1[x in block k].

Derivatives of the basis are finite differences on the grid (second-order central in the
interior, one-sided at the ends); boundary values are extrapolated linearly from the two
nodes next to the boundary.  Time is scaled to tau = t / t_end in [0, 1].
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from typing import Any, Protocol

import torch
from torch import Tensor

from sciml_core.implicit import gauss_newton, levenberg_marquardt
from sciml_core.pdes.diffusion_sorption import DiffusionSorption


def combine(b: Tensor, w: Tensor) -> Tensor:
    """``b . w`` per row: (P, M, N), (P, N) -> (P, M) (multiply-and-sum: a batched matrix-vector
    product with one column ran about 10x slower on CPU in float64)."""
    return (b * w[:, None, :]).sum(-1)


def time_derivative(b: Tensor, dt: float, dim: int = -2) -> Tensor:
    """d/dt along ``dim`` (default -2 of ``b (..., T, X)``): central inside, one-sided second
    order at the ends."""
    b = b.movedim(dim, 0)
    d = torch.empty_like(b)
    d[1:-1] = (b[2:] - b[:-2]) / (2 * dt)
    d[0] = (-3 * b[0] + 4 * b[1] - b[2]) / (2 * dt)
    d[-1] = (3 * b[-1] - 4 * b[-2] + b[-3]) / (2 * dt)
    return d.movedim(0, dim)


def second_x_derivative(b: Tensor, dx: float) -> Tensor:
    """d2/dx2 along dim -1: central inside, the neighbour's value at the two end nodes."""
    d = torch.empty_like(b)
    d[..., 1:-1] = (b[..., 2:] - 2 * b[..., 1:-1] + b[..., :-2]) / dx**2
    d[..., 0], d[..., -1] = d[..., 1], d[..., -2]
    return d


@dataclass
class Constraint:
    """The experts' least-squares problems for one batch (shapes: P = samples * experts)."""

    basis: Tensor  # (P, M, N) at the sampled interior nodes
    basis_t: Tensor  # (P, M, N) d/dtau
    basis_xx: Tensor  # (P, M, N)
    basis_ic: Tensor  # (P, M_ic, N) at t = 0
    u0: Tensor  # (P, M_ic)
    basis_left: Tensor  # (P, T, N) extrapolated to x = 0
    basis_right: Tensor  # (P, T, N) extrapolated to x = 1
    basis_right_x: Tensor  # (P, T, N) d/dx at x = 1
    left: Tensor  # (P,) 1 where the expert's block touches x = 0
    right: Tensor  # (P,)


class DiffusionSorptionResidual:
    """Residual rows of diffusion-sorption, u_tau = t_end D / R(u) u_xx, u(0) = 1, u(1) = -D u_x(1).

    ``R`` is evaluated at max(u, 0): the generator's (u + 1e-6)^(n_f - 1) is undefined below
    -1e-6, which least-squares iterates may visit."""

    def __init__(self, pde: DiffusionSorption, ic_weight: float, bc_weight: float) -> None:
        self.pde, self.ic_weight, self.bc_weight = pde, ic_weight, bc_weight

    def pde_rows(self, w: Tensor, b: Tensor, b_t: Tensor, b_xx: Tensor) -> Tensor:
        """PDE residual at the nodes, w (P, N), b* (P, M, N) -> (P, M)."""
        u = combine(b, w)
        u_t = combine(b_t, w)
        u_xx = combine(b_xx, w)
        pde = self.pde
        return u_t - pde.t_end * pde.D / pde.retardation(u.clamp_min(0.0)) * u_xx

    def rows(self, w: Tensor, c: Constraint) -> Tensor:
        """The full residual vector r_k(w) of the module docstring, (P, M + M_ic + 2 T)."""
        pde_r = self.pde_rows(w, c.basis, c.basis_t, c.basis_xx) / c.basis.shape[1] ** 0.5
        ic = combine(c.basis_ic, w) - c.u0
        ic = self.ic_weight * ic / c.basis_ic.shape[1] ** 0.5
        left = combine(c.basis_left, w) - self.pde.solubility
        right = combine(c.basis_right, w) + self.pde.D * combine(c.basis_right_x, w)
        scale = self.bc_weight / c.basis_left.shape[1] ** 0.5
        return torch.cat([pde_r, ic, scale * c.left[:, None] * left, scale * c.right[:, None] * right], dim=1)


    def rows_and_jacobian(self, w: Tensor, c: Constraint) -> tuple[Tensor, Tensor]:
        """:meth:`rows` and their Jacobian in w, (P, m, N), in closed form: every row is a
        combination of basis rows, e.g. d r_pde / dw = b_t - a b_xx + a (R'/R) u_xx b with
        a = t_end D / R(u) (one pass instead of N forward-mode passes)."""
        pde = self.pde
        u = combine(c.basis, w)
        u_xx = combine(c.basis_xx, w)
        u_pos = u.clamp_min(0.0)
        R = pde.retardation(u_pos)
        a = pde.t_end * pde.D / R
        slope = a * pde.retardation_derivative(u_pos) / R * u_xx * (u > 0)
        J_pde = (c.basis_t - a[..., None] * c.basis_xx + slope[..., None] * c.basis) / c.basis.shape[1] ** 0.5
        scale = self.bc_weight / c.basis_left.shape[1] ** 0.5
        J = torch.cat([J_pde, self.ic_weight * c.basis_ic / c.basis_ic.shape[1] ** 0.5,
                       scale * c.left[:, None, None] * c.basis_left,
                       scale * c.right[:, None, None] * (c.basis_right + pde.D * c.basis_right_x)], dim=1)
        return self.rows(w, c), J


class ResidualSystem(Protocol):
    """What :func:`solve_experts` needs of a PDE's residual: the rows of a batch of problems
    (a dataclass of (P, ...) tensors whose first field ``basis`` is (P, M, N)) and, in
    closed form, their Jacobian in the weights."""

    def rows(self, w: Tensor, c: Any) -> Tensor: ...

    def rows_and_jacobian(self, w: Tensor, c: Any) -> tuple[Tensor, Tensor]: ...


def _residual(w: Tensor, system: ResidualSystem, kind: type, *tensors: Tensor) -> Tensor:
    return system.rows(w, kind(*tensors))


def _jacobian(w: Tensor, system: ResidualSystem, kind: type, *tensors: Tensor) -> tuple[Tensor, Tensor]:
    return system.rows_and_jacobian(w, kind(*tensors))


def solve_experts(system: ResidualSystem, c: Any, *, ridge: float, tol: float, maxiter: int,
                  devices: list[torch.device] | None = None,
                  init: Tensor | None = None, scaling: str = "identity", damping: float = 1e-3,
                  method: str = "levenberg-marquardt") -> tuple[Tensor, dict[str, float]]:
    """w (P, N) for every (sample, expert) problem ``c`` (a :class:`Constraint` or another
    PDE's dataclass of the same layout), differentiable in its tensors.

    The solves run in float64 whatever the network's dtype: the Gauss-Newton matrices of these
    problems reach condition numbers near 1e8, beyond float32's backward solve.

    ``devices``: with several, problem p goes to ``devices[p % len(devices)]``'s batch (one
    expert per device when P = K, the paper's layout); the weights come back to the first.
    ``init``: the (P, N) starting weights of Levenberg-Marquardt (default zeros); the solution,
    and so the backward pass, does not depend on it where the problem has one minimum.
    ``scaling``, ``damping``: Levenberg-Marquardt's damping form, ``"identity"`` or
    ``"marquardt"``, and its relative start (:mod:`sciml_core.implicit.least_squares`).
    ``method``: ``"levenberg-marquardt"`` or ``"gauss-newton"`` (full steps; ``J^T J + ridge I``
    is positive definite for ridge > 0; in MoE training it often ran to ``maxiter`` unconverged).
    """
    if method not in ("levenberg-marquardt", "gauss-newton"):
        raise ValueError(f"solve_experts: method must be 'levenberg-marquardt' or 'gauss-newton', got {method!r}")
    fit = (functools.partial(levenberg_marquardt, scaling=scaling, damping=damping) if method == "levenberg-marquardt"
           else gauss_newton)
    fit = functools.partial(fit, ridge=ridge, batched=True, gtol=tol, xtol=tol, maxiter=maxiter, on_fail="ignore",
                            jacobian=_jacobian)
    dtype = c.basis.dtype
    kind = type(c)
    tensors = [getattr(c, f.name).double() for f in fields(c)]
    n_basis = c.basis.shape[-1]
    P = c.basis.shape[0]
    if init is None:
        init = torch.zeros(P, n_basis, dtype=torch.float64, device=c.basis.device)
    elif tuple(init.shape) != (P, n_basis):
        raise ValueError(f"solve_experts: init must have shape {(P, n_basis)}, got {tuple(init.shape)}")
    init = init.detach().to(torch.float64)
    if not devices or len(devices) < 2:
        out = fit(_residual, init, system, kind, *tensors)
        return out.x.to(dtype), {"lm_iterations": float(out.iterations),
                                 "lm_converged": int(out.converged.sum()) / P}  # exact, as the ranks' sum below
    w = torch.empty_like(init)
    stats = {"lm_iterations": 0.0, "lm_converged": 0.0}
    for i, device in enumerate(devices):
        idx = torch.arange(i, P, len(devices), device=c.basis.device)
        if idx.numel() == 0:
            continue
        part = [t[idx].to(device) for t in tensors]
        out = fit(_residual, init[idx].to(device), system, kind, *part)
        w = w.index_copy(0, idx, out.x.to(c.basis.device))
        stats["lm_iterations"] = max(stats["lm_iterations"], float(out.iterations))
        stats["lm_converged"] += int(out.converged.sum()) / P
    return w.to(dtype), stats
