"""Batched nonlinear least squares, differentiable by the implicit function theorem.

    x* = argmin_x  C(x, args) = 1/2 ||r(x, args)||^2 + 1/2 ridge ||x||^2

* :func:`gauss_newton` -- ``(J^T J + ridge I) dx = -g`` with ``g = J^T r + ridge x``, full steps.
* :func:`levenberg_marquardt` -- ``(J^T J + ridge I + lambda D) dx = -g``, the damping
  ``lambda`` adapted per problem from the gain ratio ``rho = (C(x) - C(x + dx)) /
  (1/2 dx^T (lambda dx - g))`` (Nielsen 1999; Madsen, Nielsen & Tingleff, *Methods for
  non-linear least squares problems*, 2004): accept when ``rho > 0`` and set
  ``lambda *= max(1/3, 1 - (2 rho - 1)^3)``, else ``lambda *= nu, nu *= 2``.  The damping
  term is ``lambda D`` with ``scaling``: ``"identity"`` (default), ``D = I`` and the start
  ``lambda_0 = damping * max(diag(J^T J))``; ``"marquardt"``, ``D = diag(J^T J + ridge I)``,
  its running maximum over the iterations (Marquardt 1963; More 1978, MINPACK's ``lmder``),
  and ``lambda_0 = damping``: the same relative damping in every direction, so the steps do
  not depend on the scale of the unknowns.  On problems whose curvatures span many decades (the
  MoE's grid floor: finite-difference rows at 1/dx^2 next to IC rows) the identity damping
  dominates the flat directions and LM stalls far from the minimum (2026-12-03, 26 x 32 grid,
  4 samples, 200 iterations: 47-68 % rel L2, none converged; ``"marquardt"``: 3 of 4 converged
  in 7 iterations at 4.6 %).

Batching: with ``batched=True`` dim 0 of ``x`` indexes independent problems and
``r(x, ...)`` returns ``(batch, ...)``, row ``i`` depending on ``x[i]`` only (the Jacobian is
built with one JVP per unknown over the whole batch, ``(batch, m, n)``, or by ``jacobian(x, *args) -> (r, J)``
when the caller has it in closed form; the ``n x n`` systems are solved by batched Cholesky).  Stopping, per problem: ``||g||_inf <= gtol`` or a step
``||dx|| <= xtol (||x|| + xtol)`` taken with ``lambda <= max(diag(J^T J))`` (a short step that only
reflects a large damping is not convergence).

Differentiation (``implicit=True``): the result goes through :func:`custom_root` on the
optimality condition ``grad_x C = J^T r + ridge x = 0``; its Jacobian, the Hessian of C
(``J^T J + ridge I`` plus second-order terms), is what the backward solve inverts.  The
ridge stays in the condition, so it is never singular; the LM damping is not part of it
(it vanishes at the solution).  The forward iterations keep no graph.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ..errors import ConvergenceError
from .linear import ConvergenceWarning, OnFail, solve_lu
from .root import Solve, custom_root

Residual = Callable[..., Tensor]


@dataclass
class LeastSquaresResult:
    """``x`` (differentiable when ``implicit``), ``cost`` ``C(x)`` and ``grad_norm``
    ``||g||_inf`` per problem, ``converged`` per problem, ``iterations`` and the final ``damping``."""

    x: Tensor
    cost: Tensor
    grad_norm: Tensor
    converged: Tensor
    iterations: int
    damping: Tensor

    @property
    def success(self) -> bool:
        return bool(self.converged.all())


def _flat(residual_fn: Residual, shape: torch.Size, batched: bool, args: tuple, kwargs: dict) -> Callable[[Tensor], Tensor]:
    """``x (B, n) -> r (B, m)`` around the user's shapes (B = 1 when not batched)."""

    def r(xb: Tensor) -> Tensor:
        out = residual_fn(xb.reshape(shape), *args, **kwargs)
        return out.reshape(xb.shape[0], -1)

    return r


def batched_jacobian(fn: Callable[[Tensor], Tensor], x: Tensor) -> tuple[Tensor, Tensor]:
    """``(r, J)`` of ``fn: (B, n) -> (B, m)`` whose rows are independent: ``J (B, m, n)`` from
    ``n`` JVPs (forward mode: cheap for the few unknowns of least squares), each with tangent
    ``e_j`` in every problem at once.  A loop, not ``vmap``: under ``vmap`` a product of an
    unbatched operand with the batched tangent copies the operand ``n`` times (at the MoE's
    size, 32 x 2548 x 16, the loop took 0.29 s and ``vmap`` 0.42-0.57 s)."""
    n = x.shape[1]
    eye = torch.eye(n, dtype=x.dtype, device=x.device)
    cols = []
    for j in range(n):
        r, col = torch.func.jvp(fn, (x,), (eye[j].expand_as(x).contiguous(),))
        cols.append(col)
    return r, torch.stack(cols, dim=2)


def _cost(r: Tensor, x: Tensor, ridge: float) -> Tensor:
    return 0.5 * (r * r).sum(1) + 0.5 * ridge * (x * x).sum(1)


def _iterate(residual_fn: Residual, x0: Tensor, args: tuple, kwargs: dict, *, batched: bool, ridge: float,
             damping: float | None, gtol: float, xtol: float, maxiter: int,
             jacobian: Callable[..., tuple[Tensor, Tensor]] | None, scaling: str = "identity") -> dict[str, Any]:
    """The Gauss-Newton (``damping=None``) or Levenberg-Marquardt loop, on ``(B, n)`` views."""
    shape = x0.shape
    B = shape[0] if batched else 1
    x = x0.reshape(B, -1).clone()
    n = x.shape[1]
    fn = _flat(residual_fn, shape, batched, args, kwargs)
    if jacobian is None:
        jac = lambda xb: batched_jacobian(fn, xb)
    else:
        def jac(xb: Tensor) -> tuple[Tensor, Tensor]:
            r_, J_ = jacobian(xb.reshape(shape), *args, **kwargs)
            return r_.reshape(B, -1), J_.reshape(B, -1, n)
    eye = torch.eye(n, dtype=x.dtype, device=x.device)
    r, J = jac(x)
    cost = _cost(r, x, ridge)
    lam = torch.zeros(B, dtype=x.dtype, device=x.device)
    nu = torch.full_like(lam, 2.0)
    D = torch.ones_like(x)  # the damping's diagonal (module docstring)
    done = torch.zeros(B, dtype=torch.bool, device=x.device)
    it = 0
    for it in range(1, maxiter + 1):
        H = J.transpose(1, 2) @ J + ridge * eye
        g = (J.transpose(1, 2) @ r[..., None])[..., 0] + ridge * x
        done = done | (g.abs().amax(1) <= gtol)
        if bool(done.all()):
            it -= 1
            break
        diag_H = torch.diagonal(H, dim1=1, dim2=2)
        if scaling == "marquardt":  # a zero column is damped as in MINPACK, with D = 1
            scale = torch.where(diag_H > 0, diag_H, torch.ones_like(diag_H))
            D = scale if it == 1 else torch.maximum(D, scale)
        if damping is not None and it == 1:
            lam = damping * (torch.ones_like(lam) if scaling == "marquardt" else diag_H.amax(1).clamp_min(1e-30))
        L, info = torch.linalg.cholesky_ex(H + torch.diag_embed(lam[:, None] * D))
        if damping is None and bool((info != 0).any()):
            raise ConvergenceError("gauss_newton: J^T J + ridge I is singular; use levenberg_marquardt or a ridge > 0")
        dx = -torch.cholesky_solve(g[..., None], L)[..., 0]
        dx = torch.where(((info == 0) & ~done)[:, None], dx, torch.zeros_like(dx))
        x_new = x + dx
        r_new = fn(x_new)
        cost_new = _cost(r_new, x_new, ridge)
        if damping is None:
            accept = ~done & (info == 0)
        else:
            predicted = 0.5 * (dx * (lam[:, None] * D * dx - g)).sum(1)
            rho = (cost - cost_new) / torch.where(predicted > 0, predicted, torch.ones_like(predicted))
            # a predicted gain below the rounding of C cannot be judged by C: take the step
            # unless C visibly grows, and leave lambda alone
            floor = 16 * torch.finfo(x.dtype).eps * cost.abs()
            tiny = (predicted <= floor) & (cost_new <= cost + floor)
            gain = (predicted > 0) & (rho > 0) & ~tiny
            accept = ~done & (info == 0) & (gain | tiny) & torch.isfinite(cost_new)
            lam = torch.where(gain & accept, lam * torch.clamp(1 - (2 * rho - 1) ** 3, min=1 / 3),
                              torch.where(accept, lam, lam * nu))
            nu = torch.where(accept, torch.full_like(nu, 2.0), nu * 2)
        # a short step means convergence only when the damping does not dominate J^T J
        gauss_newton_like = lam <= (1.0 if scaling == "marquardt" else diag_H.amax(1))
        small = accept & gauss_newton_like & (dx.norm(dim=1) <= xtol * (x.norm(dim=1) + xtol))
        x = torch.where(accept[:, None], x_new, x)
        if bool(accept.any()):
            r, J = jac(x)
            cost = _cost(r, x, ridge)
        done = done | small
    g = (J.transpose(1, 2) @ r[..., None])[..., 0] + ridge * x
    gnorm = g.abs().amax(1)
    done = done | (gnorm <= gtol)
    squeeze = (lambda t: t) if batched else (lambda t: t.reshape(()))
    return {"x": x.reshape(shape), "cost": squeeze(cost), "grad_norm": squeeze(gnorm), "converged": squeeze(done),
            "iterations": it, "damping": squeeze(lam)}


def optimality_condition(residual_fn: Residual, ridge: float) -> Callable[..., Tensor]:
    """``F(x, *args) = grad_x C = J^T r + ridge x`` (one VJP of the residual)."""

    def F(x: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        r, vjp = torch.func.vjp(lambda x_: residual_fn(x_, *args, **kwargs), x)
        return vjp(r)[0] + ridge * x

    return F


def _solve(method: str, residual_fn: Residual, init: Tensor, args: tuple, kwargs: dict, *, ridge: float,
           damping: float | None, batched: bool, gtol: float, xtol: float, maxiter: int, implicit: bool,
           solve: Solve | None, on_fail: OnFail, jacobian: Callable[..., tuple[Tensor, Tensor]] | None,
           scaling: str = "identity") -> LeastSquaresResult:
    if not isinstance(init, Tensor) or not init.is_floating_point():
        raise ValueError(f"{method}: init must be a floating-point tensor")
    if batched and init.ndim < 2:
        raise ValueError(f"{method}: batched=True needs init of shape (batch, n), got {tuple(init.shape)}")
    if maxiter < 1:
        raise ValueError(f"{method}: maxiter must be >= 1, got {maxiter}")
    if ridge < 0:
        raise ValueError(f"{method}: ridge must be >= 0, got {ridge}")
    loop = functools.partial(_iterate, batched=batched, ridge=ridge, damping=damping, gtol=gtol, xtol=xtol,
                             maxiter=maxiter, jacobian=jacobian, scaling=scaling)

    def run(x0: Tensor, *a: Any, **k: Any) -> tuple[Tensor, dict[str, Any]]:
        stats = loop(residual_fn, x0, a, k)
        return stats.pop("x"), stats

    if implicit:
        backward_solve = solve or functools.partial(solve_lu, batched=batched)
        # the B problems of a batch are independent: the batched dense solve sees each n x n block
        x, stats = custom_root(optimality_condition(residual_fn, ridge), backward_solve, has_aux=True)(run)(
            init, *args, **kwargs)
    else:
        with torch.no_grad():
            x, stats = run(init.detach(), *args, **kwargs)
    result = LeastSquaresResult(x=x, **stats)
    if not result.success and on_fail != "ignore":
        bad = int((~result.converged).sum())
        msg = (f"{method}: {bad} of {result.converged.numel()} problem(s) not converged in {maxiter} iterations "
               f"(worst ||grad||_inf {float(result.grad_norm.max()):.2e} > gtol {gtol:.1e}); raise maxiter or "
               f"loosen gtol/xtol")
        if on_fail == "raise":
            raise ConvergenceError(msg)
        warnings.warn(msg, ConvergenceWarning, stacklevel=3)
    return result


def gauss_newton(residual_fn: Residual, init: Tensor, *args: Any, ridge: float = 0.0, batched: bool = False,
                 gtol: float = 1e-8, xtol: float = 1e-10, maxiter: int = 50, implicit: bool = True,
                 solve: Solve | None = None, on_fail: OnFail = "warn",
                 jacobian: Callable[..., tuple[Tensor, Tensor]] | None = None, **kwargs: Any) -> LeastSquaresResult:
    """Gauss-Newton for ``min 1/2 ||r(x, *args)||^2 + 1/2 ridge ||x||^2`` (module docstring)."""
    return _solve("gauss_newton", residual_fn, init, args, kwargs, ridge=ridge, damping=None, batched=batched,
                  gtol=gtol, xtol=xtol, maxiter=maxiter, implicit=implicit, solve=solve, on_fail=on_fail,
                  jacobian=jacobian)


def levenberg_marquardt(residual_fn: Residual, init: Tensor, *args: Any, ridge: float = 0.0, damping: float = 1e-3,
                        batched: bool = False, gtol: float = 1e-8, xtol: float = 1e-10, maxiter: int = 100,
                        implicit: bool = True, solve: Solve | None = None, on_fail: OnFail = "warn",
                        jacobian: Callable[..., tuple[Tensor, Tensor]] | None = None,
                        scaling: str = "identity", **kwargs: Any) -> LeastSquaresResult:
    """Levenberg-Marquardt with adaptive damping for ``min 1/2 ||r||^2 + 1/2 ridge ||x||^2``;
    ``scaling`` ``"identity"`` or ``"marquardt"`` (module docstring)."""
    if not damping > 0:
        raise ValueError(f"levenberg_marquardt: damping must be > 0, got {damping}")
    if scaling not in ("identity", "marquardt"):
        raise ValueError(f"levenberg_marquardt: scaling must be 'identity' or 'marquardt', got {scaling!r}")
    return _solve("levenberg_marquardt", residual_fn, init, args, kwargs, ridge=ridge, damping=damping,
                  batched=batched, gtol=gtol, xtol=xtol, maxiter=maxiter, implicit=implicit, solve=solve,
                  on_fail=on_fail, jacobian=jacobian, scaling=scaling)
