"""The first hour: progress without a terminal, readable plots, --version, list, smoke-test
labels, dataset provenance, and a demo target that never deletes a previous demo."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

from sciml_core import plots
from sciml_core.cli import main
from sciml_core.progress import ProgressLog
from sciml_core.solver import RunContext
from sciml_core.train import TrainConfig, Trainer

REPO = Path(__file__).resolve().parents[1]


class Quadratic:
    def __init__(self, model: torch.nn.Module) -> None:
        self.model, self.x = model, torch.linspace(-1, 1, 8).reshape(-1, 1)

    def loss(self, step: int):
        return (self.model(self.x) - 3.0).pow(2).mean(), {}


def test_training_without_a_terminal_prints_progress_lines(capsys, monkeypatch) -> None:
    monkeypatch.setenv("SCIML_PROGRESS_S", "0")  # a line every step (default: every 10 s)
    model = torch.nn.Linear(1, 1)

    def validation(trainer, step, logs):
        if step % 2 == 0:
            logs["rel_l2"] = 0.5 / step

    Trainer(model, Quadratic(model), TrainConfig(adam_steps=4, lbfgs_steps=1), RunContext(progress=True),
            [validation]).fit()
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 5
    assert re.fullmatch(r"train: step 1/5 \(adam\)  loss \d\.\d{3}e[+-]\d\d  \S+ steps/s  ETA \S+ (s|min|h)", lines[0])
    assert "rel_l2 2.500e-01" in lines[1] and "rel_l2 2.500e-01" in lines[2]  # the last known value is repeated
    assert lines[4].startswith("train: step 5/5 (lbfgs)") and " done in " in lines[4]
    Trainer(model, Quadratic(model), TrainConfig(adam_steps=2), RunContext(progress=False)).fit()
    assert capsys.readouterr().err == ""


def test_progress_lines_stay_off_on_a_terminal() -> None:
    class Terminal:
        written = ""

        def isatty(self) -> bool:
            return True

        def write(self, text: str) -> None:
            self.written += text

    stream = Terminal()
    log = ProgressLog("train", 3, stream=stream)
    for step in (1, 2, 3):
        log.update(step, 1.0)
    assert stream.written == ""  # tqdm's bar shows it there


def _solution(ndim: int) -> xr.Dataset:
    t, x = np.linspace(0, 1, 7), np.linspace(-1, 1, 16)
    if ndim == 1:
        u = np.sin(np.pi * x)[None] * np.exp(-t)[:, None]
        data = {"u": (("t", "x"), u), "u_ref": (("t", "x"), 2 * u)}  # the reference has twice the range
        coords = {"t": t, "x": x}
    else:
        y = np.linspace(0, 1, 8)
        u = np.sin(np.pi * x)[None, None] * np.cos(np.pi * y)[None, :, None] * (1 + 3 * t)[:, None, None]
        data, coords = {"u": (("t", "y", "x"), u)}, {"t": t, "y": y, "x": x}
    return xr.Dataset(data, coords=coords, attrs={"pde": "test-pde", "solver": "test-solver"})


@pytest.mark.parametrize("ndim", [1, 2])
def test_plots_are_labelled_and_share_one_colour_scale(tmp_path, monkeypatch, ndim) -> None:
    figures = {}
    original = plots._save
    monkeypatch.setattr(plots, "_save", lambda fig, path: (figures.__setitem__(path.name, fig), original(fig, path))[1])
    monkeypatch.setattr(plots.plt, "close", lambda fig=None: None)  # keep them to inspect
    written = plots.plot_solution(_solution(ndim), tmp_path)
    assert {p.name for p in written} >= {"solution.png", "u_snapshots.png", "u.gif"}
    assert (tmp_path / "u.gif").stat().st_size > 0
    for name in ("solution.png", "u_snapshots.png") if ndim == 2 else ("solution.png",):
        fig = figures[name]
        images = [a for a in fig.axes if a.collections and a.get_label() != "<colorbar>"]
        assert len({tuple(a.collections[0].get_clim()) for a in images}) == 1, name  # one scale for all panels
        bars = [a for a in fig.axes if a.get_label() == "<colorbar>"]
        assert len(bars) == 1 and bars[0].get_ylabel() == "u [nondimensional]"
        assert all(a.get_xlabel() and a.get_ylabel() for a in images)
        assert "test-pde / test-solver" in fig._suptitle.get_text()
    if ndim == 1:
        clim = figures["solution.png"].axes[0].collections[0].get_clim()
        assert clim == pytest.approx((-2, 2), abs=0.05)  # prediction and reference on the reference's range
        assert "t = " in " ".join(t.get_text() for t in figures["u_snapshots.png"].axes[0].get_legend().get_texts())
    else:
        titles = [a.get_title() for a in figures["u_snapshots.png"].axes if a.get_title()]
        assert titles[0] == "t = 0" and titles[-1] == "t = 1"


def test_version_and_list(capsys) -> None:
    from sciml_core import __version__

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"sciml {__version__}"
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "placeholder" not in out
    assert re.search(r"pinn .*\n.*presets: quick \(smoke test\), default", out)
    assert re.search(r"spectral-etdrk4 .*\n.*presets: quick, default", out)


def test_a_spec_without_its_generator_says_not_available(tmp_path) -> None:
    from sciml_core.data.specs import load_spec, missing_generator

    spec = tmp_path / "later.toml"
    spec.write_text('pde = "not-built"\n[initial_condition]\nkind = "sine-sum"\n[solver]\nname = "fv-later"\n')
    assert missing_generator(load_spec(spec)) == "PDE 'not-built' and solver 'fv-later'"
    assert missing_generator(load_spec("burgers-1d")) is None


def test_a_quick_preset_is_labelled_a_smoke_test(tmp_path, capsys) -> None:
    argv = ["solve", "burgers", "--solver", "pinn", "--preset", "quick", "--out", str(tmp_path / "r"), "--device", "cpu",
            "--set", "derivatives=autograd", "--set", "train.adam_steps=2", "--set", "train.lbfgs_steps=0",
            "--set", "sampling.n_residual=32"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert re.search(r"note +preset 'quick' is a smoke test: .* its error is not a result", out)
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["smoke_test"] is True and metrics["status"] == "success"


def test_dataset_provenance_records_the_step_and_every_draw(tmp_path) -> None:
    from sciml_core.data.generate import generate
    from sciml_core.data.schema import open_dataset
    from sciml_core.data.specs import load_spec

    spec = load_spec("burgers-1d", {"n_samples": 2, "block_size": 2, "times": {"n_t": 3}, "solver": {"config": {"n": 64}}})
    generate(spec, tmp_path / "b.h5", progress=False)
    with open_dataset(tmp_path / "b.h5") as ds:
        solver_config = json.loads(ds.attrs["solver_config"])
        assert solver_config["dt"] == pytest.approx(1e-4) and solver_config["n"] == 64  # defaults written out
        x, u0 = ds["x"].values, ds["u"].values[:, 0]
        for i in range(2):  # the initial state rebuilt from the stored draws alone
            rebuilt = sum(float(ds[f"ic_a{m}"][i]) * np.sin(2 * np.pi * float(ds[f"ic_k{m}"][i]) * (x - x[0]) / 2.0
                                                             + float(ds[f"ic_phi{m}"][i])) for m in range(2))
            np.testing.assert_allclose(u0[i], rebuilt, atol=1e-6)


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_demo_writes_a_fresh_directory_and_deletes_nothing() -> None:
    proc = subprocess.run(["make", "-n", "demo", "VENV=/nonexistent-venv"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    solve = next(line for line in proc.stdout.splitlines() if " solve " in line)
    assert re.search(r"--out runs/demo-\d{8}-\d{6}", solve) and "--force" not in solve
    assert not re.search(r"\brm\b", proc.stdout)


@pytest.mark.parametrize("pde, solver, overrides", [
    ("allen-cahn", "spectral-etdrk4", ["n=32", "frames=3", "error_estimate=false", "pde.t_end=0.01"]),
    ("combined-equation", "fv-weno5", ["n=16", "frames=3", "pde.t_end=0.1"]),
    ("diffusion-sorption", "fv-diffusion-sorption", ["n=16", "frames=3", "pde.t_end=1.0"]),
])
def test_a_reference_without_a_terminal_prints_frame_lines(capsys, monkeypatch, pde, solver, overrides) -> None:
    from sciml_core import solve

    monkeypatch.setenv("SCIML_PROGRESS_S", "0")  # a line every step (spectral: every frame)
    solve(pde, solver, overrides=overrides, device="cpu")
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines and all(line.startswith(f"{solver} {pde}: frame ") for line in lines)
    assert re.fullmatch(rf"{solver} {pde}: frame 3/3  \S+ frames/s  done in \d+ s", lines[-1])
    if solver.startswith("spectral"):
        assert len(lines) == 3 and lines[0].startswith(f"{solver} {pde}: frame 1/3  ")


@pytest.mark.parametrize("pde, solver, want", [
    ("combined-equation", "fv-weno5", {"n": 200, "frames": 250}),
    ("diffusion-sorption", "fv-diffusion-sorption", {"n": 1024, "frames": 501}),
])
def test_a_finite_volume_config_records_its_grid_and_frames(pde, solver, want) -> None:
    from sciml_core.config import build_config, to_dict
    from sciml_core.registry import get_pde, get_solver

    pde_obj, cls = get_pde(pde).from_params({}), get_solver(solver)
    reference = cls(pde_obj, build_config(cls.Config, cls.preset_config("default", pde)))
    resolved = to_dict(reference.resolved_config())
    assert {k: resolved[k] for k in want} == want  # config.toml writes them out (they were None)
    again = cls(pde_obj, build_config(cls.Config, resolved))  # and they reproduce the run's own choices
    np.testing.assert_array_equal(again.grid()["x"], reference.grid()["x"])
    if hasattr(reference, "times"):
        np.testing.assert_array_equal(again.times(), reference.times())


def _pinn_diagnostic(kind: str, path: Path) -> Path:
    """One PINN diagnostic plot on small synthetic data."""
    from solvers.pinn import plots_flow, plots_lagrangian
    from solvers.pinn.plots import plot_causal

    if kind == "causal":
        return plot_causal([{"step": s, "causal_w": [1.0, 0.5, 0.1], "eps": 1.0, "min_w": 0.1} for s in (1, 2)], path)
    x = np.linspace(0, 1, 12)
    if kind == "flow":
        u = np.outer(np.sin(np.pi * x), np.cos(np.pi * x))
        ds = xr.Dataset({"u": (("y", "x"), u), "v": (("y", "x"), -u.T), "p": (("y", "x"), u * u.T)},
                        coords={"x": x, "y": x})
        return plots_flow.plot_flow(ds, path, "flow")
    t = np.linspace(0, 1, 5)
    u = np.sin(2 * np.pi * (x[None] - t[:, None]))
    ds = xr.Dataset({"characteristic": (("t", "x0"), x[None] + t[:, None]), "u": (("t", "x"), u),
                     "u_ref": (("t", "x"), 1.1 * u)}, coords={"t": t, "x": x})
    return plots_lagrangian.plot_characteristics(ds, path, "advection")


@pytest.mark.parametrize("kind, bars", [("causal", 1), ("flow", 2), ("characteristics", 2)])
def test_pinn_diagnostic_plots_label_every_colour_bar(tmp_path, monkeypatch, kind, bars) -> None:
    import matplotlib.pyplot as plt

    close = plt.close
    monkeypatch.setattr(plt, "close", lambda fig=None: None)  # keep the figure to inspect
    assert _pinn_diagnostic(kind, tmp_path / f"{kind}.png").stat().st_size > 0
    found = [a.get_ylabel() for a in plt.gcf().axes if a.get_label() == "<colorbar>"]
    assert len(found) == bars and all(found), found
    close("all")


@pytest.mark.skipif(not hasattr(__import__("os"), "openpty"), reason="needs a pseudo-terminal")
def test_progress_on_a_terminal_is_a_bar_not_lines(monkeypatch) -> None:
    import fcntl
    import os
    import select
    import struct
    import sys
    import termios

    from sciml_core.progress import Progress

    leader, follower = os.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    with os.fdopen(follower, "w") as terminal:
        monkeypatch.setattr(sys, "stderr", terminal)
        monkeypatch.setenv("SCIML_PROGRESS_S", "0")
        progress = Progress("fv-weno5 test", 5, initial=1, noun="frame")
        for done in (2, 3, 5):
            progress.update(done)
        progress.close()
        terminal.flush()
        shown = b""
        while select.select([leader], [], [], 1.0)[0]:  # the pty hands writes over asynchronously: read them all
            shown += os.read(leader, 65536)
        shown = shown.decode()
    os.close(leader)
    assert "fv-weno5 test: 100%" in shown and "5/5" in shown  # tqdm's bar
    assert "done in" not in shown and "frames/s  ETA" not in shown  # no plain lines on a terminal
