"""Causal PINN: weights against a hand computation, the eps schedule and stopping rule,
time-marching windows, a quick run that decreases the loss, and exact resume of causal state."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from sciml_core import solve
from sciml_core.config import build_config, deep_merge, parse_overrides
from sciml_core.errors import ConfigError
from sciml_core.registry import get_pde, get_solver
from sciml_core.solver import RunContext
from sciml_core.train import Trainer
from solvers.pinn.causal import CausalObjective, causal_weights

TINY = ["model.width=8", "model.depth=2", "sampling.n_residual=128", "causal.n_chunks=8", "threads=1"]


def test_causal_weights_match_hand_computation() -> None:
    losses = torch.tensor([0.1, 0.2, 0.3, 0.4], requires_grad=True)
    w = causal_weights(losses, eps=2.0)
    expected = [1.0, math.exp(-0.2), math.exp(-0.6), math.exp(-1.2)]
    assert w.tolist() == pytest.approx(expected, rel=1e-6)
    assert not w.requires_grad  # held out of the gradient
    (w * losses).mean().backward()
    assert losses.grad.tolist() == pytest.approx([x / 4 for x in expected], rel=1e-6)


def _objective(*overrides: str, pde: str = "burgers", dtype: torch.dtype = torch.float32) -> CausalObjective:
    cls = get_solver("causal-pinn")
    data = {"model": {"width": 8, "depth": 2}, "sampling": {"n_residual": 64}, "constraints": {"initial": "hard"},
            "causal": {"n_chunks": 4, "check_every": 10}, "train": {"adam_steps": 1000}}
    cfg = build_config(cls.Config, deep_merge(data, parse_overrides(list(overrides))))
    solver = cls(get_pde(pde)(), cfg, RunContext(dtype=dtype, progress=False))
    return solver.build_objective(solver.build_network().to(dtype=dtype))


def test_eps_schedule_advances_only_at_checks_when_min_w_exceeds_delta() -> None:
    obj = _objective()
    obj.min_w = 0.995
    obj._advance(5)  # not a check step
    assert obj.eps_index == 0
    obj._advance(10)
    assert obj.eps_index == 1 and obj.eps == 0.1
    obj.min_w = 0.5
    obj._advance(20)  # check step, but not converged
    assert obj.eps_index == 1
    obj.min_w = 0.999
    for step in (30, 40, 50, 60):
        obj._advance(step)
    assert obj.eps == 100.0 and obj.finished  # the schedule is done; the last eps stays


def test_stopping_rule_and_window_advance() -> None:
    obj = _objective("causal.stop_on_convergence=true")
    obj.min_w = 0.999
    for step in range(10, 60, 10):
        obj._advance(step)
    assert obj.finished

    marching = _objective("causal.windows=2", "causal.window_steps=25")
    assert marching.time_range() == (0.0, 0.5)
    marching.min_w = 0.0
    marching._advance(20)
    assert marching.window == 0
    marching._advance(25)  # the step cap moves on to the next window, eps restarts
    assert marching.window == 1 and marching.eps_index == 0 and marching.time_range() == (0.5, 1.0)
    assert float(marching.residual_points["t"].min()) >= 0.5
    marching.min_w = 0.999
    for step in range(35, 100, 10):
        marching._advance(step)
    assert marching.window == 1 and marching.eps == 100.0


def test_causal_config_errors_name_the_key() -> None:
    with pytest.raises(ConfigError, match="causal.n_chunks"):
        solve("burgers", "causal-pinn", preset="quick", overrides=["causal.n_chunks=7"], progress=False)
    with pytest.raises(ConfigError, match="causal.windows > 1 with constraints.initial = 'hard' needs derivatives"):
        solve("burgers", "causal-pinn", preset="quick", overrides=["causal.windows=2", "derivatives=autograd"],
              progress=False)
    with pytest.raises(ConfigError, match="causal.initial_in_weights needs constraints.initial = 'soft'"):
        solve("burgers", "causal-pinn", preset="quick", overrides=["causal.initial_in_weights=true"], progress=False)


def test_quick_causal_run_decreases_the_loss_and_logs_weights(tmp_path) -> None:
    result = solve("burgers", "causal-pinn", preset="quick", out=tmp_path / "run", progress=False,
                   overrides=[*TINY, "train.adam_steps=150", "train.log_every=5"])
    rows = [json.loads(line) for line in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    first, last = rows[0], rows[-1]
    assert last["loss_residual"] < 0.5 * first["loss_residual"]
    assert len(last["causal_w"]) == 8 and last["causal_w"][0] == 1.0 and "eps" in last
    assert (tmp_path / "run" / "plots" / "causal_weights.png").exists()
    assert result.metrics["rel_l2"] < 1.0


@pytest.mark.parametrize("restart", [False, True])
def test_lr_schedule_restarts_per_window_on_request(tmp_path, restart: bool) -> None:
    overrides = [*TINY, "causal.windows=2", "causal.window_steps=20", f"causal.restart_schedule={str(restart).lower()}",
                 "train.adam_steps=40", "train.lbfgs_steps=0", "train.log_every=1", "train.lr=0.01",
                 "train.schedule=exponential", "train.decay_rate=0.5", "train.decay_steps=10"]
    solve("burgers", "causal-pinn", preset="quick", overrides=overrides, out=tmp_path / "run", progress=False)
    rows = [json.loads(line) for line in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    assert [r["window"] for r in rows[19:22]] == [0, 1, 1]
    assert rows[19]["lr"] == pytest.approx(0.01 * 0.5 ** 1.9)  # the lr in force at step 20 (index 19)
    # window 2 starts at step index 20; the schedule counts from there (one step late: the lr
    # of a step is set after the step before it)
    assert rows[21]["lr"] == pytest.approx(0.01 * 0.5 ** (0.1 if restart else 2.1))
    assert rows[39]["lr"] == pytest.approx(0.01 * 0.5 ** (1.9 if restart else 3.9))


def test_marching_run_resumes_exactly(tmp_path, monkeypatch) -> None:
    overrides = [*TINY, "causal.windows=2", "causal.window_steps=20", "causal.check_every=5",
                 "causal.restart_schedule=true", "train.schedule=exponential", "train.decay_steps=10",
                 "train.adam_steps=40", "train.lbfgs_steps=5", "train.log_every=1", "train.checkpoint_every=10"]
    full = solve("burgers", "causal-pinn", preset="quick", overrides=overrides, out=tmp_path / "full", progress=False)

    class Interrupt(Exception):
        pass

    def stop(trainer, step, logs):
        if step == 27:
            raise Interrupt

    original = Trainer.fit
    monkeypatch.setattr(Trainer, "fit", lambda self: (self.callbacks.append(stop), original(self))[1])
    with pytest.raises(Interrupt):
        solve("burgers", "causal-pinn", preset="quick", overrides=overrides, out=tmp_path / "cut", progress=False)
    monkeypatch.setattr(Trainer, "fit", original)
    resumed = solve("burgers", "causal-pinn", preset="quick", overrides=overrides, out=tmp_path / "cut",
                    resume=True, progress=False)

    def history(run):
        return [(r["step"], r["loss"], r["window"], r["eps"]) for r in
                map(json.loads, (tmp_path / run / "history.jsonl").read_text().splitlines())]

    assert history("cut") == history("full")
    assert max(w for _, _, w, _ in history("full")) == 1  # the run did march into window 2
    assert resumed.metrics["rel_l2"] == full.metrics["rel_l2"]


def _stages(obj: CausalObjective, steps: range) -> list[tuple[int, int, int]]:
    """(step, window, eps index) wherever the stage changes, min w held below delta (no convergence)."""
    seen = []
    for step in steps:
        obj.min_w = 0.0
        obj._advance(step)
        if not seen or seen[-1][1:] != (obj.window, obj.eps_index):
            seen.append((step, obj.window, obj.eps_index))
    return seen


def test_each_eps_stage_ends_at_its_step_cap() -> None:
    """An eps whose min w never exceeds delta gives way after causal.max_steps_per_eps steps;
    past the last eps of a window the march moves on; the last stage ends the schedule."""
    obj = _objective("causal.max_steps_per_eps=30", "causal.eps_schedule=[1.0, 10.0, 100.0]",
                     "causal.stop_on_convergence=true")
    assert _stages(obj, range(200)) == [(0, 0, 0), (30, 0, 1), (60, 0, 2)]
    assert obj.finished  # the last stage ended at step 90 by its cap: training stops (the published rule)

    marching = _objective("causal.max_steps_per_eps=30", "causal.eps_schedule=[1.0, 10.0]", "causal.windows=2",
                          "causal.window_steps=500")
    assert _stages(marching, range(200)) == [(0, 0, 0), (30, 0, 1), (60, 1, 0), (90, 1, 1)]
    assert not marching.finished or marching.eps_index == 1  # stays at the last stage without stop_on_convergence
    assert float(marching.residual_points["t"].min()) >= 0.5  # window 2's points

    capped = _objective("causal.max_steps_per_eps=1000", "causal.windows=2", "causal.window_steps=25")
    assert _stages(capped, range(60)) == [(0, 0, 0), (25, 1, 0)]  # the window cap still applies


def test_published_step_cap_is_the_default() -> None:
    assert get_solver("causal-pinn").Config().causal.max_steps_per_eps == 200_000  # the KS scripts' nIter


def _flat_params(net: torch.nn.Module) -> list[torch.nn.Parameter]:
    return [p for p in net.parameters() if p.requires_grad]


def test_lbfgs_closure_value_and_gradient_agree() -> None:
    """In the L-BFGS phase the causal weights are fixed, so the closure's loss is the function
    whose gradient it returns: a central difference along a random direction matches (float64)."""
    torch.manual_seed(0)
    obj = _objective("train.adam_steps=5", "causal.eps_schedule=[0.3]", "sampling.n_residual=64",
                     dtype=torch.float64)
    params = _flat_params(obj.network)
    step = obj.config.train.adam_steps  # the first L-BFGS step
    loss, logs = obj.loss(step)
    assert 0.01 < logs["min_w"] < 0.9  # the weights are far from uniform
    grads = torch.autograd.grad(loss, params)
    direction = [torch.randn_like(p) for p in params]
    slope = sum((g * v).sum() for g, v in zip(grads, direction))
    h = 1e-6
    values = []
    for sign in (1, -1):
        with torch.no_grad():
            for p, v in zip(params, direction):
                p.add_(sign * h * v)
        values.append(obj.loss(step)[0].item())
        with torch.no_grad():
            for p, v in zip(params, direction):
                p.sub_(sign * h * v)
    assert (values[0] - values[1]) / (2 * h) == pytest.approx(slope.item(), rel=1e-6)


def test_residual_loss_weights_time_sorted_chunks() -> None:
    """residual_loss on hand-made residuals r = t at the window's points: the chunks are the
    time-sorted points, L_i their mean squares, the loss mean_i(w_i L_i) with w_i from the
    exclusive cumulative sum (fails if the weights are ignored or the sort dropped or reversed)."""
    obj = _objective("causal.n_chunks=4", "sampling.n_residual=64", "causal.eps_schedule=[3.0]")
    t = obj.residual_points["t"]
    assert not torch.equal(t.reshape(-1), t.reshape(-1).sort().values)  # random order: the sort matters
    loss, logs = obj.residual_loss({"u": t}, obj.residual_points, step=0)
    chunks = [float((c**2).mean()) for c in t.reshape(-1).sort().values.reshape(4, -1)]
    weights = [math.exp(-3.0 * sum(chunks[:i])) for i in range(4)]
    assert logs["causal_w"] == pytest.approx(weights, abs=1e-5)
    assert loss.item() == pytest.approx(sum(w * c for w, c in zip(weights, chunks)) / 4, rel=1e-6)
    assert weights[-1] < 0.5  # the weights are far from uniform, so ignoring them changes the loss


def test_periodic_slope_penalty_in_a_later_window_uses_the_end_state_slopes() -> None:
    """Soft periodic matching (no periodic embedding) in window 3 of a march: u and u_x at
    x = -1 and x = 1 include the previous window's end state and its slope; reference: the
    network's values and central differences in x (float64)."""
    torch.manual_seed(0)
    obj = _objective("causal.windows=3", "model.periodic_modes=0", "sampling.n_boundary=16", pde="allen-cahn",
                     dtype=torch.float64)
    for net in obj.marching.nets:  # different, non-trivial windows
        for p in net.parameters():
            p.data.normal_(0.0, 0.5)
    obj._enter(2 * len(obj.causal.eps_schedule), step=0)  # window 3 (no warm start: keep the random windows)
    assert obj.window == 2
    net, h = obj.network, 1e-5
    (dim, lo, hi), = obj._periodic_faces

    def field_and_slope(coords):
        u = net(coords)["u"]
        plus, minus = net({**coords, "x": coords["x"] + h})["u"], net({**coords, "x": coords["x"] - h})["u"]
        return u, (plus - minus) / (2 * h)

    with torch.no_grad():
        (u_lo, ux_lo), (u_hi, ux_hi) = field_and_slope(lo), field_and_slope(hi)
    expected = (u_lo - u_hi).pow(2).mean() + (ux_lo - ux_hi).pow(2).mean()
    assert (ux_lo - ux_hi).pow(2).mean() > 1e-2  # the slopes do not match by themselves
    assert obj.soft_losses()["boundary"].item() == pytest.approx(expected.item(), rel=1e-7)


def test_grid_collocation_counts_the_points_it_places() -> None:
    """A grid of round(n^(1/d))^d points that is no multiple of the chunks is refused with the
    count; a grid_shape with one chunk per time row trains."""
    with pytest.raises(ConfigError, match="placed 2025 collocation points, not a multiple of causal.n_chunks"):
        solve("burgers", "causal-pinn", preset="quick", progress=False,
              overrides=[*TINY, "sampling.method=grid", "sampling.n_residual=2048", "causal.n_chunks=32"])
    with pytest.raises(ConfigError, match="sampling.grid_shape"):
        solve("burgers", "causal-pinn", preset="quick", progress=False,
              overrides=[*TINY, "sampling.method=grid", "sampling.grid_shape=[16, 16]"])
    obj = _objective("sampling.method=grid", "sampling.n_residual=2048", "sampling.grid_shape=[32, 64]",
                     "causal.n_chunks=32")
    times = obj.residual_points["t"].reshape(-1)[obj._order].reshape(32, 64)
    assert torch.all(times == times[:, :1]) and len(times[:, 0].unique()) == 32  # one chunk per time
    loss, logs = obj.loss(0)
    assert torch.isfinite(loss) and len(logs["causal_w"]) == 32


def test_paper_presets_are_the_published_setups() -> None:
    """Allen-Cahn and KS ``paper``: the published networks, collocation, schedules and IC terms."""
    cls = get_solver("causal-pinn")
    ac = build_config(cls.Config, cls.preset_config("paper", "allen-cahn"))
    assert (ac.model.arch, ac.model.width, ac.model.depth, ac.model.periodic_modes) == ("mlp", 128, 4, 10)
    assert (ac.sampling.method, ac.sampling.grid_shape, ac.sampling.resample_every) == ("grid", [100, 256], 0)
    assert (ac.causal.n_chunks, ac.causal.eps_schedule, ac.constraints.initial, ac.weights.initial) == \
        (100, [100.0], "soft", 100.0)
    assert (ac.train.adam_steps, ac.train.lr, ac.train.decay_rate, ac.train.decay_steps) == (300000, 1e-3, 0.9, 5000)
    ks = build_config(cls.Config, cls.preset_config("paper", "kuramoto-sivashinsky"))
    assert (ks.model.arch, ks.model.width, ks.model.depth, ks.model.periodic_modes) == ("modified", 256, 3, 5)
    assert (ks.causal.windows, ks.causal.max_steps_per_eps, ks.causal.check_every, ks.causal.n_chunks) == \
        (10, 200000, 1000, 32)
    assert ks.causal.restart_schedule and not ks.causal.warm_start and ks.causal.stop_on_convergence
    assert (ks.constraints.initial, ks.weights.initial, ks.causal.initial_in_weights) == ("soft", 1000.0, True)
    assert ks.train.adam_steps == 10 * 5 * 200000 and ks.sampling.n_residual == 32 * 64


def test_initial_loss_inside_the_weights() -> None:
    """causal.initial_in_weights: w_i = exp(-eps (sum_{k<i} L_k + lambda_ic L_ic))."""
    torch.manual_seed(0)
    obj = _objective("constraints.initial=soft", "causal.initial_in_weights=true", "weights.initial=10",
                     "causal.eps_schedule=[0.1]", dtype=torch.float64)
    _, logs = obj.loss(0)
    plain = causal_weights(torch.tensor([0.0]), 0.1)  # = 1
    assert logs["causal_w"][0] == pytest.approx(float(plain * math.exp(-0.1 * 10 * logs["loss_initial"])), abs=1e-5)
    assert logs["causal_w"][0] < 0.99


def test_published_schedule_runs_every_stage_of_every_window_then_stops(tmp_path) -> None:
    """The KS paper preset shrunk: soft IC in every window, each window re-initialised, every
    (window, eps) stage capped at 3 steps; training stops after the last stage (10 x 5 x 3 steps)."""
    overrides = ["model.width=8", "model.depth=2", "model.periodic_modes=1", "sampling.n_residual=64",
                 "sampling.n_initial=16", "causal.n_chunks=4", "causal.max_steps_per_eps=3", "causal.check_every=1",
                 "train.adam_steps=1000", "train.log_every=1", "train.checkpoint_every=0", "threads=1"]
    result = solve("kuramoto-sivashinsky", "causal-pinn", preset="paper", overrides=overrides, out=tmp_path / "run",
                   progress=False)
    rows = [json.loads(line) for line in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    assert result.metrics["steps"] == len(rows) == 150 and result.metrics["causal_window"] == 9
    assert sorted({(r["window"], r["eps"]) for r in rows}) == sorted((w, e) for w in range(10)
                                                                      for e in (1e-2, 1e-1, 1.0, 10.0, 100.0))
    assert all("loss_initial" in r for r in rows) and np.isfinite(result.metrics["rel_l2"])
