"""Smoke run of the DeepXDE comparison (``--quick``): it runs both sides and writes every key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_pinn_vs_deepxde_quick_writes_all_keys() -> None:
    pytest.importorskip("deepxde")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "DDE_BACKEND": "pytorch"}
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "pinn_vs_deepxde.py"), "--quick"], check=True,
                   capture_output=True, env=env, cwd=ROOT, timeout=300)
    results = json.loads((ROOT / "benchmarks" / "results" / "pinn_vs_deepxde.quick.json").read_text())
    for key in ("deepxde_steps_per_s", "ours_steps_per_s", "steps_ratio", "deepxde_rel_l2", "deepxde_wall_s",
                "ours_rel_l2_equal_time"):
        assert results[key] > 0, key
    assert results["quick"] is True
