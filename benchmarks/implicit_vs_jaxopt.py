"""sciml_core.implicit against JAXopt (Blondel et al. 2022, the paper's own library), side by side.

Three batched float64 problems, each solved and differentiated implicitly by both:

* ``ridge`` -- 32 ridge regressions (200 x 16), closed-form forward solve, custom_root with CG;
* ``fixed_point`` -- 32 fixed points x = 0.5 tanh(W x + b) + c (n = 64), 100 forward
  iterations, custom_fixed_point with GMRES;
* ``lm`` -- Levenberg-Marquardt fits of the hard-constraint MoE's size: 32 problems
  (8 samples x 4 experts), 16 unknowns, 2500 nonlinear residual rows (the diffusion-sorption
  rows of solvers/hard_constraint_moe) plus a ridge 1e-4 as extra rows; dense backward solve;
  the Jacobian by forward-mode autodiff in both libraries;
* ``lm_closed_form_jacobian`` -- the same fits with the Jacobian in closed form, given to both
  (``jacobian=`` here, ``jac_fun=`` in JAXopt), as the MoE's solver does.

Reported per problem: the largest relative difference of the gradients (target 1e-6) and
the time of solve + backward, ours over JAXopt's jitted ``value_and_grad`` (median of
repeats after warm-up, both single-threaded; target <= 1).  JAX and JAXopt come with the optional extra
``pip install '.[bench]'``; without them the benchmark says so and exits cleanly.

    python benchmarks/implicit_vs_jaxopt.py [--quick]
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import print_table, write_results
from sciml_core.implicit import custom_fixed_point, custom_root, levenberg_marquardt, solve_cg, solve_gmres

PROBLEMS = ("ridge", "fixed_point", "lm", "lm_closed_form_jacobian")
SORPTION, N_F, RATE = 2.1568, 0.874, 0.25  # ((1 - phi)/phi) rho_s k_f n_f, n_f, t_end D of diffusion-sorption


def timed(fn: Callable[[], Any], repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def max_rel(ours: list[np.ndarray], theirs: list[np.ndarray]) -> float:
    return max(float(np.linalg.norm(a - b) / np.linalg.norm(b)) for a, b in zip(ours, theirs))


# ---- problems: data -----------------------------------------------------------------------
def make_data(quick: bool) -> dict[str, dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    B = 8 if quick else 32
    m, d, n = (50, 8, 16) if quick else (200, 16, 64)
    W = rng.normal(size=(B, n, n))
    W *= 0.9 / np.linalg.norm(W, ord=2, axis=(1, 2))[:, None, None]
    P, N, M, M_ic = (8, 8, 300, 16) if quick else (32, 16, 2500, 32)
    basis = np.abs(rng.normal(size=(P, M, N))) / N + 0.02
    return {
        "ridge": {"X": rng.normal(size=(B, m, d)), "y": rng.normal(size=(B, m)), "v": rng.normal(size=(B, d))},
        "fixed_point": {"W": W, "b": rng.normal(size=(B, n)), "c": 0.1 * rng.normal(size=(B, n)),
                        "v": rng.normal(size=(B, n))},
        "lm": {"b": basis, "b_t": 0.1 * rng.normal(size=(P, M, N)), "b_xx": rng.normal(size=(P, M, N)),
               "b_ic": np.abs(rng.normal(size=(P, M_ic, N))) / N + 0.02, "u0": rng.uniform(0.05, 0.2, (P, M_ic)),
               "v": rng.normal(size=(P, N))},
    }


# ---- ours ---------------------------------------------------------------------------------
def ridge_F(w, X, y, lam):
    return torch.einsum("bmd,bm->bd", X, torch.einsum("bmd,bd->bm", X, w) - y) + lam * w


@custom_root(ridge_F, solve=functools.partial(solve_cg, batched=True, tol=1e-12))
def ridge_fit(w0, X, y, lam):
    eye = torch.eye(X.shape[-1], dtype=X.dtype)
    return torch.linalg.solve(X.transpose(1, 2) @ X + lam * eye, torch.einsum("bmd,bm->bd", X, y))


def fp_T(x, W, b, c):
    return 0.5 * torch.tanh(torch.einsum("bij,bj->bi", W, x) + b) + c


@custom_fixed_point(fp_T, solve=functools.partial(solve_gmres, batched=True, tol=1e-12))
def fp_iterate(x, W, b, c):
    for _ in range(100):
        x = fp_T(x, W, b, c)
    return x


def lm_residual(w, b, b_t, b_xx, b_ic, u0):
    """The MoE's diffusion-sorption rows, batched: (P, N) -> (P, M + M_ic + N); the sorption term
    at sqrt(u^2 + 1e-6) instead of max(u, 0) + 1e-6, so the problem is smooth where u crosses 0."""
    u = torch.einsum("pmn,pn->pm", b, w)
    pde = torch.einsum("pmn,pn->pm", b_t, w) - RATE / (1 + SORPTION * (u * u + 1e-6) ** ((N_F - 1) / 2)) * \
        torch.einsum("pmn,pn->pm", b_xx, w)
    ic = torch.einsum("pmn,pn->pm", b_ic, w) - u0
    return torch.cat([pde / b.shape[1] ** 0.5, 10 * ic / b_ic.shape[1] ** 0.5, 1e-2 * w], dim=1)


def lm_jacobian(w, b, b_t, b_xx, b_ic, u0):
    """``(r, J)`` of :func:`lm_residual` in closed form (the MoE's solver passes its own the same way):
    d pde / dw = b_t - c b_xx - (dc/du) u_xx b with c = RATE / R(u)."""
    u, u_xx = torch.einsum("pmn,pn->pm", b, w), torch.einsum("pmn,pn->pm", b_xx, w)
    s, q = u * u + 1e-6, (N_F - 1) / 2
    R = 1 + SORPTION * s**q
    c = RATE / R
    dc = -RATE * SORPTION * q * s ** (q - 1) * 2 * u / R**2
    M, M_ic, N = b.shape[1], b_ic.shape[1], w.shape[1]
    J = torch.cat([(b_t - c[..., None] * b_xx - (dc * u_xx)[..., None] * b) / M**0.5, 10 * b_ic / M_ic**0.5,
                   1e-2 * torch.eye(N, dtype=w.dtype).expand(w.shape[0], N, N)], dim=1)
    return lm_residual(w, b, b_t, b_xx, b_ic, u0), J


def ours(problem: str, data: dict[str, np.ndarray]) -> tuple[Callable[[], list[torch.Tensor]], list[str]]:
    t = {k: torch.tensor(v) for k, v in data.items()}
    if problem == "ridge":
        names = ["X", "y"]

        def run():
            X, y = t["X"].clone().requires_grad_(), t["y"].clone().requires_grad_()
            w = ridge_fit(torch.zeros(X.shape[0], X.shape[2], dtype=X.dtype), X, y, 0.5)
            return list(torch.autograd.grad((w * t["v"]).sum(), [X, y]))
    elif problem == "fixed_point":
        names = ["W", "b"]

        def run():
            W, b = t["W"].clone().requires_grad_(), t["b"].clone().requires_grad_()
            x = fp_iterate(torch.zeros_like(t["c"]), W, b, t["c"])
            return list(torch.autograd.grad((x * t["v"]).sum(), [W, b]))
    else:
        names = ["b", "b_xx"]

        def run():
            b, b_xx = t["b"].clone().requires_grad_(), t["b_xx"].clone().requires_grad_()
            init = torch.full((b.shape[0], b.shape[2]), 0.5, dtype=b.dtype)
            out = levenberg_marquardt(lm_residual, init, b, t["b_t"], b_xx, t["b_ic"], t["u0"], batched=True,
                                      gtol=1e-10, xtol=1e-13, maxiter=200, on_fail="raise",
                                      jacobian=lm_jacobian if problem == "lm_closed_form_jacobian" else None)
            run.iterations = out.iterations
            return list(torch.autograd.grad((out.x * t["v"]).sum(), [b, b_xx]))
    return run, names


# ---- JAXopt -------------------------------------------------------------------------------
def theirs(problem: str, data: dict[str, np.ndarray], lm_maxiter: int = 200) -> Callable[[], list[np.ndarray]]:
    import jax
    import jax.numpy as jnp
    from jaxopt import FixedPointIteration, LevenbergMarquardt, implicit_diff, linear_solve

    a = {k: jnp.asarray(v) for k, v in data.items()}
    if problem == "ridge":
        F = lambda w, X, y: X.T @ (X @ w - y) + 0.5 * w

        @implicit_diff.custom_root(F, solve=functools.partial(linear_solve.solve_cg, tol=1e-12))
        def fit(w0, X, y):
            return jnp.linalg.solve(X.T @ X + 0.5 * jnp.eye(X.shape[1]), X.T @ y)

        loss = lambda X, y: (jax.vmap(fit)(jnp.zeros(a["v"].shape), X, y) * a["v"]).sum()
        args = (a["X"], a["y"])
    elif problem == "fixed_point":
        T = lambda x, W, b, c: 0.5 * jnp.tanh(W @ x + b) + c
        solver = FixedPointIteration(T, maxiter=100, tol=1e-300,
                                     implicit_diff_solve=functools.partial(linear_solve.solve_gmres, tol=1e-12))
        one = lambda W, b, c: solver.run(jnp.zeros(c.shape), W, b, c).params
        loss = lambda W, b: (jax.vmap(one)(W, b, a["c"]) * a["v"]).sum()
        args = (a["W"], a["b"])
    else:
        def residual(w, b, b_t, b_xx, b_ic, u0):
            u = b @ w
            pde = b_t @ w - RATE / (1 + SORPTION * (u * u + 1e-6) ** ((N_F - 1) / 2)) * (b_xx @ w)
            return jnp.concatenate([pde / b.shape[0] ** 0.5, 10 * (b_ic @ w - u0) / b_ic.shape[0] ** 0.5, 1e-2 * w])

        def jacobian(w, b, b_t, b_xx, b_ic, u0):  # lm_jacobian, one problem
            u, u_xx = b @ w, b_xx @ w
            s, q = u * u + 1e-6, (N_F - 1) / 2
            R = 1 + SORPTION * s**q
            dc = -RATE * SORPTION * q * s ** (q - 1) * 2 * u / R**2
            return jnp.concatenate([(b_t - (RATE / R)[:, None] * b_xx - (dc * u_xx)[:, None] * b) / b.shape[0] ** 0.5,
                                    10 * b_ic / b_ic.shape[0] ** 0.5, 1e-2 * jnp.eye(w.shape[0])])

        # materialize_jac=True: J once per iteration (jacfwd, or the closed form), as JAXopt
        # advises for its Cholesky solver (without it the autodiff forward solve took 4.5 s, not 2.3 s)
        solver = LevenbergMarquardt(residual, maxiter=lm_maxiter, tol=1e-10, xtol=1e-13, gtol=1e-10, solver="cholesky",
                                    materialize_jac=True, implicit_diff_solve=linear_solve.solve_lu,
                                    jac_fun=jacobian if problem == "lm_closed_form_jacobian" else None)
        if solver.jac_fun is not None:  # jaxopt 0.8.5 drops jac_fun when materialize_jac=True (__post_init__)
            object.__setattr__(solver, "_jac_fun", solver.jac_fun)
        one = lambda b, b_t, b_xx, b_ic, u0: solver.run(jnp.full(b.shape[1], 0.5), b, b_t, b_xx, b_ic, u0)
        loss = lambda b, b_xx: (jax.vmap(one)(b, a["b_t"], b_xx, a["b_ic"], a["u0"]).params * a["v"]).sum()
        args = (a["b"], a["b_xx"])
        iterations = jax.jit(lambda: jax.vmap(one)(a["b"], a["b_t"], a["b_xx"], a["b_ic"], a["u0"]).state.iter_num)
    grad = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))

    def run():
        _, grads = grad(*args)
        jax.block_until_ready(grads)
        return [np.asarray(g) for g in grads]

    if problem.startswith("lm"):
        run.iterations = [int(i) for i in iterations()]
    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small problems, few repeats (smoke run)")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (JAX runs single-threaded)")
    args = parser.parse_args()
    # one thread each: XLA's pool otherwise keeps cores busy between calls and slows torch down
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
    torch.set_num_threads(args.threads)
    try:
        import jax
        import jaxopt  # noqa: F401
    except ImportError:
        print("implicit_vs_jaxopt: skipped -- jax and jaxopt are not installed (pip install '.[bench]')")
        return 0
    jax.config.update("jax_enable_x64", True)
    torch.set_default_dtype(torch.float64)
    repeats = args.repeats or (1 if args.quick else 7)
    data = make_data(args.quick)
    results: dict[str, Any] = {"grad_max_rel_diff": {}, "time_ratio_vs_jaxopt": {}, "ours_s": {}, "jaxopt_s": {}}
    rows = []
    for problem in PROBLEMS:
        run_ours, names = ours(problem, data[problem.split("_closed")[0]])
        run_theirs = theirs(problem, data[problem.split("_closed")[0]])
        diff = max_rel([g.detach().numpy() for g in run_ours()], run_theirs())
        t_ours, t_theirs = timed(run_ours, repeats), timed(run_theirs, repeats)
        results["grad_max_rel_diff"][problem] = diff
        results["time_ratio_vs_jaxopt"][problem] = t_ours / t_theirs
        results["ours_s"][problem], results["jaxopt_s"][problem] = t_ours, t_theirs
        shape = {k: list(v.shape) for k, v in data[problem.split("_closed")[0]].items()}
        results.setdefault("shapes", {})[problem] = shape
        if problem.startswith("lm"):  # iterations of the batch: ours stop per problem, vmap'd JAXopt runs to the last
            # and JAXopt capped at our iteration count: its time per iteration, and how far from converged it stops
            capped = theirs(problem, data["lm"], lm_maxiter=run_ours.iterations)
            results.setdefault("lm_iterations", {})[problem] = {
                "ours": run_ours.iterations, "jaxopt_max": max(run_theirs.iterations),
                "jaxopt_per_problem": run_theirs.iterations,
                "jaxopt_s_capped_at_ours": timed(capped, repeats),
                "jaxopt_capped_grad_max_rel_diff": max_rel([g.detach().numpy() for g in run_ours()], capped())}
        rows.append([problem, ", ".join(names), diff, t_ours * 1e3, t_theirs * 1e3, t_ours / t_theirs])
    print_table(rows, ["problem", "grads of", "grad max rel diff", "ours ms", "jaxopt ms", "time ratio (ours/jaxopt)"])
    from importlib.metadata import version

    results["jax"], results["jaxopt"] = version("jax"), version("jaxopt")
    write_results(__file__, results, args.quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
