"""PINN toolkit: exact hard constraints, time-marching continuity, samplers' coverage, R3,
gradient-norm balancing, and the vanilla solver still training with soft constraints."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

from sciml_core import solve
from sciml_core.errors import ConfigError
from sciml_core.nn import AutogradDerivatives, Jet, JetDerivatives
from sciml_core.registry import get_pde
from solvers.pinn.balancing import BalancingConfig, GradNormBalancer
from solvers.pinn.base import PINNConfig, PINNObjective
from solvers.pinn.marching import MarchingNetwork
from solvers.pinn.network import ConstraintsConfig, FieldNetwork, ModelConfig
from solvers.pinn.sampling import r3_update, sample_unit

HARD = ConstraintsConfig(initial="hard", boundary="hard")


def _column(values: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(values, dtype=torch.float64).reshape(-1, 1)


def test_hard_initial_and_dirichlet_transform_is_exact_on_burgers() -> None:
    torch.manual_seed(0)
    pde = get_pde("burgers")()
    net = FieldNetwork(pde, ModelConfig(width=16, depth=2, arch="modified", factorize=True), HARD).double()
    x = _column(np.linspace(-1, 1, 101))
    u0 = net({"t": torch.zeros_like(x), "x": x})["u"]
    torch.testing.assert_close(u0, -torch.sin(np.pi * x), rtol=0, atol=1e-15)
    t = _column(np.linspace(0, 1, 50))
    for edge in (-1.0, 1.0):
        wall = net({"t": t, "x": torch.full_like(t, edge)})["u"]
        assert wall.abs().max() < 1e-15
    inner = net({"t": t, "x": torch.full_like(t, 0.3)})["u"]
    assert not torch.allclose(inner, inner[:1].expand_as(inner))  # the network does contribute


def test_periodic_embedding_is_exactly_periodic_with_its_derivatives() -> None:
    torch.manual_seed(0)
    pde = get_pde("kuramoto-sivashinsky")()  # u0 = -sin(pi x): smooth and periodic
    net = FieldNetwork(pde, ModelConfig(width=16, depth=2, arch="modified", periodic_modes=2), HARD).double()
    t = _column(np.linspace(0, 1, 20))
    lo = net.jet({"t": t, "x": torch.full_like(t, -1.0)}, {"x": 4})["u"]
    hi = net.jet({"t": t, "x": torch.full_like(t, 1.0)}, {"x": 4})["u"]
    torch.testing.assert_close(lo.value, hi.value, rtol=0, atol=1e-13)
    for k in range(4):
        torch.testing.assert_close(lo.derivs["x"][k], hi.derivs["x"][k], rtol=1e-10, atol=1e-10)
    x = _column(np.linspace(-1, 1, 33))
    torch.testing.assert_close(net({"t": torch.zeros_like(x), "x": x})["u"], -torch.sin(np.pi * x), rtol=0, atol=1e-15)


def test_faded_initial_condition_is_exact_at_t0_and_differentiates_correctly() -> None:
    torch.manual_seed(0)
    pde = get_pde("allen-cahn")()
    hard = ConstraintsConfig(initial="hard", initial_decay=10.0)
    net = FieldNetwork(pde, ModelConfig(width=8, depth=2, periodic_modes=1), hard).double()
    x = _column(np.linspace(-1, 1, 33))
    torch.testing.assert_close(net({"t": torch.zeros_like(x), "x": x})["u"], x**2 * torch.cos(np.pi * x), rtol=0, atol=1e-15)
    t = _column(np.linspace(0, 1, 33)).requires_grad_(True)
    jet = net.jet({"t": t, "x": x}, {"t": 1})["u"]
    (u_t,) = torch.autograd.grad(net({"t": t, "x": x})["u"].sum(), t)
    torch.testing.assert_close(jet.derivs["t"][0], u_t)


def test_time_marching_windows_join_continuously() -> None:
    torch.manual_seed(0)
    pde = get_pde("kuramoto-sivashinsky")()
    marching = MarchingNetwork(pde, ModelConfig(width=8, depth=2, periodic_modes=1), HARD, windows=3).double()
    for net in marching.nets:  # give every window a different, non-trivial network
        for p in net.parameters():
            p.data.normal_()
    x = _column(np.linspace(-1, 1, 17))
    for k in (1, 2):
        t_k = torch.full_like(x, marching.edges[k])
        end_prev = marching.nets[k - 1].jet({"t": t_k, "x": x}, {"x": 4})["u"]
        start = marching.nets[k].jet({"t": t_k, "x": x}, {"x": 4})["u"]
        torch.testing.assert_close(start.value, end_prev.value, rtol=0, atol=1e-12)
        torch.testing.assert_close(start.derivs["x"][3], end_prev.derivs["x"][3], rtol=1e-9, atol=1e-9)
    marching.warm_start(1)
    for a, b in zip(marching.nets[0].parameters(), marching.nets[1].parameters()):
        assert torch.equal(a, b)


@pytest.mark.parametrize("method", ["grid", "random", "sobol", "lhs"])
def test_samplers_cover_the_unit_square(method: str) -> None:
    pts = sample_unit(1024, 2, method, seed=3, index=1)
    assert pts.shape == (1024, 2) and pts.min() >= 0 and pts.max() < 1
    cells = {"random": 4, "lhs": 8}.get(method, 16)
    counts = np.histogram2d(pts[:, 0], pts[:, 1], bins=cells, range=[[0, 1], [0, 1]])[0]
    assert counts.min() >= 1
    if method == "lhs":  # one point in each of the n strata of every coordinate
        for d in range(2):
            assert np.array_equal(np.sort((pts[:, d] * 1024).astype(int)), np.arange(1024))
    again = sample_unit(1024, 2, method, seed=3, index=1)
    assert np.array_equal(pts, again)  # a pure function of (seed, index)


def test_r3_keeps_high_residual_points_and_the_population_size() -> None:
    points = np.arange(10, dtype=float)[:, None]
    sq = np.array([0, 0, 0, 0, 0, 0, 0, 0, 5, 9], dtype=float)
    fresh = -np.arange(10, dtype=float)[:, None]
    out = r3_update(points, sq, fresh)
    assert out.shape == points.shape
    assert set(out[:2, 0]) == {8.0, 9.0} and np.all(out[2:, 0] <= 0)


def test_gradnorm_balancer_equalises_term_gradients() -> None:
    p = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    balancer = GradNormBalancer(BalancingConfig(method="gradnorm", every=1, alpha=0.0), {"a": 1.0, "b": 1.0})
    terms = {"a": 10 * p.pow(2).sum(), "b": p.pow(2).sum()}
    balancer.update(terms, [p], step=0)
    # |grad a| = 10 |grad b|: lambda_a = 11/10, lambda_b = 11
    assert balancer.weights["a"] == pytest.approx(1.1) and balancer.weights["b"] == pytest.approx(11.0)


def test_soft_points_in_the_jet_pass_give_the_separate_passes_terms() -> None:
    """With jets, the soft IC/BC points ride along in the residual points' pass: the residuals,
    the soft terms and their gradients equal those of separate passes (float64)."""
    torch.manual_seed(0)
    pde = get_pde("burgers")()
    config = PINNConfig(model=ModelConfig(width=12, depth=3))
    config.sampling.n_residual, config.sampling.n_initial, config.sampling.n_boundary = 256, 32, 32
    net = FieldNetwork(pde, config.model, config.constraints).double()
    objective = PINNObjective(pde, net, config, torch.device("cpu"), torch.float64, seed=0)
    assert objective._joint_points is not None and len(objective._joint_points["t"]) == 256 + 32 + 2 * 32

    def terms(joint: bool) -> tuple[dict[str, torch.Tensor], list[torch.Tensor]]:
        net.zero_grad(set_to_none=True)
        if joint:
            residuals, pred = objective.residuals_and_soft_predictions()
        else:
            residuals, pred = pde.residual(objective.derivatives(objective.residual_points)), None
        out = {**{f"r_{k}": r for k, r in residuals.items()}, **objective.soft_losses(pred)}
        sum(v.pow(2).sum() for v in out.values()).backward()
        return {k: v.detach() for k, v in out.items()}, [p.grad.clone() for p in net.parameters()]

    (joint, joint_grads), (separate, separate_grads) = terms(True), terms(False)
    assert joint.keys() == separate.keys() == {"r_u", "initial", "boundary"}
    for key in joint:
        torch.testing.assert_close(joint[key], separate[key], rtol=1e-12, atol=1e-14)
    for a, b in zip(joint_grads, separate_grads):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_vanilla_pinn_soft_constraints_and_config_errors(tiny_pinn_overrides: list[str]) -> None:
    result = solve("burgers", "pinn", overrides=[*tiny_pinn_overrides, "balancing.method=gradnorm",
                                                 "balancing.every=5"], device="cpu", progress=False)
    assert np.isfinite(result.metrics["rel_l2"])
    with pytest.raises(ConfigError, match="sampling.adaptive"):
        solve("burgers", "pinn", overrides=["sampling.adaptive=r3"], device="cpu", progress=False)
    with pytest.raises(ConfigError, match="constraints.boundary"):
        solve("burgers", "pinn", overrides=["constraints.boundary=hard"], device="cpu", progress=False)


def test_eval_every_logs_the_error_that_the_final_metrics_report(tiny_pinn_overrides: list[str], tmp_path) -> None:
    result = solve("burgers", "pinn", overrides=[*tiny_pinn_overrides, "train.lbfgs_steps=0", "eval_every=15"],
                   out=tmp_path / "run", device="cpu", progress=False)
    rows = [row for row in result.run_dir.joinpath("history.jsonl").read_text().splitlines() if '"rel_l2"' in row]
    logged = {json.loads(row)["step"]: json.loads(row)["rel_l2"] for row in rows}
    assert sorted(logged) == [15, 30]
    assert logged[15] != logged[30]
    assert logged[30] == pytest.approx(result.metrics["rel_l2"], rel=1e-6)  # same network, same grid


def test_total_loss_adds_each_weighted_soft_term() -> None:
    """The objective's loss is w_r mean(r^2) + w_i (initial misfit) + w_b (Dirichlet misfit per
    face), each recomputed here from the network's plain forward pass and reverse mode (float64),
    with distinct weights: dropping or mis-weighting any term fails."""
    torch.manual_seed(0)
    pde = get_pde("burgers")()
    config = PINNConfig(model=ModelConfig(width=8, depth=2))
    config.sampling.n_residual, config.sampling.n_initial, config.sampling.n_boundary = 64, 16, 16
    config.weights.residual, config.weights.initial, config.weights.boundary = 1.5, 3.0, 7.0
    net = FieldNetwork(pde, config.model, config.constraints).double()
    objective = PINNObjective(pde, net, config, torch.device("cpu"), torch.float64, seed=0)
    total, logs = objective.loss(0)

    residual = pde.residual(AutogradDerivatives(net, objective.residual_points))["u"].pow(2).mean()
    ic = objective.initial_points
    initial = (net(ic)["u"] + torch.sin(np.pi * ic["x"])).pow(2).mean()  # u0 = -sin(pi x)
    faces = [{"t": objective.boundary_points["t"], "x": torch.full_like(objective.boundary_points["t"], e)}
             for e in (-1.0, 1.0)]
    boundary = sum(net(face)["u"].pow(2).mean() for face in faces)  # u = 0 on both walls
    assert initial > 1e-3 and boundary > 1e-3
    expected = 1.5 * residual + 3.0 * initial + 7.0 * boundary
    assert total.item() == pytest.approx(expected.item(), rel=1e-10)
    assert logs["loss_initial"] == pytest.approx(initial.item(), rel=1e-10)


def _all_derivatives(d, names=("u", "u_t", "u_tt", "u_x", "u_xx", "u_xxx", "u_xxxx")) -> dict[str, torch.Tensor]:
    return {name: d[name] for name in names}


def test_field_network_jets_match_reverse_mode_with_hard_constraints_and_fade() -> None:
    """The whole Burgers network (modified MLP with weight factorisation, hard IC, hard walls,
    faded IC) on jets against nested reverse mode through its forward pass: every derivative
    to 4th order and the parameter gradient of a residual-like loss (float64)."""
    torch.manual_seed(0)
    pde = get_pde("burgers")()
    constraints = ConstraintsConfig(initial="hard", boundary="hard", initial_decay=3.0)
    net = FieldNetwork(pde, ModelConfig(width=8, depth=2, arch="modified", factorize=True), constraints).double()
    g = torch.Generator().manual_seed(1)
    coords = {"t": torch.rand(30, 1, generator=g, dtype=torch.float64),
              "x": 2 * torch.rand(30, 1, generator=g, dtype=torch.float64) - 1}
    jets = _all_derivatives(JetDerivatives(net.jet, coords, {"t": 2, "x": 4}))
    reverse = _all_derivatives(AutogradDerivatives(net, coords))
    for name in jets:
        torch.testing.assert_close(jets[name], reverse[name], rtol=1e-9, atol=1e-10, msg=name)
    params = list(net.parameters())

    def grads(d):
        return torch.autograd.grad((d["u_t"] + d["u"] * d["u_x"] - d["u_xxxx"] * d["u_tt"]).pow(2).mean(), params)

    for a, b in zip(grads(jets), grads(reverse)):
        torch.testing.assert_close(a, b, rtol=1e-8, atol=1e-11)


def test_marching_window_jets_match_reverse_mode_through_the_whole_chain() -> None:
    """Window 3 of a KS march on jets (its initial state the detached end-state jet of window
    2, itself built on window 1's) against reverse mode through a copy whose windows pass their
    end states on with the graph in x kept: values, u_t and u_x..u_xxxx (float64)."""
    torch.manual_seed(0)
    pde = get_pde("kuramoto-sivashinsky")()
    marching = MarchingNetwork(pde, ModelConfig(width=8, depth=2, arch="modified", periodic_modes=2), HARD,
                               windows=3).double()
    for net in marching.nets:
        for p in net.parameters():
            p.data.normal_(0.0, 0.5)
    reference = copy.deepcopy(marching)
    for prev, net in zip(reference.nets[:-1], reference.nets[1:]):
        def initial(coords, orders, prev=prev):  # the previous window's end state, differentiable in x
            t = torch.full_like(coords["x"], prev.t_range[1])
            return {f: Jet.from_parts(v, {}) for f, v in prev({"t": t, **coords}).items()}
        net.initial_fn = initial
    g = torch.Generator().manual_seed(2)
    coords = {"t": 2 / 3 + torch.rand(20, 1, generator=g, dtype=torch.float64) / 3,
              "x": 2 * torch.rand(20, 1, generator=g, dtype=torch.float64) - 1}
    names = ("u", "u_t", "u_x", "u_xx", "u_xxx", "u_xxxx")
    jets = _all_derivatives(JetDerivatives(marching.nets[2].jet, coords, {"t": 1, "x": 4}), names)
    reverse = _all_derivatives(AutogradDerivatives(reference.nets[2], coords), names)
    for name in names:
        torch.testing.assert_close(jets[name], reverse[name], rtol=1e-9, atol=1e-9, msg=name)
    assert reverse["u_xxxx"].abs().max() > 1.0  # a non-trivial field
