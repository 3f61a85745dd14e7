"""The data benchmarks run end to end in their --quick form and write their result keys."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("script, keys", [
    ("data_loader_throughput", ("loader_samples_per_s", "raw_samples_per_s", "ratio")),
    ("generation_scaling", ("w1_samples_per_s", "w2_samples_per_s", "ratio")),
])
def test_benchmark_quick(script: str, keys: tuple[str, ...]) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / f"{script}.py"), "--quick"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "ratio" in proc.stdout
    results = json.loads((REPO / "benchmarks" / "results" / f"{script}.quick.json").read_text())
    assert results["quick"] is True
    for key in keys:
        assert results[key] > 0
