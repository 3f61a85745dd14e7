"""Checkpoint/resume equivalence and the NaN guard of the shared Trainer."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from sciml_core import solve
from sciml_core.errors import DivergenceError
from sciml_core.run import RunDirectory
from sciml_core.solver import RunContext
from sciml_core.train import TrainConfig, Trainer, load_checkpoint


def losses(run_dir) -> list[tuple[int, float]]:
    rows = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
    return [(r["step"], r["loss"]) for r in rows]


class Interrupt(Exception):
    pass


def interrupt_at(step: int):
    def callback(trainer, current, logs):
        if current == step:
            raise Interrupt
    return callback


@pytest.mark.parametrize("stop_at", [25, 35])  # during Adam, and during L-BFGS
def test_resumed_run_reproduces_uninterrupted_history(tmp_path, tiny_pinn_overrides, stop_at, monkeypatch) -> None:
    full = solve("burgers", "pinn", overrides=tiny_pinn_overrides, out=tmp_path / "full", device="cpu", progress=False)

    # Same run, interrupted between checkpoints (checkpoint_every=10) ...
    original_fit = Trainer.fit

    def fit_with_interrupt(self):
        self.callbacks.append(interrupt_at(stop_at))
        return original_fit(self)

    monkeypatch.setattr(Trainer, "fit", fit_with_interrupt)
    with pytest.raises(Interrupt):
        solve("burgers", "pinn", overrides=tiny_pinn_overrides, out=tmp_path / "cut", device="cpu", progress=False)
    monkeypatch.setattr(Trainer, "fit", original_fit)
    assert load_checkpoint(tmp_path / "cut" / "checkpoint.pt")["step"] == (stop_at // 10) * 10

    # ... then resumed: identical losses at every logged step, identical final error.
    resumed = solve("burgers", "pinn", overrides=tiny_pinn_overrides, out=tmp_path / "cut", device="cpu",
                    resume=True, progress=False)
    assert losses(tmp_path / "cut") == losses(tmp_path / "full")
    assert resumed.metrics["rel_l2"] == full.metrics["rel_l2"]


def test_sigkilled_cli_run_resumes_to_the_same_result(tmp_path) -> None:
    args = ["burgers", "--solver", "pinn", "--device", "cpu", "--set", "model.width=16", "--set", "model.depth=2",
            "--set", "sampling.n_residual=256", "--set", "train.adam_steps=400", "--set", "train.lbfgs_steps=0",
            "--set", "train.checkpoint_every=20", "--set", "train.log_every=5"]
    cli = [sys.executable, "-m", "sciml_core.cli", "solve"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([*cli, *args, "--out", str(tmp_path / "full")], check=True, capture_output=True, env=env)
    proc = subprocess.Popen([*cli, *args, "--out", str(tmp_path / "cut")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)
    deadline = time.time() + 120
    while not (tmp_path / "cut" / "checkpoint.pt").exists() and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    step = load_checkpoint(tmp_path / "cut" / "checkpoint.pt")["step"]
    assert 0 < step < 400, "the kill must land mid-training"
    subprocess.run([*cli, *args, "--out", str(tmp_path / "cut"), "--resume"], check=True, capture_output=True, env=env)
    assert losses(tmp_path / "cut") == losses(tmp_path / "full")
    full_metrics = json.loads((tmp_path / "full" / "metrics.json").read_text())
    cut_metrics = json.loads((tmp_path / "cut" / "metrics.json").read_text())
    assert cut_metrics["rel_l2"] == full_metrics["rel_l2"]


class NaNAfter:
    """A quadratic objective whose loss turns NaN at a given step."""

    def __init__(self, model: torch.nn.Module, nan_step: int) -> None:
        self.model, self.nan_step = model, nan_step

    def loss(self, step: int):
        value = self.model(torch.ones(4, 2)).pow(2).mean()
        if step >= self.nan_step:
            value = value * float("nan")
        return value, {}


def test_nan_loss_raises_and_keeps_last_good_checkpoint(tmp_path) -> None:
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 1)
    run = RunDirectory(tmp_path / "run")
    config = TrainConfig(adam_steps=100, checkpoint_every=10, log_every=1)
    trainer = Trainer(model, NaNAfter(model, nan_step=25), config, RunContext(run=run, progress=False))
    with pytest.raises(DivergenceError, match=r"non-finite loss \(nan\) at step 25 \(adam\); the last good "
                                              r"checkpoint is .*checkpoint.pt' \(step 20\)"):
        trainer.fit()
    state = load_checkpoint(run.checkpoint)
    assert state["step"] == 20
    assert all(torch.isfinite(v).all() for v in state["model"].values())
    assert max(json.loads(line)["step"] for line in run.history.read_text().splitlines()) == 25


def test_nan_during_lbfgs_is_caught_too(tmp_path) -> None:
    model = torch.nn.Linear(2, 1)
    config = TrainConfig(adam_steps=5, lbfgs_steps=20, checkpoint_every=5)
    trainer = Trainer(model, NaNAfter(model, nan_step=8), config, RunContext(run=RunDirectory(tmp_path), progress=False))
    with pytest.raises(DivergenceError, match=r"at step 8 \(lbfgs\)"):
        trainer.fit()
    assert load_checkpoint(tmp_path / "checkpoint.pt")["step"] == 5


def test_budget_stops_training_and_reports_it(tmp_path, tiny_pinn_overrides) -> None:
    result = solve("burgers", "pinn", overrides=tiny_pinn_overrides + ["train.adam_steps=100000"],
                   budget_s=0.5, device="cpu", progress=False)
    assert result.status == "budget_exhausted"
    assert 0 < result.metrics["steps"] < 100000


class Quadratic:
    """loss = mean((model(x) - 3)^2) on a fixed batch: a smooth problem for optimizer checks."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.model, self.x = model, torch.linspace(-1, 1, 16).reshape(-1, 1)

    def loss(self, step: int):
        value = (self.model(self.x) - 3.0).pow(2).mean()
        return value, {"loss_fit": value.item()}


def test_exponential_schedule_and_lbfgs_switch(tmp_path) -> None:
    torch.manual_seed(0)
    model = torch.nn.Linear(1, 1)
    config = TrainConfig(adam_steps=20, lbfgs_steps=10, lr=0.1, schedule="exponential", decay_rate=0.5,
                         decay_steps=10, log_every=1)
    result = Trainer(model, Quadratic(model), config, RunContext(run=RunDirectory(tmp_path), progress=False)).fit()
    rows = [json.loads(line) for line in (tmp_path / "history.jsonl").read_text().splitlines()]
    assert [r["phase"] for r in rows] == ["adam"] * 20 + ["lbfgs"] * 10
    assert rows[10]["lr"] == pytest.approx(0.1 * 0.5)  # lr in force at step 11 = 0.1 * 0.5 ** (10 / 10)
    assert rows[19]["lr"] == pytest.approx(0.1 * 0.5 ** 1.9)
    assert result.final_loss < 1e-10  # L-BFGS solves the linear least-squares problem


def test_gradient_clipping_bounds_the_gradient_norm() -> None:
    torch.manual_seed(0)
    model = torch.nn.Linear(1, 1)
    Quadratic(model).loss(0)[0].backward()
    unclipped = torch.cat([p.grad.flatten() for p in model.parameters()]).norm()
    assert unclipped > 1.0
    Trainer(model, Quadratic(model), TrainConfig(adam_steps=1, grad_clip=1e-3), RunContext(progress=False)).fit()
    clipped = torch.cat([p.grad.flatten() for p in model.parameters()]).norm()  # the gradient of the step taken
    assert clipped == pytest.approx(1e-3, rel=1e-5)


def test_same_seed_same_run_different_seed_different_run(tiny_pinn_overrides) -> None:
    a = solve("burgers", "pinn", overrides=tiny_pinn_overrides, seed=1, device="cpu", progress=False)
    b = solve("burgers", "pinn", overrides=tiny_pinn_overrides, seed=1, device="cpu", progress=False)
    c = solve("burgers", "pinn", overrides=tiny_pinn_overrides, seed=2, device="cpu", progress=False)
    assert a.metrics["rel_l2"] == b.metrics["rel_l2"] != c.metrics["rel_l2"]


def test_bf16_needs_cuda() -> None:
    from sciml_core.errors import ConfigError

    model = torch.nn.Linear(1, 1)
    with pytest.raises(ConfigError, match="train.amp=bf16 needs a CUDA device"):
        Trainer(model, Quadratic(model), TrainConfig(amp="bf16"), RunContext(device=torch.device("cpu")))


def test_adam_is_fused_on_torch_2_4_and_later(monkeypatch) -> None:
    """The version check compares versions: 2.13 is after 2.4 (as strings it would not be)."""
    from torch.torch_version import TorchVersion

    monkeypatch.setattr(torch, "__version__", TorchVersion("2.13.0+cpu"))
    model = torch.nn.Linear(1, 1)
    trainer = Trainer(model, Quadratic(model), TrainConfig(adam_steps=1), RunContext(progress=False))
    assert trainer.optimizer.defaults["fused"] is True
    monkeypatch.setattr(torch, "__version__", TorchVersion("2.3.1"))
    trainer = Trainer(model, Quadratic(model), TrainConfig(adam_steps=1), RunContext(progress=False))
    assert trainer.optimizer.defaults["fused"] is None
