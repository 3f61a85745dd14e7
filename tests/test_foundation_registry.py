"""Registry lookups, close-match errors, preset validity for every solver, plugin discovery."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from sciml_core import registry
from sciml_core.config import build_config
from sciml_core.errors import UnknownNameError
from sciml_core.pdes.base import PDE
from sciml_core.solver import Solver


def test_builtin_names_are_registered() -> None:
    assert "pinn" in registry.list_solvers()
    assert {"burgers", "allen-cahn"} <= set(registry.list_pdes())
    assert registry.get_pde("burgers").name == "burgers"
    assert registry.get_solver(registry.get_solver("pinn")) is registry.get_solver("pinn")


def test_unknown_names_list_close_matches() -> None:
    with pytest.raises(UnknownNameError, match=r"unknown solver 'pin'; did you mean 'pinn'"):
        registry.get_solver("pin")
    with pytest.raises(UnknownNameError, match=r"unknown PDE 'burger'; did you mean 'burgers'"):
        registry.get_pde("burger")
    with pytest.raises(UnknownNameError) as info:
        registry.get_pde("zzz-nothing")
    assert "did you mean" not in str(info.value) and "available: " in str(info.value)


@pytest.mark.parametrize("name", sorted(registry.list_solvers()))
def test_every_solver_declares_a_valid_contract(name: str) -> None:
    cls = registry.get_solver(name)
    assert cls.kind in ("reference", "pinn", "operator")
    assert {"quick", "default"} <= set(cls.presets)
    for preset in cls.presets.values():
        build_config(cls.Config, preset)  # every preset is a valid config
    for pde_name, refinements in cls.pde_presets.items():
        registry.get_pde(pde_name)
        for preset in refinements:
            assert preset in cls.presets, f"{name}: pde_presets[{pde_name!r}] refines unknown preset {preset!r}"
            build_config(cls.Config, cls.preset_config(preset, pde_name))


@pytest.mark.parametrize("name", sorted(registry.list_pdes()))
def test_every_pde_builds_with_defaults_and_presets(name: str) -> None:
    cls = registry.get_pde(name)
    assert isinstance(cls.from_params(), PDE)
    for preset in cls.presets:
        assert cls.from_params(preset=preset).params()


PLUGIN = textwrap.dedent(
    '''
    from dataclasses import dataclass
    import xarray as xr
    from sciml_core.solver import Solver, SolverOutput

    @dataclass
    class Config:
        value: float = 1.0

    class EchoSolver(Solver):
        """Returns the PDE's initial condition at every time: a test plugin."""
        kind = "reference"
        Config = Config
        def run(self):
            grid = self.pde.reference_grid()
            u0 = self.pde.initial_condition(x=grid["x"])["u"]
            import numpy as np
            data = np.broadcast_to(u0, (grid["t"].size, grid["x"].size)) * self.config.value
            return SolverOutput(solution=xr.Dataset({"u": (("t", "x"), data)}, coords=grid))
    '''
)


@pytest.fixture
def installed_plugin(tmp_path, monkeypatch):
    """A real distribution on sys.path whose entry point joins the sciml.solvers group."""
    (tmp_path / "sciml_echo_plugin.py").write_text(PLUGIN)
    info = tmp_path / "sciml_echo_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sciml-echo-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[sciml.solvers]\necho = sciml_echo_plugin:EchoSolver\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    registry._SOLVERS.pop("echo", None)


def test_plugin_is_discovered_through_entry_points(installed_plugin) -> None:
    registry.load_plugins(force=True)
    cls = registry.get_solver("echo")
    assert issubclass(cls, Solver) and cls.name == "echo"


def test_plugin_runs_through_the_command_line(installed_plugin, tmp_path) -> None:
    env_path = f"{installed_plugin}"
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "sciml_core.cli", "solve", "burgers", "--solver", "echo", "--out", str(out),
           "--set", "value=2.0"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**__import__("os").environ, "PYTHONPATH": env_path})
    assert proc.returncode == 0, proc.stderr
    assert (out / "solution.nc").exists()
    listing = subprocess.run([sys.executable, "-m", "sciml_core.cli", "list"], capture_output=True, text=True,
                             env={**__import__("os").environ, "PYTHONPATH": env_path})
    assert "echo" in listing.stdout
