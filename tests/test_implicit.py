"""sciml_core.implicit: implicit gradients against finite differences and unrolled autodiff
(float64, 1e-6 relative), graph size independent of the forward iterations, every linear
solver against torch.linalg.solve, and the errors."""

from __future__ import annotations

import functools
import warnings

import pytest
import torch
from torch import nn

from sciml_core.errors import ConvergenceError
from sciml_core.implicit import (
    SOLVERS,
    ConvergenceWarning,
    custom_fixed_point,
    custom_root,
    gauss_newton,
    levenberg_marquardt,
    solve_cg,
    solve_gmres,
    solve_lu,
    solve_normal_cg,
)

DT = torch.float64
RTOL = 1e-6


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def fd_grad(f, x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Central finite differences of a scalar function of one tensor."""
    g = torch.zeros_like(x)
    flat = g.view(-1)
    for i in range(x.numel()):
        e = torch.zeros_like(x).view(-1)
        e[i] = eps
        flat[i] = (f(x + e.view_as(x)) - f(x - e.view_as(x))) / (2 * eps)
    return g


# ---- ridge regression through custom_root ------------------------------------------------
def ridge_F(w, X, y, lam):
    return X.T @ (X @ w - y) + lam * w


def ridge_gd(w0, X, y, lam, steps=3000, lr=None):
    """Gradient descent: the forward solver (unrolled with a graph for the reference)."""
    lr = lr or 1.0 / float(torch.linalg.matrix_norm(X.detach(), 2) ** 2 + lam.detach())
    w = w0
    for _ in range(steps):
        w = w - lr * ridge_F(w, X, y, lam)
    return w


@pytest.fixture
def ridge_data():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(30, 6, generator=g, dtype=DT)
    y = torch.randn(30, generator=g, dtype=DT)
    v = torch.randn(6, generator=g, dtype=DT)  # cotangent: a non-trivial scalar loss v . w
    return X, y, torch.tensor(0.5, dtype=DT), v


@pytest.mark.parametrize("solve", [None, functools.partial(solve_cg, tol=1e-13), functools.partial(solve_lu)])
def test_ridge_regression_gradients_match_fd_and_unrolled(ridge_data, solve):
    X, y, lam, v = ridge_data
    fit = custom_root(ridge_F, solve=solve)(ridge_gd)
    Xr, yr, lr_ = (t.clone().requires_grad_() for t in (X, y, lam))
    w = fit(torch.zeros(6, dtype=DT), Xr, yr, lr_)
    gX, gy, gl = torch.autograd.grad(w @ v, (Xr, yr, lr_))

    Xu, yu, lu = (t.clone().requires_grad_() for t in (X, y, lam))
    wu = ridge_gd(torch.zeros(6, dtype=DT), Xu, yu, lu)
    uX, uy, ul = torch.autograd.grad(wu @ v, (Xu, yu, lu))
    assert rel(gX, uX) < RTOL and rel(gy, uy) < RTOL and rel(gl, ul) < RTOL

    closed = lambda X_, y_, l_: torch.linalg.solve(X_.T @ X_ + l_ * torch.eye(6, dtype=DT), X_.T @ y_) @ v
    assert rel(gX, fd_grad(lambda t: closed(t, y, lam), X)) < RTOL
    assert rel(gy, fd_grad(lambda t: closed(X, t, lam), y)) < RTOL
    assert rel(gl, fd_grad(lambda t: closed(X, y, t), lam)) < RTOL


def test_forward_mode_jvp_matches_fd(ridge_data):
    X, y, lam, _ = ridge_data
    fit = custom_root(ridge_F, solve=functools.partial(solve_gmres, tol=1e-13))(ridge_gd)
    g = torch.Generator().manual_seed(1)
    tX, ty = torch.randn(X.shape, generator=g, dtype=DT), torch.randn(y.shape, generator=g, dtype=DT)
    tl = torch.tensor(0.7, dtype=DT)
    _, d = torch.func.jvp(lambda a, b, c: fit(torch.zeros(6, dtype=DT), a, b, c), (X, y, lam), (tX, ty, tl))
    closed = lambda a, b, c: torch.linalg.solve(a.T @ a + c * torch.eye(6, dtype=DT), a.T @ b)
    eps = 1e-6
    fd = (closed(X + eps * tX, y + eps * ty, lam + eps * tl) - closed(X - eps * tX, y - eps * ty, lam - eps * tl)) / (2 * eps)
    assert rel(d, fd) < RTOL


# ---- a contraction fixed point, parameters in a module and in tensors ---------------------
class Map(nn.Module):
    """T(x) = 0.5 tanh(W x + b) + c: a contraction (||W|| < 1), non-symmetric Jacobian."""

    def __init__(self, n: int) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(3)
        W = torch.randn(n, n, generator=g, dtype=DT)
        self.lin = nn.Linear(n, n, dtype=DT)
        with torch.no_grad():
            self.lin.weight.copy_(0.9 * W / torch.linalg.matrix_norm(W, 2))
            self.lin.bias.copy_(torch.randn(n, generator=g, dtype=DT))

    def forward(self, x):
        return 0.5 * torch.tanh(self.lin(x))


def T(x, module, c):
    return module(x) + c


def iterate(x0, module, c, steps=200):
    x = x0
    for _ in range(steps):
        x = T(x, module, c)
    return x


def test_fixed_point_gradients_for_module_parameters_and_tensors():
    n = 5
    m = Map(n)
    c = torch.linspace(-0.3, 0.4, n, dtype=DT).requires_grad_()
    v = torch.arange(1.0, n + 1, dtype=DT)
    solver = custom_fixed_point(T, solve=functools.partial(solve_gmres, tol=1e-13))(iterate)
    x = solver(torch.zeros(n, dtype=DT), m, c)
    assert float((T(x, m, c) - x).norm()) < 1e-12
    params = [m.lin.weight, m.lin.bias, c]
    g_impl = torch.autograd.grad(x @ v, params)
    g_unroll = torch.autograd.grad(iterate(torch.zeros(n, dtype=DT), m, c) @ v, params)
    for a, b in zip(g_impl, g_unroll):
        assert rel(a, b) < RTOL

    def loss_in_c(cc):
        with torch.no_grad():
            return iterate(torch.zeros(n, dtype=DT), m, cc) @ v
    assert rel(g_impl[2], fd_grad(loss_in_c, c.detach())) < RTOL


def test_batched_fixed_point_with_batched_solver():
    """A batch of independent fixed points; the batched GMRES sees each system separately."""
    m = Map(4)
    c = torch.randn(3, 4, dtype=DT, generator=torch.Generator().manual_seed(5)).requires_grad_()
    solver = custom_fixed_point(T, solve=functools.partial(solve_gmres, batched=True, tol=1e-13))(iterate)
    x = solver(torch.zeros(3, 4, dtype=DT), m, c)
    g = torch.autograd.grad((x * x).sum(), c)[0]
    gu = torch.autograd.grad((iterate(torch.zeros(3, 4, dtype=DT), m, c) ** 2).sum(), c)[0]
    assert rel(g, gu) < RTOL


def _graph_size(t: torch.Tensor) -> int:
    seen, stack = set(), [t.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        stack.extend(f for f, _ in node.next_functions)
    return len(seen)


def _saved_bytes(fn) -> tuple[torch.Tensor, int]:
    total = 0

    def pack(t):
        nonlocal total
        total += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return out, total


def test_backward_memory_does_not_grow_with_forward_iterations():
    m = Map(6)
    c = torch.zeros(6, dtype=DT, requires_grad=True)
    sizes, saved = [], []
    for steps in (10, 200):
        solver = custom_fixed_point(T)(functools.partial(iterate, steps=steps))
        x, nbytes = _saved_bytes(functools.partial(solver, torch.zeros(6, dtype=DT), m, c))
        sizes.append(_graph_size(x))
        saved.append(nbytes)
    assert sizes[0] == sizes[1] and saved[0] == saved[1]
    # the unrolled graph does grow: the measure would see a leak
    unrolled = [_graph_size(iterate(torch.zeros(6, dtype=DT), m, c, steps=s)) for s in (10, 200)]
    assert unrolled[1] > 10 * unrolled[0] > sizes[0]


# ---- nonlinear least squares ---------------------------------------------------------------
T_GRID = torch.linspace(0.0, 2.0, 25, dtype=DT)


def expo_residual(p, data, t):
    """Model a exp(b t) + c against data: 3 unknowns, batched over dim 0."""
    return p[..., 0:1] * torch.exp(p[..., 1:2] * t) + p[..., 2:3] - data


def make_data(theta):
    noise = 0.05 * torch.sin(7 * T_GRID)  # not an exact fit: second-order terms matter
    return theta[..., 0:1] * torch.exp(theta[..., 1:2] * T_GRID) + theta[..., 2:3] + noise


@pytest.mark.parametrize("method", ["lm", "gn"])
def test_least_squares_gradients_match_fd_and_unrolled(method):
    theta = torch.tensor([[1.2, -0.8, 0.3], [0.5, 0.4, -0.2]], dtype=DT)
    ridge = 1e-4
    init = torch.tensor([[1.0, -0.5, 0.0], [0.6, 0.2, 0.0]], dtype=DT)
    v = torch.tensor([[1.0, -2.0, 0.5], [0.3, 0.7, -1.1]], dtype=DT)
    fit = levenberg_marquardt if method == "lm" else gauss_newton
    data = make_data(theta).requires_grad_()
    out = fit(expo_residual, init, data, T_GRID, ridge=ridge, batched=True, gtol=1e-10, on_fail="raise")
    assert out.success and out.x.shape == (2, 3)
    g = torch.autograd.grad((out.x * v).sum(), data)[0]

    # unrolled: exact Newton steps on the optimality condition, with a graph (an independent solver)
    d = data.detach().clone().requires_grad_()
    gu = torch.autograd.grad((newton(out.x.detach(), d, ridge) * v).sum(), d)[0]
    assert rel(g, gu) < RTOL
    gen = torch.Generator().manual_seed(4)
    with torch.no_grad():  # directional finite differences along random directions
        for _ in range(3):
            e = torch.randn(data.shape, generator=gen, dtype=DT)
            loss = lambda dd: (newton(out.x, dd, ridge) * v).sum()
            fd = (loss(data + 1e-5 * e) - loss(data - 1e-5 * e)) / 2e-5
            assert abs(float((g * e).sum() - fd)) < RTOL * abs(float(fd))


def newton(x, data, ridge, steps=8):
    def cost(p, dd):
        return 0.5 * (expo_residual(p, dd, T_GRID) ** 2).sum() + 0.5 * ridge * (p * p).sum()
    for _ in range(steps):
        H = torch.func.vmap(torch.func.hessian(cost))(x, data)
        x = x - torch.linalg.solve(H, torch.func.vmap(torch.func.grad(cost))(x, data))
    return x


def test_lm_adapts_damping_and_reports_non_convergence():
    theta = torch.tensor([[1.2, -0.8, 0.3]], dtype=DT)
    data = make_data(theta)
    far = torch.tensor([[5.0, 2.0, -3.0]], dtype=DT)
    out = levenberg_marquardt(expo_residual, far, data, T_GRID, batched=True, gtol=1e-10, implicit=False)
    near = levenberg_marquardt(expo_residual, theta, data, T_GRID, batched=True, gtol=1e-10, implicit=False)
    assert out.success and near.success and float((out.x - near.x).abs().max()) < 1e-8
    assert float(out.damping) < 1e-2  # adapted down from its start, 1e-3 max diag(J^T J) ~ 30
    with pytest.warns(ConvergenceWarning, match=r"levenberg_marquardt: 1 of 1 problem\(s\) not converged in 2"):
        levenberg_marquardt(expo_residual, far, data, T_GRID, batched=True, maxiter=2, implicit=False)
    with pytest.raises(ConvergenceError, match="not converged"):
        levenberg_marquardt(expo_residual, far, data, T_GRID, batched=True, maxiter=2, on_fail="raise")



def test_lm_marquardt_scaling_is_invariant_to_the_units_of_the_unknowns():
    """``scaling="marquardt"`` damps with diag(J^T J): rescaling the unknowns (q = S x) leaves
    its iterates unchanged (to rounding), where the identity damping's change completely."""
    S = torch.tensor([1e3, 1.0, 1e-2], dtype=DT)
    theta = torch.tensor([[1.2, -0.8, 0.3], [0.5, 0.4, -0.2]], dtype=DT)
    data = make_data(theta)
    init = torch.tensor([[1.0, -0.5, 0.0], [0.6, 0.2, 0.0]], dtype=DT)
    scaled = lambda q, d, t: expo_residual(q / S, d, t)
    diffs = {}
    for scaling in ("identity", "marquardt"):
        kw = dict(batched=True, gtol=0.0, xtol=0.0, maxiter=6, implicit=False, scaling=scaling, on_fail="ignore")
        a = levenberg_marquardt(expo_residual, init, data, T_GRID, **kw)
        b = levenberg_marquardt(scaled, init * S, data, T_GRID, **kw)
        diffs[scaling] = float(((b.x / S - a.x).abs() / a.x.abs()).max())
    assert diffs["marquardt"] < 1e-9 and diffs["identity"] > 0.1
    fit = levenberg_marquardt(scaled, init * S, data, T_GRID, batched=True, gtol=1e-10, maxiter=30, implicit=False,
                              scaling="marquardt", on_fail="raise")
    ref = levenberg_marquardt(expo_residual, init, data, T_GRID, batched=True, gtol=1e-10, implicit=False)
    assert float((fit.x / S - ref.x).abs().max()) < 1e-8


def test_lm_marquardt_scaling_converges_where_identity_damping_stalls():
    """Curvatures over ten decades: the identity damping starts at 1e-3 of the largest and crawls
    in the flat directions; the diagonal one takes near-Newton steps in all of them."""
    s = torch.logspace(0, 5, 6, dtype=DT)
    sep = lambda x, y: s * (x + 0.1 * x**3 - y)
    y, x0 = torch.ones(1, 6, dtype=DT), torch.zeros(1, 6, dtype=DT)
    kw = dict(batched=True, gtol=1e-9, maxiter=12, implicit=False, on_fail="ignore")
    assert not levenberg_marquardt(sep, x0, y, scaling="identity", **kw).success
    out = levenberg_marquardt(sep, x0, y, scaling="marquardt", **kw)
    assert out.success and out.iterations <= 8
    with pytest.raises(ValueError, match="scaling must be 'identity' or 'marquardt', got 'diag'"):
        levenberg_marquardt(sep, x0, y, scaling="diag", **kw)

# ---- linear solvers ------------------------------------------------------------------------
def _systems(spd: bool, batch: int | None, n: int = 12):
    g = torch.Generator().manual_seed(7 + spd)
    shape = (batch, n, n) if batch else (n, n)
    M = torch.randn(shape, generator=g, dtype=DT)
    A = M @ M.transpose(-1, -2) + n * torch.eye(n, dtype=DT) if spd else M + 2 * n ** 0.5 * torch.eye(n, dtype=DT)
    if batch:  # systems differ in scale, so per-system step sizes matter
        A = A * torch.arange(1, batch + 1, dtype=DT)[:, None, None]
    b = torch.randn(shape[:-1], generator=g, dtype=DT)
    return A, b


@pytest.mark.parametrize("name", sorted(SOLVERS))
@pytest.mark.parametrize("batch", [None, 3])
@pytest.mark.parametrize("ridge", [0.0, 0.7])
def test_linear_solver_matches_torch_linalg_solve(name, batch, ridge):
    spd = name in ("cg", "cholesky")
    A, b = _systems(spd, batch)
    n = A.shape[-1]
    want = torch.linalg.solve(A + ridge * torch.eye(n, dtype=DT), b)
    if name == "normal_cg":  # solves (A^T A + ridge I) x = A^T b
        At = A.transpose(-1, -2)
        want = torch.linalg.solve(At @ A + ridge * torch.eye(n, dtype=DT), (At @ b[..., None])[..., 0])
    matvec = (lambda x: (A @ x[..., None])[..., 0])
    sol = SOLVERS[name](matvec, b, ridge=ridge, batched=batch is not None, tol=1e-12)
    assert sol.success and sol.converged.shape == ((batch,) if batch else ())
    assert rel(sol.x, want) < 1e-9
    # a dense matrix works as the operator too
    assert rel(SOLVERS[name](A, b, ridge=ridge, batched=batch is not None, tol=1e-12).x, want) < 1e-9


def test_gmres_restarts_and_normal_cg_non_square():
    A, b = _systems(False, None, n=40)
    sol = solve_gmres(lambda x: A @ x, b, restart=5, tol=1e-12, maxiter=400)
    assert sol.success and rel(sol.x, torch.linalg.solve(A, b)) < 1e-9
    g = torch.Generator().manual_seed(2)
    R = torch.randn(15, 4, generator=g, dtype=DT)
    y = torch.randn(15, generator=g, dtype=DT)
    sol = solve_normal_cg(lambda x: R @ x, y, init=torch.zeros(4, dtype=DT), tol=1e-12)
    assert rel(sol.x, torch.linalg.lstsq(R, y[:, None]).solution[:, 0]) < 1e-9


def test_linear_solver_errors():
    A, b = _systems(False, None)
    with pytest.raises(ValueError, match=r"solve_gmres: matvec maps shape \(12,\) to \(6,\)"):
        solve_gmres(lambda x: x[:6], b)
    with pytest.raises(ValueError, match=r"solve_lu: matrix of shape \(12, 11\) does not match b of shape \(12,\)"):
        solve_lu(A[:, :11], b)
    with pytest.raises(ValueError, match="maxiter must be >= 1, got 0"):
        solve_cg(lambda x: A @ x, b, maxiter=0)
    with pytest.raises(ValueError, match=r"batched=True needs b of shape \(batch, n, ...\)"):
        solve_cg(lambda x: A @ x, b, batched=True)
    with pytest.raises(ConvergenceError, match=r"solve_gmres: 1 of 1 system\(s\) did not converge in 3 iterations"):
        solve_gmres(lambda x: A @ x, b, maxiter=3)
    with pytest.warns(ConvergenceWarning, match="solve_bicgstab: 1 of 1"):
        sol = solve_bicgstab_few(A, b)
    assert not sol.success and float(sol.residual_norm) > 0
    with pytest.raises(ConvergenceError, match="solve_cholesky: matrix not positive definite"):
        SOLVERS["cholesky"](-torch.eye(3, dtype=DT), torch.ones(3, dtype=DT))
    with pytest.raises(ConvergenceError, match="solve_lu: matrix singular"):
        solve_lu(torch.zeros(3, 3, dtype=DT), torch.ones(3, dtype=DT))


def solve_bicgstab_few(A, b):
    return SOLVERS["bicgstab"](lambda x: A @ x, b, maxiter=2, on_fail="warn")


def test_backward_raises_when_the_adjoint_solve_does_not_converge(ridge_data):
    X, y, lam, v = ridge_data
    fit = custom_root(ridge_F, solve=functools.partial(solve_cg, maxiter=1))(ridge_gd)
    Xr = X.clone().requires_grad_()
    w = fit(torch.zeros(6, dtype=DT), Xr, y, lam)
    with pytest.raises(ConvergenceError, match="solve_cg: 1 of 1 system"):
        (w @ v).backward()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit_ok = custom_root(ridge_F, solve=functools.partial(solve_cg, tol=1e-12))(ridge_gd)
        fit_ok(torch.zeros(6, dtype=DT), Xr, y, lam).sum().backward()
