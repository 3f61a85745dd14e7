"""The issue-22 benchmarks run end to end in their --quick form and write their result keys."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run(script: str, *extra: str) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / f"{script}.py"), "--quick", *extra], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads((REPO / "benchmarks" / "results" / f"{script}.quick.json").read_text())


@pytest.mark.skipif(importlib.util.find_spec("jaxopt") is None, reason="the bench extra (jax, jaxopt) is not installed")
def test_implicit_vs_jaxopt_quick():
    results = run("implicit_vs_jaxopt")
    for problem in ("ridge", "fixed_point", "lm", "lm_closed_form_jacobian"):
        assert results["grad_max_rel_diff"][problem] < 1e-6
        assert results["time_ratio_vs_jaxopt"][problem] > 0


def test_hard_constraint_moe_quick():
    results = run("hard_constraint_moe", "--threads", "3")
    for key in ("soft_rel_l2", "hard_rel_l2", "moe_rel_l2", "hard_step_s_1e2", "moe_step_s_1e2", "moe_speedup_1e2",
                "hard_peak_mb_1e2", "moe_peak_mb_1e2"):
        assert results[key] >= 0, key
    assert results["hard_saved_mb_1e2"] > 0 and results["moe_saved_mb_1e2"] > 0
    assert results["quick"] is True
    assert results["machine"]["torch_threads"] == 3  # --threads reaches torch (neither the default 2 nor OMP's 1)


def test_hard_constraint_grid_floor_quick():
    results = run("hard_constraint_grid_floor", "--ic-weight", "50", "--bc-weight", "200")
    assert results["grid"] == [5, 8] and results["n_test"] == 2
    assert (results["ic_weight"], results["bc_weight"]) == (50.0, 200.0)  # the options reach the solved rows' config
    assert len(results["floor_rel_l2_per_sample"]) == 2
    assert results["floor_rel_l2"] == pytest.approx(sum(results["floor_rel_l2_per_sample"]) / 2) and results["floor_rel_l2"] > 0


def test_saved_for_backward_counts_each_storage_once():
    sys.path.insert(0, str(REPO))
    from benchmarks.hard_constraint_moe import saved_for_backward_mb
    import torch

    x = torch.ones(1000, dtype=torch.float64, requires_grad=True)
    assert saved_for_backward_mb(lambda: (x * x).sum()) == 8000 / 2**20  # x saved twice, one buffer
    # exp saves its output, mul that same output and the repeat's: two buffers
    assert saved_for_backward_mb(lambda: (x.exp() * x[:500].repeat(2)).sum()) == 2 * 8000 / 2**20
    with torch.no_grad():
        assert saved_for_backward_mb(lambda: (x * x).sum()) == 0
