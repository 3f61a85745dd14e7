"""MP-PDE data: the mp-forcing draws, specs mp-e1/e2/e3 end to end, determinism, resume, down-projection."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from sciml_core.config import build_config
from sciml_core.data import open_dataset, validate_file
from sciml_core.data.coarsen import downsample
from sciml_core.data.generate import generate
from sciml_core.data.specs import load_spec
from sciml_core.errors import ConfigError
from sciml_core.pdes.combined_equation import forcing_draw_names, sine_forcing
from sciml_core.registry import get_pde
from solvers.finite_volume.engine import WenoSolver

TINY = {"n_samples": 6, "block_size": 2, "times": {"t_end": 0.5, "n_t": 6}, "solver": {"config": {"n": 40}}}


def forcing_of(f: h5py.File, i: int) -> dict[str, np.ndarray]:
    return {k: np.array([f[f"ic_{k}{j}"][i] for j in range(5)]) for k in ("A", "omega", "l", "phi")}


@pytest.fixture(scope="module")
def e1(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mp") / "e1.h5"
    generate(load_spec("mp-e1", TINY), out, seed=7, progress=False)
    return out


@pytest.mark.parametrize("name", ["mp-e2", "mp-e3"])
def test_mp_specs_e2_e3_end_to_end(name: str, tmp_path: Path) -> None:
    spec = load_spec(name, {**TINY, "n_samples": 2, "times": {"t_end": 0.1, "n_t": 3}})
    header = validate_file(generate(spec, tmp_path / f"{name}.h5", seed=1, progress=False).path)
    assert "beta" in header.params and set(forcing_draw_names(5)) <= set(header.ic_draws)
    with open_dataset(header.path) as ds:
        assert 0 <= float(ds.beta.max()) <= (0.2 if name == "mp-e2" else 0.4)
        assert ds.u.shape == (2, 3, 40) and not np.array_equal(ds.u[0], ds.u[1])


def test_e1_file_holds_its_forcing_and_reproduces(e1: Path) -> None:
    header = validate_file(e1)
    assert header.params == () and header.dims == {"sample": 6, "t": 6, "x": 40}
    pde = get_pde("combined-equation").from_params({"t_end": 0.5})
    solver = WenoSolver(pde, build_config(WenoSolver.Config, {**load_spec("mp-e1").solver.config, "n": 40}))
    with h5py.File(e1) as f:
        x, t, u = f["x"][:], f["t"][:], f["u"][:]
        assert x[1] == pytest.approx(0.4) and t[-1] == pytest.approx(0.5)
        for i in (0, 3):
            w = forcing_of(f, i)
            assert set(np.unique(w["l"])) <= {1.0, 2.0} and np.abs(w["A"]).max() <= 0.5
            np.testing.assert_allclose(u[i, 0], sine_forcing(0.0, x, w["A"], w["omega"], w["l"], w["phi"], 16.0, 0.4),
                                       atol=1e-6)  # u0 = delta(0, x), as cell averages
            params = {f"{k}{j}": np.array([f[f"ic_{k}{j}"][i]]) for k in ("A", "omega", "l", "phi") for j in range(5)}
            again = solver.integrate({"u": u[i : i + 1, 0].astype(np.float64)}, t, params=params)["u"][0]
            np.testing.assert_allclose(again, u[i], atol=2e-6)  # float32 storage
    assert np.abs(u[:, -1] - u[:, 0]).max() > 0.05


def test_e1_bit_identical_across_workers_and_resume(e1: Path, tmp_path: Path) -> None:
    spec = load_spec("mp-e1", TINY)
    two = tmp_path / "two.h5"
    generate(spec, two, seed=7, workers=2, progress=False)
    resumed = tmp_path / "resumed.h5"
    resumed.write_bytes(e1.read_bytes())
    with h5py.File(resumed, "r+") as f:  # as if killed after the first block
        f["completed"][2:] = 0
        f["u"][2:] = np.nan
    assert generate(spec, resumed, seed=7, progress=False).n_generated == 4
    names = ["u", "completed", *(f"ic_{n}" for n in forcing_draw_names(5))]
    with h5py.File(e1) as a, h5py.File(two) as b, h5py.File(resumed) as c:
        for name in names:
            assert a[name][:].tobytes() == b[name][:].tobytes() == c[name][:].tobytes(), name
    other = tmp_path / "seed8.h5"
    generate(spec, other, seed=8, progress=False)
    with h5py.File(e1) as a, h5py.File(other) as b:
        assert not np.array_equal(a["ic_A0"][:], b["ic_A0"][:])


def test_downsample_is_the_periodic_five_point_mean() -> None:
    n, L = 200, 16.0
    x = np.arange(n) * L / n
    k = 2 * np.pi * 3 / L
    u = np.stack([np.sin(k * x), np.cos(2 * k * x)])
    dx = L / n
    for nx in (100, 50, 40):
        coarse = downsample(u, nx)
        xc = np.arange(nx) * L / nx
        gain = lambda kk: (1 + 2 * np.cos(kk * dx) + 2 * np.cos(2 * kk * dx)) / 5  # noqa: E731
        np.testing.assert_allclose(coarse[0], gain(k) * np.sin(k * xc), atol=1e-12)
        np.testing.assert_allclose(coarse[1], gain(2 * k) * np.cos(2 * k * xc), atol=1e-12)
    spike = np.zeros(n)
    spike[0] = 1.0  # the periodic wrap: the first coarse point sees fine points -2 .. 2
    assert downsample(spike, 40)[0] == pytest.approx(0.2) and downsample(np.roll(spike, -2), 40)[0] == pytest.approx(0.2)
    assert downsample(np.roll(spike, -3), 40)[0] == 0.0
    with pytest.raises(ConfigError, match="nx must divide 200"):
        downsample(u, 60)
