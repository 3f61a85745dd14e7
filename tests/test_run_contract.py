"""The run-directory contract for every solver kind (through solve()): aborted runs are
recognisable and rerunnable, a live run is not overwritten, --force keeps the user's own
files, --resume alone continues a run from its config.toml, metrics.json is strict JSON."""

from __future__ import annotations

import json
import math
import socket
import subprocess
import sys

import numpy as np
import pytest

from sciml_core import solve
from sciml_core.errors import OutputError
from sciml_core.run import RunDirectory, dumps_json

SMALL = ["n=32", "frames=4", "error_estimate=false", "checkpoint_every=1"]


def small_run(out, **kwargs):
    return solve("allen-cahn", "spectral-etdrk4", overrides=SMALL, out=out, progress=False, **kwargs)


def test_a_crashed_run_is_marked_and_simply_rerun(tmp_path, monkeypatch) -> None:
    from solvers.spectral.engine import SpectralSolver

    def crash(self):
        raise RuntimeError("a bug in the middle of the run")

    monkeypatch.setattr(SpectralSolver, "_run", crash)
    with pytest.raises(RuntimeError):
        small_run(tmp_path / "r")
    marker = json.loads((tmp_path / "r" / "run.json").read_text())
    assert marker["status"] == "failed" and "a bug in the middle" in marker["error"]
    assert RunDirectory.existing(tmp_path / "r").status() == "aborted"
    monkeypatch.undo()
    result = small_run(tmp_path / "r")  # no checkpoint was left: nothing to continue, no flag needed
    assert result.status == "success"
    assert json.loads((tmp_path / "r" / "run.json").read_text())["status"] == "complete"


def test_complete_is_written_last(tmp_path, monkeypatch) -> None:
    order = []
    original = RunDirectory.write_metrics
    monkeypatch.setattr(RunDirectory, "write_metrics", lambda self, m, name="metrics.json": (
        order.append("metrics"), original(self, m, name))[1])
    monkeypatch.setattr(RunDirectory, "end", lambda self, status="complete", error=None: order.append(status))
    small_run(tmp_path / "r")
    assert order == ["metrics", "complete"]


def test_a_live_run_is_not_overwritten(tmp_path) -> None:
    small_run(tmp_path / "r")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        marker = tmp_path / "r" / "run.json"
        marker.write_text(json.dumps({**json.loads(marker.read_text()), "status": "running", "pid": sleeper.pid,
                                      "host": socket.gethostname()}))
        with pytest.raises(OutputError, match=f"is in use by a running sciml process \\(pid {sleeper.pid}\\)"):
            small_run(tmp_path / "r", force=True)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert RunDirectory.existing(tmp_path / "r").status() == "aborted"  # its process is gone


def test_force_replaces_our_files_only(tmp_path) -> None:
    small_run(tmp_path / "r")
    (tmp_path / "r" / "notes.txt").write_text("mine\n")
    (tmp_path / "r" / "metrics.eval.json").write_text("{}")
    small_run(tmp_path / "r", force=True)
    assert (tmp_path / "r" / "notes.txt").read_text() == "mine\n"
    assert not (tmp_path / "r" / "metrics.eval.json").exists()  # an eval of the replaced run


def test_resume_alone_continues_from_the_runs_own_settings(tmp_path) -> None:
    first = small_run(tmp_path / "r", seed=5)
    again = solve(out=tmp_path / "r", resume=True, progress=False)  # no PDE, solver, preset or seed given
    assert again.metrics["seed"] == 5 and again.metrics["solver"] == "spectral-etdrk4"
    np.testing.assert_array_equal(again.solution["u"].values, first.solution["u"].values)


def test_metrics_json_is_strict_json_with_nan_as_null(tmp_path, monkeypatch) -> None:
    import sciml_core.api as api

    monkeypatch.setattr(api, "solution_rel_l2", lambda solution: float("nan"))
    result = small_run(tmp_path / "r")
    text = (tmp_path / "r" / "metrics.json").read_text()
    metrics = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    assert metrics["rel_l2"] is None and metrics["non_finite"] == ["rel_l2"]
    assert math.isnan(result.metrics["rel_l2"])  # in memory the number stays what it is
    assert json.loads(dumps_json({"a": [float("inf"), 1.0], "b": np.float64("nan")})) == {"a": [None, 1.0], "b": None}


def test_the_dataset_file_is_recorded_and_resume_keeps_it(tmp_path) -> None:
    import tomllib

    from sciml_core.errors import ConfigError

    small_run(tmp_path / "r", data=tmp_path / "train.h5")  # a reference ignores --data; the record holds it
    stored = tomllib.loads((tmp_path / "r" / "config.toml").read_text())
    assert stored["data"] == str((tmp_path / "train.h5").resolve())
    with pytest.raises(ConfigError, match=r"data \('.*train.h5' in the run, '.*other.h5' now\)"):
        solve(out=tmp_path / "r", resume=True, data=tmp_path / "other.h5", progress=False)
