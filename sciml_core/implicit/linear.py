"""Linear solvers for ``(A + ridge I) x = b`` with ``A`` given as a matrix-vector product.

Every solver has one signature::

    solve_*(matvec, b, *, ridge=0.0, init=None, batched=False, tol=1e-10, atol=0.0,
            maxiter=None, on_fail="raise") -> LinearSolution

* ``matvec`` maps a tensor shaped like ``b`` to one shaped like ``b`` (a callable, e.g. a VJP
  or JVP of an optimality condition), or is a dense matrix ``(n, n)`` / ``(batch, n, n)``.
* ``batched=True``: dim 0 of ``b`` indexes independent systems (``matvec`` must not mix
  them); inner products, step sizes and convergence are then per system.  Otherwise the
  whole tensor is one vector of ``b.numel()`` unknowns.
* Stopping: ``||b - A x|| <= max(tol ||b||, atol)`` per system.  The returned
  :class:`LinearSolution` reports ``converged`` (per system, from the true residual, which
  may exceed the iteration's own estimate by up to 10x), ``iterations`` and
  ``residual_norm``; a system that does not converge raises :class:`ConvergenceError`
  (``on_fail="raise"``), warns (``"warn"``) or is only reported (``"ignore"``): never
  silent garbage.

Methods (Saad, *Iterative Methods for Sparse Linear Systems*, 2003): dense LU and Cholesky
(``torch.linalg``; a callable is materialised column by column with ``vmap``), conjugate
gradients (SPD ``A``), CG on the normal equations ``(A^T A + ridge I) x = A^T b`` (any
``A``, also non-square: pass ``init`` shaped like ``x``; ``A^T`` comes from a VJP of
``matvec``), restarted GMRES with Givens rotations, and BiCGSTAB (van der Vorst 1992).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from ..errors import ConvergenceError

MatVec = Callable[[Tensor], Tensor] | Tensor
OnFail = Literal["raise", "warn", "ignore"]


class ConvergenceWarning(RuntimeWarning):
    """A solve stopped before its tolerance and ``on_fail="warn"`` was asked for."""


@dataclass
class LinearSolution:
    """Outcome of a linear solve: ``x`` (shaped like ``b``), ``converged`` (bool, per system
    when batched), ``iterations`` (matrix-vector products of the main loop), the true
    ``residual_norm`` ``||b - (A + ridge I) x||`` and the ``method`` name."""

    x: Tensor
    converged: Tensor
    iterations: int
    residual_norm: Tensor
    method: str

    @property
    def success(self) -> bool:
        return bool(self.converged.all())


# ---- shared pieces ------------------------------------------------------------------------
def _dot(a: Tensor, b: Tensor, batched: bool) -> Tensor:
    """Per-system inner product, shaped to broadcast against ``a``."""
    if not batched:
        return (a * b).sum()
    return (a * b).flatten(1).sum(1).reshape(-1, *([1] * (a.ndim - 1)))


def _norm(a: Tensor, batched: bool) -> Tensor:
    return _dot(a, a, batched).clamp_min(0).sqrt()


def _safe(d: Tensor) -> Tensor:
    return torch.where(d != 0, d, torch.ones_like(d))


def _operator(matvec: MatVec, b: Tensor, ridge: float, batched: bool, name: str) -> Callable[[Tensor], Tensor]:
    """``x -> (A + ridge I) x`` with the output shape checked once."""
    if isinstance(matvec, Tensor):
        A, shape = matvec, b.shape
        n = b[0].numel() if batched else b.numel()
        want = (b.shape[0], n, n) if batched else (n, n)
        if tuple(A.shape) != want:
            raise ValueError(f"{name}: matrix of shape {tuple(A.shape)} does not match b of shape {tuple(b.shape)} "
                             f"(expected {want})")
        if batched:
            base = lambda x: (A @ x.reshape(x.shape[0], -1, 1)).reshape(shape)
        else:
            base = lambda x: (A @ x.reshape(-1)).reshape(shape)
    else:
        base = matvec
    checked = False

    def op(x: Tensor) -> Tensor:
        nonlocal checked
        y = base(x)
        if not checked:
            if not isinstance(y, Tensor) or y.shape != x.shape:
                got = tuple(y.shape) if isinstance(y, Tensor) else type(y).__name__
                raise ValueError(f"{name}: matvec maps shape {tuple(x.shape)} to {got}; A must be square with b "
                                 f"shaped like x (for a non-square A use solve_normal_cg with init=)")
            checked = True
        return y + ridge * x if ridge else y

    return op


def _check_b(b: Tensor, batched: bool, name: str) -> None:
    if not isinstance(b, Tensor) or not b.is_floating_point():
        raise ValueError(f"{name}: b must be a floating-point tensor, got {type(b).__name__}")
    if batched and b.ndim < 2:
        raise ValueError(f"{name}: batched=True needs b of shape (batch, n, ...), got {tuple(b.shape)}")


def _maxiter(maxiter: int | None, default: int, name: str) -> int:
    if maxiter is None:
        return max(default, 1)
    if maxiter < 1:
        raise ValueError(f"{name}: maxiter must be >= 1, got {maxiter}")
    return int(maxiter)


def _finish(name: str, op: Callable[[Tensor], Tensor], x: Tensor, b: Tensor, iterations: int, tol: float,
            atol: float, batched: bool, on_fail: OnFail, hint: str = "") -> LinearSolution:
    """True residual, convergence per system, and the raise/warn policy."""
    res = _norm(b - op(x), batched)
    bnorm = _norm(b, batched)
    thresh = torch.clamp(tol * bnorm, min=atol)
    converged = (res <= 10 * thresh) & torch.isfinite(res)
    sol = LinearSolution(x, converged.reshape(-1) if batched else converged, iterations,
                         res.reshape(-1) if batched else res, name)
    if not sol.success and on_fail != "ignore":
        rel = (res / _safe(bnorm)).reshape(-1)
        bad = int((~converged).sum())
        total = converged.numel()
        msg = (f"{name}: {bad} of {total} system(s) did not converge in {iterations} iterations "
               f"(worst relative residual {float(rel.max()):.2e}, tol {tol:.1e}); "
               f"{hint or 'raise maxiter, add a ridge, or use a dense solver (solve_lu)'}")
        if on_fail == "raise":
            raise ConvergenceError(msg)
        warnings.warn(msg, ConvergenceWarning, stacklevel=3)
    return sol


def materialize(matvec: MatVec, b: Tensor, batched: bool = False) -> Tensor:
    """The dense matrix of ``matvec``: ``(n, n)``, or ``(batch, n, n)`` when batched.

    Column ``j`` is ``matvec(e_j)``.  Unbatched: all columns in one ``vmap`` call (a Python
    loop for matvecs that ``vmap`` cannot trace).  Batched: a loop over the ``n`` columns,
    each one matvec of the whole batch -- the batch already fills the kernels, and under
    ``vmap`` an operation between an unbatched operand and a batched one (``b @ w`` with the
    basis ``b`` fixed) broadcasts and copies the unbatched operand ``n`` times: at the MoE's
    size (32 x 2548 x 16) the loop took 0.53 s, ``vmap`` 1.34 s.
    """
    if isinstance(matvec, Tensor):
        return matvec
    n = b[0].numel() if batched else b.numel()
    eye = torch.eye(n, dtype=b.dtype, device=b.device)
    if batched:
        basis = eye.reshape(n, 1, *b.shape[1:]).expand(n, *b.shape)
    else:
        basis = eye.reshape(n, *b.shape)
    if batched:
        cols = torch.stack([matvec(e.contiguous()) for e in basis])
        return cols.reshape(n, b.shape[0], n).permute(1, 2, 0)
    try:
        cols = torch.func.vmap(matvec)(basis)
    except RuntimeError:
        cols = torch.stack([matvec(e) for e in basis])
    return cols.reshape(n, n).T


# ---- dense ----------------------------------------------------------------------------------
def _dense(kind: str, matvec: MatVec, b: Tensor, ridge: float, batched: bool, on_fail: OnFail,
           tol: float | None, atol: float) -> LinearSolution:
    name = f"solve_{kind}"
    _check_b(b, batched, name)
    tol = torch.finfo(b.dtype).eps ** 0.5 if tol is None else tol
    op = _operator(matvec, b, ridge, batched, name)
    A = materialize(matvec, b, batched)
    n = A.shape[-1]
    if ridge:
        A = A + ridge * torch.eye(n, dtype=A.dtype, device=A.device)
    rhs = b.reshape(b.shape[0], n, 1) if batched else b.reshape(n, 1)
    if kind == "cholesky":
        L, info = torch.linalg.cholesky_ex(A)
        x = torch.cholesky_solve(rhs, L)
        failure = "not positive definite (use solve_lu, or a ridge)"
    else:
        LU, piv, info = torch.linalg.lu_factor_ex(A)
        x = torch.linalg.lu_solve(LU, piv, rhs)
        failure = "singular (add a ridge)"
    if bool((info != 0).any()) and on_fail == "raise":
        raise ConvergenceError(f"{name}: matrix {failure}; {int((info != 0).sum())} of {info.numel()} system(s)")
    return _finish(name, op, x.reshape(b.shape), b, 1, tol, atol, batched, on_fail, f"matrix {failure}")


def solve_lu(matvec: MatVec, b: Tensor, *, ridge: float = 0.0, init: Tensor | None = None, batched: bool = False,
             tol: float | None = None, atol: float = 0.0, maxiter: int | None = None,
             on_fail: OnFail = "raise") -> LinearSolution:
    """Dense LU with partial pivoting (``torch.linalg.lu_factor``); ``init``/``maxiter`` unused.
    ``tol`` only judges the final residual (default sqrt(eps) of the dtype, 1.5e-8 in float64
    and 3.5e-4 in float32: an ill-conditioned but exact factorisation is still the best answer)."""
    return _dense("lu", matvec, b, ridge, batched, on_fail, tol, atol)


def solve_cholesky(matvec: MatVec, b: Tensor, *, ridge: float = 0.0, init: Tensor | None = None,
                   batched: bool = False, tol: float | None = None, atol: float = 0.0, maxiter: int | None = None,
                   on_fail: OnFail = "raise") -> LinearSolution:
    """Dense Cholesky for symmetric positive definite ``A`` (``torch.linalg.cholesky_ex``)."""
    return _dense("cholesky", matvec, b, ridge, batched, on_fail, tol, atol)


# ---- Krylov ---------------------------------------------------------------------------------
def solve_cg(matvec: MatVec, b: Tensor, *, ridge: float = 0.0, init: Tensor | None = None, batched: bool = False,
             tol: float = 1e-10, atol: float = 0.0, maxiter: int | None = None,
             on_fail: OnFail = "raise") -> LinearSolution:
    """Conjugate gradients (Hestenes-Stiefel) for symmetric positive definite ``A + ridge I``."""
    name = "solve_cg"
    _check_b(b, batched, name)
    op = _operator(matvec, b, ridge, batched, name)
    n = b[0].numel() if batched else b.numel()
    maxiter = _maxiter(maxiter, 10 * n, name)
    x = torch.zeros_like(b) if init is None else init.clone()
    r = b - op(x)
    p, rs = r.clone(), _dot(r, r, batched)
    thresh2 = torch.clamp(tol * _norm(b, batched), min=atol) ** 2
    k = 0
    while k < maxiter:
        active = rs > thresh2
        if not bool(active.any()):
            break
        Ap = op(p)
        alpha = torch.where(active, rs / _safe(_dot(p, Ap, batched)), torch.zeros_like(rs))
        x = x + alpha * p
        r = r - alpha * Ap
        rs_new = _dot(r, r, batched)
        p = torch.where(active, r + (rs_new / _safe(rs)) * p, p)
        rs = rs_new
        k += 1
    return _finish(name, op, x, b, k, tol, atol, batched, on_fail, "is A symmetric positive definite? "
                   "else use solve_gmres or solve_normal_cg")


def solve_normal_cg(matvec: MatVec, b: Tensor, *, ridge: float = 0.0, init: Tensor | None = None,
                    batched: bool = False, tol: float = 1e-10, atol: float = 0.0, maxiter: int | None = None,
                    on_fail: OnFail = "raise") -> LinearSolution:
    """CG on the normal equations ``(A^T A + ridge I) x = A^T b``: any ``A`` (non-square: give
    ``init`` shaped like ``x``).  The residual reported is that of the normal equations."""
    name = "solve_normal_cg"
    _check_b(b, batched, name)
    if isinstance(matvec, Tensor):
        A = matvec
        fwd = (lambda x: (A @ x.reshape(x.shape[0], -1, 1)).reshape(b.shape)) if batched else \
            (lambda x: (A @ x.reshape(-1)).reshape(b.shape))
        x_like = torch.zeros(A.shape[:-2] + (A.shape[-1],), dtype=b.dtype, device=b.device) if init is None else init
    else:
        fwd, x_like = matvec, (torch.zeros_like(b) if init is None else init)
    try:
        out, transpose = torch.func.vjp(fwd, torch.zeros_like(x_like))
    except RuntimeError as exc:
        raise ValueError(f"{name}: matvec failed on x of shape {tuple(x_like.shape)} ({exc}); for a non-square A "
                         "pass init= shaped like x") from None
    if out.shape != b.shape:
        raise ValueError(f"{name}: matvec maps x of shape {tuple(x_like.shape)} to {tuple(out.shape)}, "
                         f"but b has shape {tuple(b.shape)}")
    normal = lambda x: transpose(fwd(x))[0]
    rhs = transpose(b)[0]
    sol = solve_cg(normal, rhs, ridge=ridge, init=init, batched=batched, tol=tol, atol=atol, maxiter=maxiter,
                   on_fail="ignore")
    op = _operator(normal, rhs, ridge, batched, name)
    return _finish(name, op, sol.x, rhs, sol.iterations, tol, atol, batched, on_fail,
                   "A^T A may be near-singular: add a ridge or use solve_gmres")


def solve_gmres(matvec: MatVec, b: Tensor, *, ridge: float = 0.0, init: Tensor | None = None,
                batched: bool = False, tol: float = 1e-10, atol: float = 0.0, maxiter: int | None = None,
                restart: int = 30, on_fail: OnFail = "raise") -> LinearSolution:
    """Restarted GMRES(restart) with modified Gram-Schmidt Arnoldi and Givens rotations
    (Saad & Schultz 1986); converged systems of a batch get identity columns and stop moving."""
    name = "solve_gmres"
    _check_b(b, batched, name)
    op = _operator(matvec, b, ridge, batched, name)
    n = b[0].numel() if batched else b.numel()
    maxiter = _maxiter(maxiter, 10 * n, name)
    m = max(1, min(restart, n))
    B = b.shape[0] if batched else 1
    x = torch.zeros_like(b) if init is None else init.clone()
    thresh = torch.clamp(tol * _norm(b, batched), min=atol).reshape(B)
    opts = {"dtype": b.dtype, "device": b.device}
    k = 0

    def col(s: Tensor) -> Tensor:  # per-system scalars (B,) -> broadcast against b
        return s.reshape(-1, *([1] * (b.ndim - 1))) if batched else s.reshape(())

    while k < maxiter:
        r = b - op(x)
        beta = _norm(r, batched).reshape(B)
        if not bool((beta > thresh).any()):
            break
        V = [r / col(_safe(beta))]
        H = torch.zeros(B, m + 1, m, **opts)
        cs, sn = torch.zeros(B, m, **opts), torch.zeros(B, m, **opts)
        g = torch.zeros(B, m + 1, **opts)
        g[:, 0] = beta
        used = 0
        for j in range(min(m, maxiter - k)):
            active = g[:, j].abs() > thresh
            if not bool(active.any()):
                break
            w = op(V[j])
            for i in range(j + 1):
                h = _dot(V[i], w, batched).reshape(B)
                H[:, i, j] = h
                w = w - col(h) * V[i]
            hn = _norm(w, batched).reshape(B)
            H[:, j + 1, j] = hn
            V.append(w / col(_safe(hn)))
            for i in range(j):  # earlier rotations
                a, c = H[:, i, j].clone(), H[:, i + 1, j].clone()
                H[:, i, j] = cs[:, i] * a + sn[:, i] * c
                H[:, i + 1, j] = -sn[:, i] * a + cs[:, i] * c
            a, c = H[:, j, j].clone(), H[:, j + 1, j].clone()
            rho = torch.hypot(a, c)
            ok = active & (rho > 0)
            cs[:, j] = torch.where(ok, a / _safe(rho), torch.ones_like(a))
            sn[:, j] = torch.where(ok, c / _safe(rho), torch.zeros_like(a))
            unit = torch.zeros(B, m + 1, **opts)
            unit[:, j] = 1.0
            column = H[:, :, j].clone()
            column[:, j], column[:, j + 1] = rho, 0.0
            H[:, :, j] = torch.where(ok[:, None], column, unit)
            gj = g[:, j].clone()
            g[:, j + 1] = torch.where(ok, -sn[:, j] * gj, gj)
            g[:, j] = torch.where(ok, cs[:, j] * gj, torch.zeros_like(gj))
            used, k = j + 1, k + 1
        if used == 0:
            break
        y = torch.linalg.solve_triangular(H[:, :used, :used], g[:, :used, None], upper=True)[..., 0]
        for i in range(used):
            x = x + col(y[:, i]) * V[i]
    return _finish(name, op, x, b, k, tol, atol, batched, on_fail)


def solve_bicgstab(matvec: MatVec, b: Tensor, *, ridge: float = 0.0, init: Tensor | None = None,
                   batched: bool = False, tol: float = 1e-10, atol: float = 0.0, maxiter: int | None = None,
                   on_fail: OnFail = "raise") -> LinearSolution:
    """BiCGSTAB (van der Vorst 1992) for general square ``A``; two matvecs per iteration."""
    name = "solve_bicgstab"
    _check_b(b, batched, name)
    op = _operator(matvec, b, ridge, batched, name)
    n = b[0].numel() if batched else b.numel()
    maxiter = _maxiter(maxiter, 10 * n, name)
    x = torch.zeros_like(b) if init is None else init.clone()
    r = b - op(x)
    r_hat = r.clone()
    thresh2 = torch.clamp(tol * _norm(b, batched), min=atol) ** 2
    one = torch.ones_like(_dot(r, r, batched))
    rho, alpha, omega = one, one, one
    v, p = torch.zeros_like(b), torch.zeros_like(b)
    k = 0
    while k < maxiter:
        active = _dot(r, r, batched) > thresh2
        if not bool(active.any()):
            break
        rho_new = _dot(r_hat, r, batched)
        beta = (rho_new / _safe(rho)) * (alpha / _safe(omega))
        p = r + beta * (p - omega * v)
        v = op(p)
        alpha = torch.where(active, rho_new / _safe(_dot(r_hat, v, batched)), torch.zeros_like(rho_new))
        s = r - alpha * v
        t = op(s)
        omega = torch.where(active, _dot(t, s, batched) / _safe(_dot(t, t, batched)), torch.zeros_like(rho_new))
        x = x + alpha * p + omega * s
        r = s - omega * t
        rho = rho_new
        k += 1
    return _finish(name, op, x, b, k, tol, atol, batched, on_fail)


SOLVERS: dict[str, Callable[..., LinearSolution]] = {
    "lu": solve_lu, "cholesky": solve_cholesky, "cg": solve_cg, "normal_cg": solve_normal_cg,
    "gmres": solve_gmres, "bicgstab": solve_bicgstab,
}
