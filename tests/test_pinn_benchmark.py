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


def test_derivative_engine_benchmark_quick_times_every_engine() -> None:
    pytest.importorskip("numba", reason="the compiled engine needs numba (the fast extra)")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "pinn_derivative_engines.py"), "--quick"], check=True,
                   capture_output=True, env=env, cwd=ROOT, timeout=300)
    results = json.loads((ROOT / "benchmarks" / "results" / "pinn_derivative_engines.quick.json").read_text())
    (preset,) = results["presets"].values()
    for key in ("compiled_ms", "tensor_ms", "reverse_ms", "compiled_speedup_vs_tensor", "compiled_speedup_vs_reverse"):
        assert preset[key] > 0, key


def test_allen_cahn_seeds_quick_records_the_run(tmp_path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "pinn_allen_cahn_seeds.py"), "--config", "causal",
                    "--seed", "3", "--quick", "--out", str(tmp_path)], check=True, capture_output=True, env=env,
                   cwd=ROOT, timeout=300)
    results = json.loads((ROOT / "benchmarks" / "results" / "pinn_allen_cahn_seeds.quick.json").read_text())
    run = results["runs"]["causal-seed3"]
    assert run["steps"] == 20 and 0 < run["rel_l2"] and 0 < run["causal_min_w"] <= 1 and run["causal_eps"] > 0
    assert results["summary"]["causal"]["n"] >= 1


def test_paper_costs_quick_writes_every_figure() -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "pinn_paper_costs.py"), "--quick"], check=True,
                   capture_output=True, env=env, cwd=ROOT, timeout=300)
    results = json.loads((ROOT / "benchmarks" / "results" / "pinn_paper_costs.quick.json").read_text())
    for pde in ("allen-cahn", "kuramoto-sivashinsky"):
        r = results["presets"][pde]
        assert r["cpu_ms_per_step"] > 0 and r["matmul_gflop_per_step"] > 0 and r["operations_per_step"] > 0
        assert 0 < r["gpu_hours_estimate_min"] <= r["gpu_hours_estimate_max"]
