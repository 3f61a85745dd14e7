"""Causal PINN: weights against a hand computation, the eps schedule and stopping rule,
time-marching windows, a quick run that decreases the loss, and exact resume of causal state."""

from __future__ import annotations

import json
import math

import pytest
import torch

from sciml_core import solve
from sciml_core.config import build_config
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


def _objective(*overrides: str) -> CausalObjective:
    cls = get_solver("causal-pinn")
    cfg = build_config(cls.Config, {"model": {"width": 8, "depth": 2}, "sampling": {"n_residual": 64},
                                    "causal": {"n_chunks": 4, "check_every": 10}, "train": {"adam_steps": 1000}})
    for item in overrides:
        key, value = item.split("=")
        section, name = key.split(".")
        setattr(getattr(cfg, section), name, type(getattr(getattr(cfg, section), name))(value))
    solver = cls(get_pde("burgers")(), cfg, RunContext(progress=False))
    return solver.build_objective(solver.build_network())


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
    assert obj.eps == 100.0 and not obj.finished  # the last eps stays (stop_on_convergence off)


def test_stopping_rule_and_window_advance() -> None:
    obj = _objective("causal.stop_on_convergence=1")
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
    with pytest.raises(ConfigError, match="causal.windows"):
        solve("burgers", "causal-pinn", preset="quick", overrides=["causal.windows=2", "constraints.initial=soft",
                                                                   "constraints.boundary=soft"], progress=False)


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
