"""The MP-PDE benchmarks run end to end in their --quick form and write the keys issue 24 names."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("script, keys", [
    ("weno_generation", ("batched_traj_per_s", "single_traj_per_s", "ratio")),
    ("message_passing_e1", ("acc_err_nx100", "acc_err_nx50", "acc_err_nx40", "weno_acc_err_nx100",
                            "weno_acc_err_nx50", "weno_acc_err_nx40", "rollout_speedup", "n_train", "epochs")),
])
def test_benchmark_quick(script: str, keys: tuple[str, ...]) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / f"{script}.py"), "--quick"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads((REPO / "benchmarks" / "results" / f"{script}.quick.json").read_text())
    assert results["quick"] is True
    for key in keys:
        assert results[key] > 0, key
    if script == "message_passing_e1":
        assert "generation_traj_per_s" in results


def test_budgeted_training_decays_every_decay_steps() -> None:
    import argparse

    sys.path.insert(0, str(REPO))
    from benchmarks.message_passing_e1 import budget_training

    args = argparse.Namespace(budget_s=900.0, quick=False, decay_steps=1234)
    assert budget_training(args) == {"train": {"adam_steps": 10_000_000, "decay_steps": 1234}}
    assert budget_training(argparse.Namespace(budget_s=900.0, quick=True, decay_steps=1234)) == {}
    assert budget_training(argparse.Namespace(budget_s=0.0, quick=False, decay_steps=1234)) == {}


def _public_training():
    sys.path.insert(0, str(REPO / "benchmarks"))
    import mppde_public_training

    return mppde_public_training


def test_public_training_graph_shim_matches_our_radius_graph() -> None:
    """The torch_cluster stand-in: per sample, the non-periodic radius graph of our solver; no
    edge joins two samples of the batch, and no point is its own neighbour."""
    import numpy as np
    import torch

    from solvers.message_passing.graph import radius_graph

    shim = _public_training().radius_graph
    x = np.sort(np.random.default_rng(0).uniform(0, 16, 30))
    r = 1.3
    pos = torch.as_tensor(np.concatenate([x, x]), dtype=torch.float32)
    batch = torch.repeat_interleave(torch.arange(2), 30)
    src, dst = shim(pos, r=r, batch=batch, loop=False)
    assert (batch[src] == batch[dst]).all() and (src != dst).all()
    ours = radius_graph(x, r)
    want = {(int(s), int(d)) for s, d in zip(ours.src, ours.dst)}
    for b in range(2):
        got = {(int(s) - 30 * b, int(d) - 30 * b) for s, d in zip(src, dst) if int(batch[s]) == b}
        assert got == want


def test_public_training_optimizer_steps_the_schedule() -> None:
    import torch

    w = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([w], lr=1.0)
    stepper = _public_training()._ScheduledOptimizer(opt, torch.optim.lr_scheduler.StepLR(opt, 2, gamma=0.4))
    for _ in range(3):
        stepper.zero_grad()
        w.sum().backward()
        stepper.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.4)


def test_public_training_unroll_curriculum() -> None:
    """No pushforward in the first epoch, one unrolled step allowed after it; ``paper`` counts an
    epoch as 250 passes (the public code), ``pass`` as one (our base)."""
    choices = _public_training().unroll_choices
    assert choices(0, "pass", 250) == [0] and choices(1, "pass", 250) == [0, 1] and choices(9, "pass", 250) == [0, 1]
    assert choices(249, "paper", 250) == [0] and choices(250, "paper", 250) == [0, 1]


def test_public_training_quick(tmp_path: Path) -> None:
    """Needs a checkout of the public code (MPPDE_REPO) and torch_geometric; skipped without them."""
    pytest.importorskip("torch_geometric")
    repo = os.environ.get("MPPDE_REPO")
    if not repo or not (Path(repo) / "experiments" / "train_helper.py").is_file():
        pytest.skip("set MPPDE_REPO to a checkout of github.com/brandstetter-johannes/MP-Neural-PDE-Solvers")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    data = tmp_path / "e1.h5"
    subprocess.run([sys.executable, "-m", "sciml_core.cli", "data", "generate", "mp-e1", "--n-samples", "48",
                    "--out", str(data)], cwd=REPO, env=env, check=True, capture_output=True, timeout=300)
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "mppde_public_training.py"), "--quick",
                           "--mppde-repo", repo, "--data", str(data)], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads((REPO / "benchmarks" / "results" / "mppde_public_training.quick.json").read_text())
    assert results["steps"] == 4 and results["n_test"] == 16 and results["acc_err"] > 0
