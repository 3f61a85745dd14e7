"""The operator base: rollout / pushforward / bundling, the in-memory trajectory set, and a
toy operator trained end to end through ``sciml_core.solve`` (run directory, resume)."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import test_data_support as support

from sciml_core import registry, solve
from sciml_core.autoregressive import max_start, pushforward, reference_stepper, rollout, unroll_count, window_pairs
from sciml_core.data.generate import generate
from sciml_core.data.specs import load_spec
from sciml_core.data.trajectories import DataConfig, load_trajectories
from sciml_core.errors import ConfigError
from sciml_core.operator import OperatorConfig, OperatorObjective, OperatorSolver, step_generator
from sciml_core.train import TrainConfig


def shift(history: torch.Tensor, frame: int) -> torch.Tensor:
    """A stepper: the last frame moved one cell right, three frames at a time."""
    last = history[:, -1:]
    return torch.cat([torch.roll(last, k, dims=-1) for k in (1, 2, 3)], dim=1)


def test_rollout_feeds_back_the_last_frames_and_cuts_the_surplus() -> None:
    x = torch.arange(8, dtype=torch.float64)
    initial = torch.stack([x, x + 100])[:, None, None]  # (2, K=1, C=1, 8)
    out = rollout(shift, initial, 7)
    assert out.shape == (2, 7, 1, 8)
    for k in range(7):
        assert torch.equal(out[:, k], torch.roll(initial[:, 0], k + 1, dims=-1))


def test_rollout_passes_frame_indices_and_keeps_a_window_of_k() -> None:
    seen = []

    def stepper(history: torch.Tensor, frame: int) -> torch.Tensor:
        seen.append((frame, history[0, :, 0, 0].tolist()))
        return history[:, -1:] + 1

    rollout(stepper, torch.zeros(1, 3, 1, 2), 3, first_frame=50)
    assert seen == [(50, [0.0, 0.0, 0.0]), (51, [0.0, 0.0, 1.0]), (52, [0.0, 1.0, 2.0])]


def test_rollout_stops_at_a_blow_up_and_fills_nan() -> None:
    def stepper(history, frame):
        return history[:, -1:] * (float("inf") if frame == 3 else 2.0)

    out = rollout(stepper, torch.ones(1, 1, 1, 4), 6, stop_on_nonfinite=True)
    assert torch.equal(out[0, :2, 0, 0], torch.tensor([2.0, 4.0]))
    assert torch.isinf(out[0, 2]).all() and torch.isnan(out[0, 3:]).all()


def test_rollout_refuses_a_stepper_of_the_wrong_shape() -> None:
    with pytest.raises(ValueError, match=r"the stepper returned shape \(1, 1, 4\)"):
        rollout(lambda h, f: h[:, -1], torch.ones(1, 1, 1, 4), 2)


def test_window_pairs_cut_history_and_the_target_after_unrolled_bundles() -> None:
    traj = torch.arange(3 * 20, dtype=torch.float64).reshape(3, 20, 1, 1)  # value = 20 * sample + frame
    hist, target, target_frame = window_pairs(traj, torch.tensor([2, 0]), torch.tensor([1, 4]), 2, 3, n_unroll=2)
    assert hist[:, :, 0, 0].tolist() == [[41, 42], [4, 5]]
    assert target_frame.tolist() == [1 + 2 + 6, 4 + 2 + 6]
    assert target[:, :, 0, 0].tolist() == [[49, 50, 51], [12, 13, 14]]
    assert max_start(20, 2, 3, 2) == 20 - 2 - 9
    with pytest.raises(ValueError, match="does not fit in 20 frames"):
        window_pairs(traj, torch.tensor([0]), torch.tensor([10]), 2, 3, n_unroll=2)


def test_unroll_curriculum_is_bounded_by_epoch_and_cap() -> None:
    g = torch.Generator().manual_seed(0)
    draws = [unroll_count(g, epoch, 3) for epoch in (0, 1, 5) for _ in range(200)]
    assert set(draws[:200]) == {0} and set(draws[200:400]) == {0, 1} and set(draws[400:]) == {0, 1, 2, 3}


def test_pushforward_sends_no_gradient_into_the_unrolled_steps() -> None:
    weight = torch.tensor(0.9, requires_grad=True)

    def stepper(history, frame):
        return weight * history[:, -1:]

    history = torch.ones(1, 1, 1, 3)
    pushed = pushforward(stepper, history, 2, first_frame=1)
    assert not pushed.requires_grad
    loss = stepper(pushed, 3).sum()
    loss.backward()
    # d/dw (w * c) with c = w0^2 * 1 held constant: 3 * 0.81, not d/dw (w^3) = 3 * 3 * 0.81
    assert weight.grad.item() == pytest.approx(3 * 0.81)


@pytest.fixture
def heat_file(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("heat") / "heat.h5"
    spec_text = support.SPEC.replace("n_samples = 12", "n_samples = 10").replace("n_t = 9", "n_t = 17")
    with support.registered():
        spec = load_spec(support.write_spec(out.parent, spec_text))
        generate(spec, out, seed=1, progress=False)
    return out


def test_reference_stepper_reproduces_the_stored_trajectories(heat_file: Path) -> None:
    from sciml_core.config import build_config

    data = load_trajectories(heat_file, DataConfig(n_test=2, params=("kappa",), normalise=False),
                             torch.device("cpu"), torch.float64)
    for b in range(2):  # kappa differs per sample: one solver each
        pde = support.HeatPDE(kappa=float(data.test_params[b, 0]))
        solver = support.ExactHeat(pde, build_config(support.HeatConfig, {}))
        stepper = reference_stepper(solver.integrate, data.t, ["u"], horizon=2)
        out = rollout(stepper, data.test[b:b + 1, :1], 16, first_frame=1)
        assert torch.allclose(out, data.test[b:b + 1, 1:], atol=1e-12)


def test_trajectory_set_splits_in_file_order_and_normalises_with_train_statistics(heat_file: Path) -> None:
    data = load_trajectories(heat_file, DataConfig(n_test=3, n_train=5, t_stride=2), torch.device("cpu"), torch.float64)
    assert data.train.shape == (5, 9, 1, 32) and data.test.shape == (3, 9, 1, 32)
    assert data.train_samples.tolist() == [2, 3, 4, 5, 6] and data.test_samples.tolist() == [7, 8, 9]
    assert np.allclose(data.t, np.linspace(0, 1, 17)[::2])
    assert abs(data.train.mean().item()) < 1e-12 and data.train.std(unbiased=False).item() == pytest.approx(1.0)
    raw = load_trajectories(heat_file, DataConfig(n_test=3, n_train=5, t_stride=2, normalise=False),
                            torch.device("cpu"), torch.float64)
    assert torch.allclose(data.denormalise(data.test), raw.test)
    with pytest.raises(ConfigError, match="cannot give data.n_train = 9 training and data.n_test = 3"):
        load_trajectories(heat_file, DataConfig(n_test=3, n_train=9), torch.device("cpu"), torch.float64)
    with pytest.raises(ConfigError, match="holds PDE 'test-heat', not 'burgers'"):
        load_trajectories(heat_file, DataConfig(), torch.device("cpu"), torch.float64, pde="burgers")


# ---- a toy operator end to end -------------------------------------------------------------------------------
class ConvStep(torch.nn.Module):
    def __init__(self, window: int, horizon: int, channels: int) -> None:
        super().__init__()
        self.conv = torch.nn.Conv1d(window * channels, horizon * channels, 5, padding=2, padding_mode="circular")
        self.horizon, self.channels = horizon, channels

    def forward(self, history: torch.Tensor) -> torch.Tensor:
        b, k, c, n = history.shape
        update = self.conv(history.reshape(b, k * c, n)).reshape(b, self.horizon, c, n)
        return history[:, -1:] + update


@dataclass
class ToyConfig(OperatorConfig):
    train: TrainConfig = field(default_factory=lambda: TrainConfig(adam_steps=60, lr=3e-3, log_every=5,
                                                                   checkpoint_every=20))
    data: DataConfig = field(default_factory=lambda: DataConfig(n_test=2))


class ToyOperator(OperatorSolver):
    name: ClassVar[str] = "test-toy-operator"
    Config: ClassVar[type] = ToyConfig

    def build_model(self, data):
        return ConvStep(self.config.window, self.config.horizon, len(data.fields))

    def predict(self, model, history, frame, params):
        return model(history)


@pytest.fixture
def toy(heat_file):
    with support.registered():
        registry.register_solver()(ToyOperator)
        try:
            yield heat_file
        finally:
            registry._SOLVERS.pop(ToyOperator.name, None)


def losses(run: Path) -> list[float]:
    return [json.loads(line)["loss"] for line in (run / "history.jsonl").read_text().splitlines()]


def test_toy_operator_trains_and_writes_a_rollout_solution(toy: Path, tmp_path: Path) -> None:
    result = solve("test-heat", "test-toy-operator", data=toy, out=tmp_path / "run", device="cpu", progress=False,
                   overrides=["window=2", "max_unroll=2", "eval_every=10", "eval_start=1"])
    ds = result.solution
    assert ds["u"].dims == ("sample", "t", "x") and ds["u"].shape == (2, 17 - 3, 32)
    assert ds["sample"].values.tolist() == [8, 9] and "u_ref" in ds
    history = [json.loads(line) for line in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    assert history[-1]["loss"] < 0.2 * history[0]["loss"]
    assert "val_loss" in history[1] and {row["unroll"] for row in history} <= {0.0, 1.0, 2.0}
    assert result.metrics["rel_l2"] < 0.2 and len(result.metrics["rollout_rel_l2_per_step"]) == 14
    assert result.metrics["kind"] == "operator" and result.metrics["n_train"] == 8


class Interrupt(Exception):
    pass


def test_toy_operator_resume_reproduces_the_uninterrupted_losses(toy: Path, tmp_path: Path, monkeypatch) -> None:
    from sciml_core.train import Trainer

    args = dict(data=toy, device="cpu", progress=False, overrides=["max_unroll=1", "noise_std=0.01"])
    solve("test-heat", "test-toy-operator", out=tmp_path / "full", **args)
    original_fit = Trainer.fit

    def fit_with_interrupt(self):
        def stop(trainer, step, logs):
            if step == 47:
                raise Interrupt
        self.callbacks.append(stop)
        return original_fit(self)

    monkeypatch.setattr(Trainer, "fit", fit_with_interrupt)
    with pytest.raises(Interrupt):
        solve("test-heat", "test-toy-operator", out=tmp_path / "cut", **args)
    monkeypatch.setattr(Trainer, "fit", original_fit)
    solve("test-heat", "test-toy-operator", out=tmp_path / "cut", resume=True, **args)
    assert losses(tmp_path / "cut") == losses(tmp_path / "full")


def test_batches_are_a_fresh_permutation_each_epoch(toy: Path) -> None:
    data = load_trajectories(toy, DataConfig(n_test=2), torch.device("cpu"), torch.float32)
    solver = ToyOperator(support.HeatPDE(), ToyConfig(batch_size=3))
    objective = OperatorObjective(solver, torch.nn.Linear(1, 1), data)
    assert objective.steps_per_epoch == 3
    epoch0 = torch.cat([objective.samples(s) for s in range(3)]).tolist()
    epoch1 = torch.cat([objective.samples(s) for s in range(3, 6)]).tolist()
    assert sorted(epoch0) == sorted(epoch1) == list(range(8)) and epoch0 != epoch1
    seeds = [step_generator(*args).initial_seed() for args in ((0, 5), (0, 5), (1, 5), (0, 5, 1))]
    assert seeds[0] == seeds[1] and len(set(seeds)) == 3


def test_operator_without_data_is_a_clear_error(toy: Path) -> None:
    with pytest.raises(ConfigError, match="is an operator: give its dataset file with --data FILE"):
        solve("test-heat", "test-toy-operator", device="cpu", progress=False)


def test_batch_loss_grades_the_step_after_a_pushforward_of_noisy_inputs(toy: Path) -> None:
    data = load_trajectories(toy, DataConfig(n_test=2), torch.device("cpu"), torch.float64)
    calls: list[tuple[torch.Tensor, torch.Tensor]] = []

    class Recording(ToyOperator):
        def predict(self, model, history, frame, params):
            calls.append((history.clone(), torch.as_tensor(frame).clone()))
            return history[:, -1:] * 0.5  # a known stepper: halve the last frame

    solver = Recording(support.HeatPDE(), ToyConfig(max_unroll=3, noise_std=0.1, batch_size=64))
    samples = torch.arange(8)
    for seed in range(20):  # until the curriculum draws two unrolled steps
        calls.clear()
        loss, logs = solver.batch_loss(None, data.train, data.train_params, samples, step_generator(seed, 0), 5)
        if logs["unroll"] == 2:
            break
    assert logs["unroll"] == 2 and len(calls) == 3
    (h0, f0), (h1, f1), (h2, f2) = calls
    assert torch.equal(f1, f0 + 1) and torch.equal(f2, f0 + 2)
    assert torch.equal(h1, h0 * 0.5)  # the unrolled steps run on the model's own output, noise-free
    noise = h2 - h0 * 0.25  # the graded step's input: two halvings, plus the input noise
    assert noise.std().item() == pytest.approx(0.1, rel=0.1)
    start = (f0 - 1).tolist()  # window 1: the history is the frame before the first produced one
    target = data.train[samples, torch.tensor(start) + 3][:, None]
    assert loss.item() == pytest.approx((h2[:, -1:] * 0.5 - target).pow(2).mean().item())
