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
