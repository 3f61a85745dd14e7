"""Pseudo-spectral references: registry, configs, run outputs, resume, spiral regimes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import solvers.spectral  # noqa: F401
from sciml_core.config import build_config
from sciml_core.errors import ConfigError, NotImplementedForError
from sciml_core.registry import get_pde, get_solver, list_solvers
from sciml_core.run import RunDirectory
from sciml_core.solver import RunContext
from solvers.spectral import spirals
from solvers.spectral.engine import SpectralSolver

NAMES = ["spectral-etdrk4", "spectral-dopri", "spectral-rk4"]
SPECTRAL_PDES = ["reaction-diffusion", "gray-scott", "fitzhugh-nagumo", "kuramoto-sivashinsky",
                 "burgers-periodic", "navier-stokes-2d", "allen-cahn"]
ROOT = Path(__file__).resolve().parents[1]


def make(pde, name, context=None, **cfg):  # type: ignore[no-untyped-def]
    cls = get_solver(name)
    return cls(pde, build_config(cls.Config, cfg), context or RunContext(progress=False))


@pytest.mark.parametrize("name", NAMES)
def test_registered_with_presets_and_validation(name: str) -> None:
    cls = list_solvers()[name]
    assert cls.kind == "reference" and {"quick", "default"} <= set(cls.presets)
    for preset in cls.presets.values():
        build_config(cls.Config, preset)
    with pytest.raises(ConfigError, match="n must be at least 4"):
        build_config(cls.Config, {"n": 2})
    key = "rtol" if name == "spectral-dopri" else "dt"
    with pytest.raises(ConfigError, match=f"{key} must be positive"):
        build_config(cls.Config, {key: -1.0})
    with pytest.raises(NotImplementedForError):
        make(get_pde("burgers")(), name)  # Dirichlet: not periodic


@pytest.mark.parametrize("pde_name", SPECTRAL_PDES)
def test_every_catalogue_pde_runs(pde_name: str) -> None:
    """Each spectral PDE: quick run on a small grid, finite, dims (t, [y,] x), grid() matches."""
    pde_cls = get_pde(pde_name)
    params = {"t_end": 0.02 if pde_name != "gray-scott" else 2.0}
    if "n" in pde_cls.__dataclass_fields__:
        params["n"] = 16
    pde = pde_cls.from_params(params)
    solver = make(pde, "spectral-etdrk4", n=16, frames=3, dt=min(pde.spectral_dt, 0.01))
    out = solver.run()
    sol = out.solution
    dims = ("t", *pde.domain().dims)
    for f in pde.fields:
        assert sol[f].dims == dims and np.isfinite(sol[f].values).all()
    assert np.array_equal(sol["x"].values, solver.grid()["x"])
    assert out.steps > 0 and out.metrics["rhs_evals"] == 4 * out.steps


def test_run_directory_outputs_round_trip(tmp_path: Path) -> None:
    """solution.nc has t, y, x coordinates and round-trips exactly; PNG grid and GIF written."""
    pde = get_pde("reaction-diffusion").from_params(preset="decay", params={"n": 16, "t_end": 2.0, "frames": 5})
    run = RunDirectory(tmp_path / "run")
    out = make(pde, "spectral-dopri", RunContext(run=run, progress=False), rtol=1e-6).run()
    path = run.write_solution(out.solution)
    with xr.open_dataset(path, engine="h5netcdf") as back:
        assert set(back.coords) == {"t", "y", "x"}
        assert back.u.dims == ("t", "y", "x")
        assert np.array_equal(back.u.values, out.solution.u.values)
        assert np.array_equal(back.y.values, out.solution.y.values)
        assert back.attrs["pde"] == "reaction-diffusion" and back.attrs["solver"] == "spectral-dopri"
    from sciml_core.plots import plot_solution  # what solve() writes for every solver

    plot_solution(out.solution, run.plots)
    for name in ("u_snapshots.png", "v_snapshots.png", "u.gif", "solution_u.png"):
        assert (run.plots / name).stat().st_size > 0
    assert out.metrics["regime"] in ("stable-spiral", "turbulent", "decay")
    assert set(out.metrics["final_stats"]) == {"mean", "std", "min", "max", "kurtosis"}


@pytest.mark.parametrize("name", ["spectral-dopri", "spectral-etdrk4"])
def test_resume_after_interruption_gives_same_final_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          name: str) -> None:
    pde = get_pde("reaction-diffusion").from_params(preset="stable-spiral",
                                                    params={"n": 16, "length": 10.0, "t_end": 3.0, "frames": 7})
    cfg = {"checkpoint_every": 2, "error_estimate": False, "dt": 0.05} if name != "spectral-dopri" else \
        {"checkpoint_every": 2, "error_estimate": False, "rtol": 1e-7}
    full = make(pde, name, **cfg).run().solution

    original, calls = SpectralSolver._save_checkpoint, []

    def interrupted(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        original(self, *args, **kwargs)
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(SpectralSolver, "_save_checkpoint", interrupted)
    run = RunDirectory(tmp_path / "run")
    with pytest.raises(KeyboardInterrupt):
        make(pde, name, RunContext(run=run, progress=False), **cfg).run()
    monkeypatch.setattr(SpectralSolver, "_save_checkpoint", original)
    resumed = make(pde, name, RunContext(run=RunDirectory(tmp_path / "run", resume=True), resume=True,
                                         progress=False), **cfg).run()
    assert np.array_equal(resumed.solution.u.values, full.u.values)
    assert np.array_equal(resumed.solution.v.values, full.v.values)
    with pytest.raises(Exception, match="different run"):
        other = {**cfg, "checkpoint_every": 3}
        make(pde, name, RunContext(run=RunDirectory(tmp_path / "run", resume=True), resume=True,
                                   progress=False), **other).run()


def test_frame_statistics_exact() -> None:
    x = np.linspace(0, 2 * np.pi, 4096, endpoint=False)
    stats = spirals.frame_statistics(np.stack([np.sin(x), 2 + 0 * x]))
    assert np.allclose(stats["mean"], [0, 2], atol=1e-12) and np.allclose(stats["std"][0], np.sqrt(0.5))
    assert np.isclose(stats["kurtosis"][0], 1.5) and np.isnan(stats["kurtosis"][1])
    assert np.allclose(stats["min"], [-1, 2], atol=1e-6) and np.allclose(stats["max"], [1, 2], atol=1e-6)


def test_benchmark_quick_writes_results() -> None:
    script = ROOT / "benchmarks" / "reaction_diffusion_vs_solve_ivp.py"
    subprocess.run([sys.executable, str(script), "--quick"], check=True, cwd=ROOT, capture_output=True)
    data = json.loads((ROOT / "benchmarks" / "results" / "reaction_diffusion_vs_solve_ivp.quick.json").read_text())
    keys = ["solve_ivp_wall_s", "solve_ivp_rel_err", "ours_wall_s", "ours_rel_err", "speedup",
            "solve_ivp_wall_s_n256", "ours_wall_s_n256", "speedup_n256", "solve_ivp_batch16_traj_per_min",
            "ours_batch16_traj_per_min", "batch16_speedup", "step_over_fft_time"]
    assert all(np.isfinite(data[k]) and data[k] > 0 for k in keys)
    assert data["quick"] is True and data["ours_rel_err"] < 1e-4


@pytest.mark.parametrize("regime, params", [
    ("decay", {"n": 32, "t_end": 100.0, "frames": 21}),
    ("stable-spiral", {"n": 64, "t_end": 100.0, "frames": 21}),
    ("turbulent", {"n": 192, "t_end": 150.0, "frames": 16}),
    # harder: a spiral still settling (its slow relaxation is not chaos), turbulence whose
    # amplitude statistics fluctuate by under 2 % only, a pattern caught while collapsing
    ("stable-spiral", {"n": 64, "t_end": 10.0, "frames": 21}),
    ("turbulent", {"n": 128, "t_end": 50.0, "frames": 21}),
    ("decay", {"n": 64, "t_end": 40.0, "frames": 21}),
])
def test_regimes_classified_on_short_runs(regime: str, params: dict) -> None:
    """Each rd-spiral preset, shortened and coarsened, is classified as its own regime."""
    pde = get_pde("reaction-diffusion").from_params(preset=regime, params=params)
    out = make(pde, "spectral-dopri", rtol=1e-5, atol=1e-8, error_estimate=False).run()
    assert out.metrics["regime"] == regime, out.metrics["regime_features"]
