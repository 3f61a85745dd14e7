"""A reference reports its own accuracy: the error estimates in metrics.json against the
exact (Cole-Hopf) error of periodic Burgers, for the fixed-step and adaptive integrators."""

from __future__ import annotations

import pytest

from sciml_core import solve

BURGERS = ["pde.t_end=0.3", "frames=4"]


def burgers(solver: str, *overrides: str):
    return solve("burgers-periodic", solver, preset="smooth", overrides=[*BURGERS, *overrides], progress=False).metrics


def test_space_estimate_matches_the_exact_error() -> None:
    # n = 32: the spatial error dominates (the time error at dt = 1e-3 is ~1e-11)
    m = burgers("spectral-etdrk4", "n=32", "dt=1e-3")
    assert m["time_error_estimate"] < 1e-9
    assert m["space_error_estimate"] == pytest.approx(m["rel_l2"], rel=0.05)


@pytest.mark.parametrize("solver, setting, band", [
    ("spectral-etdrk4", "dt=0.05", (0.6, 1.2)),
    ("spectral-rk4", "dt=0.05", (0.6, 1.2)),
    ("spectral-dopri", "rtol=1e-6", (0.5, 2.0)),
])
def test_time_estimate_matches_the_exact_error(solver, setting, band) -> None:
    # n = 128: the spatial error is ~1e-10, so rel_l2 against Cole-Hopf is the time error
    m = burgers(solver, "n=128", setting, *(["atol=1e-8"] if solver == "spectral-dopri" else []))
    assert m["space_error_estimate"] < 1e-8
    assert band[0] < m["time_error_estimate"] / m["rel_l2"] < band[1], (m["time_error_estimate"], m["rel_l2"])


def test_2d_runs_report_a_space_bound_and_the_config_is_resolved(tmp_path) -> None:
    import tomllib

    result = solve("reaction-diffusion", "spectral-etdrk4", preset="decay",
                   overrides=["pde.n=16", "pde.t_end=1", "pde.frames=3"], out=tmp_path / "r", progress=False)
    assert result.metrics["space_error_bound"] >= 0 and result.metrics["time_error_estimate"] >= 0
    config = tomllib.loads((tmp_path / "r" / "config.toml").read_text())["config"]
    assert {"n", "dt", "dealias", "frames"} <= set(config)  # every automatic choice written out
    assert config["n"] == 16 and config["dt"] == pytest.approx(0.05)


@pytest.mark.parametrize("script, key", [("reference_accuracy", "cases"), ("record_solve", "metrics"),
                                         ("first_hour", "demo_commands"), ("spectral_accuracy", "cases"),
                                         ("diffusion_sorption_generation", "rk45_vs_tight_rel_l2")])
def test_first_hour_benchmarks_quick(script, key, monkeypatch, capsys) -> None:
    import json
    import runpy
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    monkeypatch.setattr(sys, "argv", [f"benchmarks/{script}.py", "--quick"])  # in-process: no second start-up
    runpy.run_path(str(repo / "benchmarks" / f"{script}.py"), run_name="__main__")
    assert "results written" in capsys.readouterr().out or script == "record_solve"
    results = json.loads((repo / "benchmarks" / "results" / f"{script}.quick.json").read_text())
    assert results[key]
    if script == "reference_accuracy":  # the run's own space estimate is within 5 % of its error vs 4n
        assert 0.95 < results["cases"][0]["space_ratio"] < 1.05
    if script == "spectral_accuracy":  # ETDRK4 and Dormand-Prince agree; 2n and the exact solution differ
        errors = {row["kind"]: row["error"] for row in results["cases"]}
        assert errors["agreement"] < 1e-9 and 1e-4 < errors["space"] < 1 and 1e-5 < errors["exact"] < 1e-1
    if script == "diffusion_sorption_generation":  # RK45 at scipy's defaults is off by more than float32 storage
        assert all(results["stored_vs_tight_rel_l2"] < e < 0.1 for e in results["rk45_vs_tight_rel_l2"].values())
    if script == "first_hour":
        assert all("--out runs/demo-" in line for line in results["demo_commands"])
