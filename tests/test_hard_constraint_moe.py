"""hard-constraint-moe: the experts' problems, their closed-form Jacobian, locality of the
implicit backward pass, and tiny end-to-end runs of moe / hard / soft on a generated file."""

from __future__ import annotations

import pytest
import torch

from sciml_core import solve
from sciml_core.data.generate import generate
from sciml_core.data.specs import load_spec
from sciml_core.errors import ConfigError
from sciml_core.implicit import batched_jacobian
from sciml_core.registry import get_pde
from solvers.hard_constraint_moe.constraint import Constraint, DiffusionSorptionResidual, solve_experts

DT = torch.float64


def random_constraint(P: int = 4, M: int = 40, N: int = 5, T: int = 6, Xk: int = 4, seed: int = 0) -> Constraint:
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: 0.3 * torch.randn(*s, generator=g, dtype=DT)
    side = torch.tensor([1.0, 0.0, 0.0, 0.0], dtype=DT)[:P]
    basis = r(P, M, N).abs() + 0.2  # u = b . w stays away from u = 0, where R(max(u, 0)) has a kink
    return Constraint(basis, r(P, M, N), r(P, M, N), r(P, Xk, N).abs() + 0.2, r(P, Xk).abs(), r(P, T, N).abs() + 0.2,
                      r(P, T, N), r(P, T, N), side, side.flip(0))


@pytest.fixture
def system():
    return DiffusionSorptionResidual(get_pde("diffusion-sorption").from_params({}), ic_weight=3.0, bc_weight=2.0)


def test_closed_form_jacobian_matches_autodiff(system):
    c = random_constraint()
    w = 0.5 * torch.randn(4, 5, dtype=DT, generator=torch.Generator().manual_seed(1))
    r, J = system.rows_and_jacobian(w, c)
    r_ad, J_ad = batched_jacobian(lambda x: system.rows(x, c), w)
    assert torch.allclose(r, r_ad) and float((J - J_ad).abs().max()) < 1e-12 * float(J_ad.abs().max())
    # boundary rows only where the expert touches the boundary
    T = c.basis_left.shape[1]
    assert float(J[1:, -2 * T:].abs().max()) == 0.0 or bool(c.right[1:].any())


def test_expert_solves_are_stationary_and_their_backward_is_local(system):
    c = random_constraint()
    for name in Constraint.__dataclass_fields__:
        getattr(c, name).requires_grad_()
    w, stats = solve_experts(system, c, ridge=1e-4, tol=1e-10, maxiter=100)
    assert stats["lm_converged"] == 1.0
    grad = torch.func.grad(lambda x: 0.5 * system.rows(x, c).pow(2).sum() + 0.5e-4 * x.pow(2).sum())(w.detach())
    assert float(grad.detach().abs().max()) < 1e-8
    (g_basis,) = torch.autograd.grad(w[2].sum(), [c.basis])
    assert float(g_basis[2].abs().max()) > 0
    assert float(g_basis[[0, 1, 3]].abs().max()) == 0.0  # expert 2's weights ignore the other experts


def test_a_starting_point_changes_neither_the_weights_nor_their_gradient(system):
    """``init`` only moves where Levenberg-Marquardt starts; a wrong shape is refused."""
    out = []
    for init in (None, 0.7 * torch.ones(4, 5, dtype=DT)):
        c = random_constraint(seed=5)
        c.basis.requires_grad_()
        w, stats = solve_experts(system, c, ridge=1e-4, tol=1e-12, maxiter=200, init=init)
        assert stats["lm_converged"] == 1.0
        out.append((w.detach(), torch.autograd.grad((w * w).sum(), c.basis)[0]))
    assert torch.allclose(out[0][0], out[1][0], atol=1e-9) and torch.allclose(out[0][1], out[1][1], atol=1e-7)
    with pytest.raises(ValueError, match=r"solve_experts: init must have shape \(4, 5\), got \(4, 6\)"):
        solve_experts(system, random_constraint(), ridge=1e-4, tol=1e-10, maxiter=5, init=torch.zeros(4, 6, dtype=DT))


@pytest.mark.parametrize("method,scaling", [("gauss-newton", "identity"), ("levenberg-marquardt", "marquardt")])
def test_every_least_squares_method_reaches_the_same_weights_and_gradient(system, method, scaling, monkeypatch):
    """``method`` / ``scaling`` change the path, not the solution nor its implicit gradient."""
    import solvers.hard_constraint_moe.constraint as module

    calls = []
    for name in ("gauss_newton", "levenberg_marquardt"):
        real = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, _f=real, _n=name, **k: calls.append(
            (_n, k.get("scaling"), k.get("damping"))) or _f(*a, **k))
    out = []
    for kw in ({}, {"method": method, "scaling": scaling, "damping": 1e-6}):
        c = random_constraint(seed=5)
        c.basis.requires_grad_()
        w, stats = solve_experts(system, c, ridge=1e-4, tol=1e-12, maxiter=200, **kw)
        assert stats["lm_converged"] == 1.0
        out.append((w.detach(), torch.autograd.grad((w * w).sum(), c.basis)[0], stats["lm_iterations"]))
    assert torch.allclose(out[0][0], out[1][0], atol=1e-9) and torch.allclose(out[0][1], out[1][1], atol=1e-7)
    chosen = ("gauss_newton", None, None) if method == "gauss-newton" else ("levenberg_marquardt", scaling, 1e-6)
    assert calls == [("levenberg_marquardt", "identity", 1e-3), chosen]  # the options reached the solver
    with pytest.raises(ValueError, match="solve_experts: method must be 'levenberg-marquardt' or 'gauss-newton'"):
        solve_experts(system, random_constraint(), ridge=1e-4, tol=1e-10, maxiter=5, method="newton")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    spec = load_spec("diffusion-sorption", {"n_samples": 5, "block_size": 5, "times": {"n_t": 11},
                                            "solver": {"config": {"n": 16, "rtol": 1e-5}}})
    path = tmp_path_factory.mktemp("ds") / "ds.h5"
    generate(spec, path, seed=0, progress=False)
    return path


TINY = ["train.adam_steps=2", "train.log_every=1", "n_points=64", "width=4", "n_modes=3", "n_layers=1", "n_basis=4",
        "data.n_test=2", "data.t_stride=1", "data.x_stride=1", "batch_size=2", "lm_maxiter=10"]


@pytest.mark.parametrize("constraint", ["moe", "hard", "soft"])
def test_end_to_end_on_a_generated_file(dataset, tmp_path, constraint):
    result = solve("diffusion-sorption", "hard-constraint-moe", data=dataset, out=tmp_path / constraint,
                   overrides=TINY + [f"constraint={constraint}"], progress=False)
    m = result.metrics
    assert m["kind"] == "operator" and m["steps"] == 2 and m["n_test"] == 2 and m["experts"] == (4 if constraint == "moe" else 1)
    assert 0 < m["rel_l2"] < 10 and len(m["rel_l2_per_sample"]) == 2
    sol = result.solution
    assert sol["u"].dims == ("sample", "t", "x") and sol["u"].shape == (2, 11, 16) and "u_ref" in sol
    assert (tmp_path / constraint / "solution.nc").exists()


def test_configuration_errors(dataset):
    with pytest.raises(ConfigError, match="16 grid points do not split into 5 experts"):
        solve("diffusion-sorption", "hard-constraint-moe", data=dataset, overrides=TINY + ["n_experts=5"],
              progress=False)
    with pytest.raises(ConfigError, match="give its dataset file with --data FILE"):
        solve("diffusion-sorption", "hard-constraint-moe", overrides=TINY, progress=False)
    with pytest.raises(ConfigError, match="lm_damping must be > 0, got 0.0"):
        solve("diffusion-sorption", "hard-constraint-moe", data=dataset, overrides=TINY + ["lm_damping=0.0"],
              progress=False)


def test_experts_spread_over_devices_give_the_same_weights_and_gradients(system):
    """The one-expert-per-device path (here two CPU 'devices') against the batched solve."""
    grads = []
    for devices in (None, [torch.device("cpu"), torch.device("cpu")]):
        c = random_constraint(seed=3)
        c.basis.requires_grad_()
        w, _ = solve_experts(system, c, ridge=1e-4, tol=1e-10, maxiter=100, devices=devices)
        grads.append((w.detach(), torch.autograd.grad((w * w).sum(), c.basis)[0]))
    assert torch.allclose(grads[0][0], grads[1][0], atol=1e-12) and torch.allclose(grads[0][1], grads[1][1], atol=1e-10)


@pytest.mark.parametrize("conditions", ["global", "local"])
def test_every_expert_gets_the_global_initial_and_boundary_conditions(conditions):
    """The paper's experts each fit the whole IC and both BCs; 'local' gives an inner block none."""
    from sciml_core.config import build_config
    from sciml_core.registry import get_solver
    from sciml_core.solver import RunContext

    cls = get_solver("hard-constraint-moe")
    cfg = build_config(cls.Config, {"expert_conditions": conditions, "n_experts": 4})
    solver = cls(get_pde("diffusion-sorption").from_params({}), cfg, RunContext(device=torch.device("cpu"),
                                                                                 progress=False))
    B, K, T, Xk, N = 2, 4, 5, 3, 6
    g = {"b": torch.randn(B, K, T, Xk, N, dtype=DT), "b_t": torch.randn(B, K, T, Xk, N, dtype=DT),
         "b_xx": torch.randn(B, K, T, Xk, N, dtype=DT), "left": torch.randn(B, T, N, dtype=DT),
         "right": torch.randn(B, T, N, dtype=DT), "right_x": torch.randn(B, T, N, dtype=DT)}
    u0 = torch.tensor([0.1, 0.2], dtype=DT)
    c = solver._constraint(g, u0, None)
    full_ic = g["b"][:, :, 0].reshape(B, K * Xk, N)  # the t = 0 row of the whole domain, in x order
    if conditions == "global":
        assert c.basis_ic.shape == (B * K, K * Xk, N) and c.u0.shape == (B * K, K * Xk)
        for p in range(B * K):
            assert torch.equal(c.basis_ic[p], full_ic[p // K]) and bool((c.u0[p] == u0[p // K]).all())
        assert bool((c.left == 1).all()) and bool((c.right == 1).all())
    else:
        assert c.basis_ic.shape == (B * K, Xk, N)
        assert torch.equal(c.basis_ic[1], g["b"][0, 1, 0])
        assert c.left.tolist() == [1, 0, 0, 0] * B and c.right.tolist() == [0, 0, 0, 1] * B


def test_a_diffusion_sorption_file_given_to_the_navier_stokes_run_is_refused(dataset, tmp_path):
    with pytest.raises(ConfigError, match=r"ds\.h5: the file holds PDE 'diffusion-sorption', not 'navier-stokes-2d'$"):
        solve("navier-stokes-2d", "hard-constraint-moe", data=dataset, out=tmp_path / "ns", overrides=TINY,
              progress=False)
    assert not (tmp_path / "ns").exists()  # nothing written by the refused run
