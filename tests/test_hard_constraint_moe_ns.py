"""hard-constraint-moe on 2D Navier-Stokes (vorticity): spectral velocity, the closed-form
Jacobian, the Taylor-Green residual, locality of the expert backward pass, the block layout,
and tiny end-to-end runs of moe / hard / soft on a generated file."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from sciml_core import solve
from sciml_core.config import build_config
from sciml_core.data.generate import generate
from sciml_core.data.specs import load_spec
from sciml_core.data.trajectories import TrajectorySet
from sciml_core.errors import ConfigError
from sciml_core.implicit import batched_jacobian
from sciml_core.registry import get_pde, get_solver
from solvers.hard_constraint_moe.constraint import solve_experts
from solvers.hard_constraint_moe.navier_stokes import (NavierStokesProblem, VorticityConstraint, VorticityResidual,
                                                       spectral_derivatives)

DT = torch.float64


def grid(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(y, x) mesh of the periodic [0, 2 pi)^2 with n cells a side, each (n, n)."""
    pts = 2 * math.pi * torch.arange(n, dtype=DT) / n
    return torch.meshgrid(pts, pts, indexing="ij")


def random_constraint(P: int = 4, M: int = 30, N: int = 5, M_ic: int = 12, seed: int = 0) -> VorticityConstraint:
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g, dtype=DT)
    return VorticityConstraint(*(r(P, M, N) for _ in range(7)), source=r(P, M), basis_ic=r(P, M_ic, N), w0=r(P, M_ic))


def test_spectral_velocity_of_taylor_green():
    """w = 2 sin x sin y: psi = sin x sin y, (u, v) = (sin x cos y, -cos x sin y), Lap w = -2 w."""
    y, x = grid(16)
    w = 2 * torch.sin(x) * torch.sin(y)
    d = spectral_derivatives(w[None, None], 2 * math.pi / 16, 2 * math.pi / 16)
    expected = {"b_u": torch.sin(x) * torch.cos(y), "b_v": -torch.cos(x) * torch.sin(y), "b_lap": -2 * w,
                "b_x": 2 * torch.cos(x) * torch.sin(y), "b_y": 2 * torch.sin(x) * torch.cos(y)}
    for name, want in expected.items():
        assert float((d[name][0, 0] - want).abs().max()) < 1e-12, name


def test_closed_form_jacobian_matches_autodiff():
    system = VorticityResidual(nu=0.03, drag=0.1, scale=0.7, ic_weight=3.0)
    c = random_constraint()
    w = 0.5 * torch.randn(4, 5, dtype=DT, generator=torch.Generator().manual_seed(1))
    r, J = system.rows_and_jacobian(w, c)
    r_ad, J_ad = batched_jacobian(lambda x: system.rows(x, c), w)
    assert torch.allclose(r, r_ad, rtol=1e-13, atol=1e-13)
    assert float((J - J_ad).abs().max()) < 1e-12 * float(J_ad.abs().max())


def test_expert_solves_are_stationary_and_their_backward_is_local():
    system = VorticityResidual(nu=0.03, drag=0.1, scale=0.2, ic_weight=3.0)  # drag: b itself enters r
    c = random_constraint(seed=2)
    c.basis_x.mul_(0.1), c.basis_y.mul_(0.1)  # a mildly nonlinear problem: LM converges from zero
    for name in vars(c):
        getattr(c, name).requires_grad_()
    w, stats = solve_experts(system, c, ridge=1e-4, tol=1e-10, maxiter=100)
    assert stats["lm_converged"] == 1.0
    grad = torch.func.grad(lambda x: 0.5 * system.rows(x, c).pow(2).sum() + 0.5e-4 * x.pow(2).sum())(w.detach())
    assert float(grad.detach().abs().max()) < 1e-8
    g_basis, g_u = torch.autograd.grad(w[2].sum(), [c.basis, c.basis_u])
    assert float(g_basis[2].abs().max()) > 0 and float(g_u[2].abs().max()) > 0
    assert float(g_basis[[0, 1, 3]].abs().max()) == 0.0 and float(g_u[[0, 1, 3]].abs().max()) == 0.0


def trajectory_set(w: np.ndarray, t: np.ndarray, nu: float) -> TrajectorySet:
    """An in-memory unforced Navier-Stokes dataset, w (n, T, Y, X), mean 0 and std 1."""
    n, _, Y, X = w.shape
    tensor = lambda a: torch.as_tensor(a, dtype=DT)
    pts = lambda m: 2 * np.pi * np.arange(m) / m
    params = json.dumps({"nu": nu, "forcing": 0.0, "drag": 0.0, "n": X, "t_end": float(t[-1])})
    return TrajectorySet(path=Path("memory.h5"), fields=("w",), param_names=(), train=tensor(w[:, :, None]),
                         test=tensor(w[:1, :, None]), train_params=tensor(np.zeros((n, 0))),
                         test_params=tensor(np.zeros((1, 0))), train_samples=np.arange(n), test_samples=np.arange(1),
                         t=t, coords={"y": pts(Y), "x": pts(X)}, mean=tensor([0.0]), std=tensor([1.0]),
                         attrs={"pde_params": params})


def problem(n_experts: int = 4, **config: object) -> NavierStokesProblem:
    cls = get_solver("hard-constraint-moe")
    cfg = build_config(cls.Config, {"n_experts": n_experts, **config})
    return NavierStokesProblem(get_pde("navier-stokes-2d").from_params({}), cfg)


def test_taylor_green_residual_vanishes_and_the_blocks_reassemble():
    """w = 2 sin x sin y exp(-2 nu t) is an exact solution: with it as basis function 0 and
    c = e_0 the residual is the time differences' error only; the wrong nu leaves O(nu w)."""
    nu, n, t = 0.05, 16, np.linspace(0.0, 1.0, 11)
    y, x = grid(n)
    tg = (2 * torch.sin(x) * torch.sin(y))[None] * torch.exp(-2 * nu * torch.as_tensor(t))[:, None, None]
    others = torch.randn(3, len(t), n, n, dtype=DT, generator=torch.Generator().manual_seed(0))
    b = torch.cat([tg[None], others])[None]  # (1, N = 4, T, Y, X)
    c = torch.tensor([[1.0, 0.0, 0.0, 0.0]], dtype=DT).expand(4, 4)
    residuals = {}
    for name, value in (("exact", nu), ("wrong", 2 * nu)):
        p = problem()
        p.bind(trajectory_set(tg.numpy()[None].repeat(2, 0), t, value))
        g = p.grids(lambda ic, n_t: b, tg[:1, :, :], len(t))
        residuals[name] = p.system.pde_rows(c, p.nodes(g, None))
        assert residuals[name].shape == (4, len(t) * (n // 2) ** 2)
        assert torch.equal(p.unblock(g["b"][..., 0]), tg[None, :, None])  # the piecewise layout round-trips
    assert float(residuals["exact"].abs().max()) < 1e-5
    assert float(residuals["wrong"].abs().max()) > 1e-2


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    spec = load_spec("ns-grf-2d", {"n_samples": 8, "block_size": 8, "pde_params": {"n": 16}, "times": {"n_t": 6},
                                   "solver": {"config": {"n": 16}}})
    path = tmp_path_factory.mktemp("ns") / "ns.h5"
    generate(spec, path, seed=0, progress=False)
    return path


TINY = ["train.adam_steps=2", "train.log_every=1", "n_points=64", "width=4", "n_modes=3", "n_layers=1", "n_basis=4",
        "data.n_test=2", "batch_size=2", "lm_maxiter=10"]


@pytest.mark.parametrize("constraint", ["moe", "hard", "soft"])
def test_end_to_end_on_a_generated_file(dataset, tmp_path, constraint):
    result = solve("navier-stokes-2d", "hard-constraint-moe", data=dataset, out=tmp_path / constraint,
                   overrides=TINY + [f"constraint={constraint}"], progress=False)
    m = result.metrics
    assert m["kind"] == "operator" and m["steps"] == 2 and m["n_test"] == 2 and m["n_train"] == 6
    assert m["experts"] == (4 if constraint == "moe" else 1)
    assert 0 < m["rel_l2"] < 10 and len(m["rel_l2_per_sample"]) == 2 and np.isfinite(m["final_loss"])
    sol = result.solution
    assert sol["w"].dims == ("sample", "t", "y", "x") and sol["w"].shape == (2, 6, 16, 16) and "w_ref" in sol
    assert np.allclose(sol["w"][:, 0], sol["w_ref"][:, 0], atol=1e-6)  # the stored initial frame
    assert (tmp_path / constraint / "solution.nc").exists()


@pytest.mark.parametrize("n_experts", [9, 2])
def test_a_grid_that_does_not_split_into_the_experts(dataset, n_experts):
    with pytest.raises(ConfigError, match=f"16 x 16 grid does not split into n_experts = {n_experts} equal"):
        solve("navier-stokes-2d", "hard-constraint-moe", data=dataset, overrides=TINY + [f"n_experts={n_experts}"],
              progress=False)
