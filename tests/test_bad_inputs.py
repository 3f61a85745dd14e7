"""Every bad input of issue 18 (and its neighbours) as a table: the exact one-line message,
exit status 2 (3 for a diverged run), no traceback, and not one file changed.

The table lives in ``benchmarks/bad_inputs.py``, whose full run repeats it one process per
case and writes the counts to ``benchmarks/results/bad_inputs.json``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("bad_inputs", REPO / "benchmarks" / "bad_inputs.py")
bad_inputs = importlib.util.module_from_spec(_spec)
sys.modules["bad_inputs"] = bad_inputs
_spec.loader.exec_module(bad_inputs)


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bad-inputs") / "fixtures"
    bad_inputs.build_fixtures(root)
    return root


@pytest.mark.parametrize("case", bad_inputs.CASES, ids=[c.name for c in bad_inputs.CASES])
def test_bad_input_is_one_clear_line_and_changes_nothing(case, fixtures, tmp_path) -> None:
    outcome = bad_inputs.run_case(case, fixtures, tmp_path / "case", in_process=True)
    assert not outcome.traceback, outcome.stderr
    assert outcome.code == case.code, outcome.stderr
    want = bad_inputs.expected_message(case)
    lines = outcome.stderr.splitlines()
    assert len(lines) == 1, outcome.stderr
    if want == case.message:
        assert lines[0] == want
    else:  # the size on this machine follows
        assert lines[0].startswith(want), lines[0]
    assert outcome.changed == [], outcome.changed


def test_a_diverged_reference_leaves_valid_json_naming_the_status(fixtures, tmp_path) -> None:
    case = next(c for c in bad_inputs.CASES if c.name == "solve pde.d=1e308 diverges")
    bad_inputs.run_case(case, fixtures, tmp_path / "case", in_process=True)
    metrics = json.loads((tmp_path / "case/blowup/metrics.json").read_text())  # strict JSON: NaN would not parse
    assert metrics["status"] == "diverged" and metrics["rel_l2"] is None
    assert json.loads((tmp_path / "case/blowup/run.json").read_text())["status"] == "diverged"


def test_info_flags_non_finite_values_but_still_describes_the_file(fixtures, capsys, monkeypatch) -> None:
    from sciml_core.cli import main

    monkeypatch.chdir(fixtures)
    assert main(["data", "info", "data/nan.h5"]) == 0
    assert "values      WARNING: NaN/inf in 'u' (1 completed samples, first 1)" in capsys.readouterr().out
    assert main(["data", "info", "data/s0.h5"]) == 0
    assert "values      all finite" in capsys.readouterr().out


def test_benchmark_quick_counts_and_writes_results() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bad_inputs.py"), "--quick"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"clear errors: {len(bad_inputs.QUICK)} / {len(bad_inputs.QUICK)} cases; tracebacks: 0; files changed: 0" \
        in proc.stdout
    results = json.loads((REPO / "benchmarks" / "results" / "bad_inputs.quick.json").read_text())
    assert results["quick"] is True and results["cases"] == len(bad_inputs.QUICK) and results["tracebacks"] == 0
    assert {"cores", "torch", "date"} <= set(results["machine"])
