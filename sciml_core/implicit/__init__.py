"""Implicit differentiation on ``torch.func``: roots, fixed points, linear and least-squares solves.

* :mod:`.root` -- :func:`custom_root` / :func:`custom_fixed_point`: wrap any solver; the
  backward pass solves the adjoint system ``(dF/dx)^T u = v`` matrix-free (VJPs of F),
  forward mode solves ``(dF/dx) d = -(dF/dargs) t`` (JVPs).
* :mod:`.linear` -- dense LU / Cholesky, CG, normal-equation CG, GMRES, BiCGSTAB: one
  signature ``solve(matvec, b, *, ridge, init, batched, tol, atol, maxiter, on_fail)``,
  a :class:`LinearSolution` with convergence per system.
* :mod:`.least_squares` -- batched Gauss-Newton and Levenberg-Marquardt, differentiable
  through :func:`custom_root` on ``J^T r + ridge x = 0``.

Example (ridge regression, gradients in the data and the regularisation)::

    def F(w, X, y, lam):                      # optimality: grad of 1/2||Xw - y||^2 + lam/2 ||w||^2
        return X.T @ (X @ w - y) + lam * w

    @custom_root(F, solve=partial(solve_cg, tol=1e-12))
    def ridge_fit(w0, X, y, lam):
        return torch.linalg.solve(X.T @ X + lam * torch.eye(X.shape[1]), X.T @ y)

    w = ridge_fit(torch.zeros(d), X, y, lam)  # w.backward(...) reaches X, y and lam
"""

from .least_squares import LeastSquaresResult, batched_jacobian, gauss_newton, levenberg_marquardt
from .linear import (
    SOLVERS,
    ConvergenceWarning,
    LinearSolution,
    materialize,
    solve_bicgstab,
    solve_cg,
    solve_cholesky,
    solve_gmres,
    solve_lu,
    solve_normal_cg,
)
from .root import custom_fixed_point, custom_root

__all__ = [
    "SOLVERS", "ConvergenceWarning", "LeastSquaresResult", "LinearSolution", "batched_jacobian", "custom_fixed_point",
    "custom_root", "gauss_newton", "levenberg_marquardt", "materialize", "solve_bicgstab", "solve_cg",
    "solve_cholesky", "solve_gmres", "solve_lu", "solve_normal_cg",
]
