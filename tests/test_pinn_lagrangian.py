"""Lagrangian PINNs: the chain-rule diffusion term, the Eulerian mapping, exact initial
conditions, the transport PDEs' exact solutions, and a quick run of the solver."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from scipy.optimize import brentq

from sciml_core import solve
from sciml_core.errors import ConfigError
from sciml_core.nn import AutogradDerivatives, JetDerivatives
from sciml_core.registry import get_pde
from solvers.pinn.characteristics import (LagrangianNetwork, eulerian_uxx, invert_characteristics,
                                          lagrangian_residuals)
from solvers.pinn.network import ModelConfig
from solvers.pinn.reference import reference

TWO_PI = 2 * np.pi


def _column(values: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(values, dtype=np.float64).reshape(-1, 1))


def _points(n: int = 64, seed: int = 0) -> dict[str, torch.Tensor]:
    rng = np.random.default_rng(seed)
    return {"t": _column(rng.uniform(0, 1, n)), "X": _column(rng.uniform(0, TWO_PI, n))}


def _stretching(coords: dict[str, torch.Tensor]) -> torch.Tensor:
    """A flow map that stretches the labels (x_XX != 0): x = X + 3 t + 0.4 t sin X."""
    return coords["X"] + 3.0 * coords["t"] + 0.4 * coords["t"] * torch.sin(coords["X"])


def test_lagrangian_diffusion_term_equals_the_eulerian_one_on_a_known_flow() -> None:
    # the stretching map carrying u = sin(2 x): u_xx = -4 sin(2 x)
    def flow(coords: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        x = _stretching(coords)
        return {"x": x, "u": torch.sin(2 * x)}

    d = AutogradDerivatives(flow, _points())
    assert d["x_XX"].abs().max() > 0.1  # the stretching term is exercised
    torch.testing.assert_close(eulerian_uxx(d), -4 * torch.sin(2 * d["x"]), rtol=1e-12, atol=1e-12)


def test_cleared_state_residual_is_the_divided_one_times_x_X_cubed() -> None:
    # the stretching map carrying u = sin(2 x) + t sin X (u_t != nu u_xx): both forms nonzero
    pde = get_pde("burgers-mean-flow")(nu=0.05)

    def flow(coords: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        x = _stretching(coords)
        return {"x": x, "u": torch.sin(2 * x) + coords["t"] * torch.sin(coords["X"])}

    d = AutogradDerivatives(flow, _points())
    divided = lagrangian_residuals(pde, d)["u"]
    cleared = lagrangian_residuals(pde, d, cleared=True)["u"]
    assert float(divided.abs().min()) > 1e-3
    assert float((d["x_X"] - 1).abs().max()) > 0.1
    torch.testing.assert_close(cleared, d["x_X"] ** 3 * divided, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cleared", [False, True])
def test_lagrangian_residuals_vanish_on_the_exact_convection_diffusion_solution(cleared: bool) -> None:
    pde = get_pde("convection-diffusion")(c=20.0, nu=0.3)

    def exact(coords: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:  # x = X + c t, u = e^(-nu t) sin X
        X = coords["X"]  # (+ 0 sin X: reverse mode cannot differentiate the constant x_X = 1 again)
        return {"x": X + pde.c * coords["t"] + 0 * torch.sin(X), "u": torch.exp(-pde.nu * coords["t"]) * torch.sin(X)}

    r = lagrangian_residuals(pde, AutogradDerivatives(exact, _points()), cleared)
    assert max(float(v.detach().abs().max()) for v in r.values()) < 1e-12
    wrong = lagrangian_residuals(pde.replace(nu=0.6), AutogradDerivatives(exact, _points()), cleared)
    assert float(wrong["u"].detach().abs().max()) > 0.1


@pytest.mark.parametrize("name", ["advection", "convection-diffusion"])
def test_exact_eulerian_solutions_satisfy_their_pdes(name: str) -> None:
    pde = get_pde(name)(c=7.0)
    grid = {"t": np.array([0.0, 0.3]), "x": np.linspace(0, TWO_PI, 5, endpoint=False)}
    exact = pde.exact_solution(**grid)["u"]
    np.testing.assert_allclose(exact[0], np.sin(grid["x"]), atol=1e-15)

    def field(coords: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"u": torch.exp(-pde.diffusivity * coords["t"]) * torch.sin(coords["x"] - pde.c * coords["t"])}

    pts = _points()
    r = pde.residual(AutogradDerivatives(field, {"t": pts["t"], "x": pts["X"]}))["u"]
    assert float(r.detach().abs().max()) < 1e-12


def test_lagrangian_to_eulerian_mapping_is_exact_for_known_flows() -> None:
    t, x = np.linspace(0, 1, 7), np.linspace(0, TWO_PI, 33, endpoint=False)

    def advected(tt: torch.Tensor, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return X + 50.0 * tt, torch.ones_like(X)

    labels, info = invert_characteristics(advected, t, x, 0.0, TWO_PI, n_labels=64)
    # u = sin(X) carried by x = X + 50 t is sin(x - 50 t) on the Eulerian grid, to round-off
    np.testing.assert_allclose(np.sin(labels), np.sin(x[None, :] - 50.0 * t[:, None]), atol=1e-12)
    assert info["crossed_rows"] == 0

    def stretched(tt: torch.Tensor, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return X + 2.0 * tt + 0.8 * tt * torch.sin(X), 1.0 + 0.8 * tt * torch.cos(X)

    labels, info = invert_characteristics(stretched, t, x, 0.0, TWO_PI, n_labels=64)
    assert info["map_residual"] < 1e-12
    for i, j in [(3, 5), (6, 20), (6, 31)]:  # an independent root finder on the same map
        target = lambda X: X + 2.0 * t[i] + 0.8 * t[i] * np.sin(X) - x[j]  # noqa: E731
        root = brentq(target, x[j] - 2.0 * t[i] - 1.0, x[j] - 2.0 * t[i] + 1.0, xtol=1e-14)
        assert abs(np.mod(labels[i, j] - root + np.pi, TWO_PI) - np.pi) < 1e-10

    def crossing(tt: torch.Tensor, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return X + 2.0 * tt * torch.sin(X), 1.0 + 2.0 * tt * torch.cos(X)

    assert invert_characteristics(crossing, t, x, 0.0, TWO_PI, n_labels=64)[1]["crossed_rows"] > 0


def test_initial_conditions_are_exact_and_the_labels_periodic() -> None:
    torch.manual_seed(0)
    pde = get_pde("burgers-mean-flow")()
    net = LagrangianNetwork(pde, ModelConfig(width=16, depth=2, periodic_modes=2)).double()
    X = _column(np.linspace(0, TWO_PI, 41))
    at0 = net({"t": torch.zeros_like(X), "X": X})
    torch.testing.assert_close(at0["x"], X, rtol=0, atol=1e-15)
    torch.testing.assert_close(at0["u"], pde.c0 + torch.sin(X), rtol=0, atol=1e-14)
    t = torch.full_like(X, 0.7)
    here, there = net({"t": t, "X": X}), net({"t": t, "X": X + TWO_PI})
    torch.testing.assert_close(there["x"] - TWO_PI, here["x"], rtol=0, atol=1e-12)
    torch.testing.assert_close(there["u"], here["u"], rtol=0, atol=1e-12)
    assert float((here["x"] - X).detach().std()) > 1e-3  # the characteristic branch does contribute


def test_jet_residuals_equal_reverse_mode() -> None:
    torch.manual_seed(0)
    pde = get_pde("burgers-mean-flow")(nu=0.1)
    net = LagrangianNetwork(pde, ModelConfig(width=16, depth=3, periodic_modes=2)).double()
    pts = _points()
    orders = {"t": 1, "X": 2}
    jet = lagrangian_residuals(pde, JetDerivatives(net.jet, pts, orders))
    rev = lagrangian_residuals(pde, AutogradDerivatives(net, pts))
    for k in ("x", "u"):
        torch.testing.assert_close(jet[k], rev[k], rtol=1e-10, atol=1e-10)


def test_burgers_mean_flow_reference_is_galilean_invariant() -> None:
    # u(x, t; c0) = c0 + w(x - c0 t, t) with w the zero-mean solution: checks the PDE and its spectral path
    moving, still = (get_pde("burgers-mean-flow")(nu=0.05, c0=c0, t_end=0.2) for c0 in (3.0, 0.0))
    grid, u = reference(moving)
    _, w = reference(still)
    k = np.fft.rfftfreq(grid["x"].size, 1.0 / grid["x"].size)
    shifted = np.fft.irfft(np.fft.rfft(w["u"], axis=1) * np.exp(-1j * k[None, :] * 3.0 * grid["t"][:, None]),
                           n=grid["x"].size, axis=1)
    np.testing.assert_allclose(u["u"], 3.0 + shifted, atol=1e-7)


def test_quick_run_lowers_its_loss_and_the_characteristics_follow_x0_plus_ct(tmp_path) -> None:
    c = 10.0
    result = solve("advection", "lagrangian-pinn", preset="quick", out=tmp_path / "run",
                   overrides=[f"pde.c={c}", "train.adam_steps=150", "train.decay_steps=150"], progress=False)
    history = [json.loads(line) for line in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    assert history[-1]["loss"] < 0.1 * history[0]["loss"]
    sol = result.solution
    expected = sol["x0"].values[None, :] + c * sol["t"].values[:, None]
    assert np.abs(sol["characteristic"].values - expected).max() < 0.05 * c
    assert result.metrics["rel_l2"] < 0.2 and result.metrics["crossed_rows"] == 0
    assert (tmp_path / "run" / "plots" / "characteristics.png").exists()
    assert set(sol["u"].dims) == {"t", "x"} and sol["characteristic"].dims == ("t", "x0")


def test_config_errors_name_the_key() -> None:
    with pytest.raises(ConfigError, match="model.periodic_modes must be >= 1"):
        solve("advection", "lagrangian-pinn", preset="quick", overrides=["model.periodic_modes=0"])
    with pytest.raises(ConfigError, match="does not support PDE 'burgers'"):
        solve("burgers", "lagrangian-pinn", preset="quick")


def test_soft_initial_conditions_enter_the_loss_with_the_published_weight() -> None:
    from sciml_core.config import build_config
    from solvers.pinn.lagrangian import LagrangianObjective, LagrangianPINNConfig

    torch.manual_seed(0)
    pde = get_pde("advection")(c=5.0)
    cfg = build_config(LagrangianPINNConfig, {"initial": "soft", "model": {"width": 8, "depth": 2, "periodic_modes": 1},
                                              "sampling": {"n_residual": 64, "n_initial": 32}})
    net = LagrangianNetwork(pde, cfg.model, hard_initial=False).double()
    objective = LagrangianObjective(pde, net, cfg, torch.device("cpu"), torch.float64, 0)
    total, logs = objective.loss(0)
    assert logs["loss_initial"] > 1e-3  # a soft network does not meet u0 by itself
    expected = 10 * logs["loss_characteristic"] + logs["loss_state"] + 1000 * logs["loss_initial"]
    assert abs(total.item() - expected) < 1e-9 * expected


def test_state_residual_option_reaches_the_objective() -> None:
    from sciml_core.config import build_config
    from solvers.pinn.lagrangian import LagrangianObjective, LagrangianPINNConfig

    pde = get_pde("convection-diffusion")(c=5.0, nu=0.3)
    state = {}
    for form in ("cleared", "divided"):
        torch.manual_seed(0)
        cfg = build_config(LagrangianPINNConfig, {"state_residual": form, "derivatives": "autograd",
                                                  "model": {"width": 8, "depth": 2, "periodic_modes": 1},
                                                  "sampling": {"n_residual": 64}})
        net = LagrangianNetwork(pde, cfg.model).double()
        objective = LagrangianObjective(pde, net, cfg, torch.device("cpu"), torch.float64, 0)
        state[form] = objective.residuals()["u"].detach()
    assert LagrangianPINNConfig().state_residual == "cleared"
    d = AutogradDerivatives(net, objective.points)
    assert float((d["x_X"] - 1).abs().max()) > 1e-2  # an untrained map: the two forms differ
    torch.testing.assert_close(state["cleared"], d["x_X"].detach() ** 3 * state["divided"], rtol=1e-10, atol=1e-12)


def test_sweep_recipe_quick_writes_matching_lists_and_the_plots(tmp_path, monkeypatch) -> None:
    import runpy
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    monkeypatch.setattr(sys, "argv", ["recipes/advection_lagrangian_pinn.py", "--quick", "--speeds", "50", "--set",
                                      "train.adam_steps=10", "--out", str(tmp_path / "runs")])
    runpy.run_path(str(repo / "recipes" / "advection_lagrangian_pinn.py"), run_name="__main__")
    results = json.loads((repo / "benchmarks" / "results" / "lagrangian_sweep.quick.json").read_text())
    assert results["c"] == [50.0] and results["quick"] is True
    for key in ("eulerian_rel_l2", "lagrangian_rel_l2", "eulerian_wall_s", "lagrangian_wall_s"):
        assert len(results[key]) == 1 and all(np.isfinite(results[key]))
    # equal networks: the Lagrangian PINN has its second (characteristic) branch, about twice the parameters
    assert 1.5 < results["lagrangian_n_params"][0] / results["eulerian_n_params"][0] < 2.5
    for label in ("eulerian", "lagrangian"):  # --set reaches both solvers
        assert json.loads((tmp_path / "runs" / f"{label}-c50" / "metrics.json").read_text())["steps"] == 10
    assert (tmp_path / "runs" / "lagrangian-c50" / "plots" / "characteristics.png").exists()
    assert {"solution.png", "error.png"} <= {p.name for p in (tmp_path / "runs" / "eulerian-c50" / "plots").iterdir()}


def test_cli_solves_convection_diffusion_with_the_lagrangian_pinn(tmp_path, capsys) -> None:
    from sciml_core.cli import main

    sets = ["model.width=8", "model.depth=2", "sampling.n_residual=128", "train.adam_steps=5", "train.decay_steps=5",
            "train.checkpoint_every=0", "pde.c=5", "pde.nu=0.1", "derivatives=autograd"]
    code = main(["solve", "convection-diffusion", "--solver", "lagrangian-pinn", "--preset", "default",
                 "--out", str(tmp_path / "run"), *[a for s in sets for a in ("--set", s)]])
    assert code == 0, capsys.readouterr().err
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert (metrics["pde"], metrics["solver"], metrics["steps"]) == ("convection-diffusion", "lagrangian-pinn", 5)
    assert np.isfinite(metrics["rel_l2"])
