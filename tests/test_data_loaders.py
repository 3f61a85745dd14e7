"""Torch datasets over a dataset file, xarray access and the initial-condition registry."""

from __future__ import annotations

import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sciml_core.data import ReferenceGrid, Snapshots, TrajectoryWindows, open_dataset, write_dataset
from sciml_core.data.initial_conditions import build_ic, list_ics
from sciml_core.errors import ConfigError

N, NT, NY, NX = 3, 10, 4, 6


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray]]:
    rng = np.random.default_rng(1)
    fields = {"u": rng.normal(2.0, 3.0, size=(N, NT, NY, NX)), "v": rng.normal(size=(N, NT, NY, NX))}
    params = {"nu": np.array([0.1, 0.2, 0.3])}
    coords = {"t": np.linspace(0, 1, NT), "y": np.arange(NY) / NY, "x": np.arange(NX) / NX}
    path = tmp_path_factory.mktemp("loader") / "d.h5"
    attrs = {"pde": "p", "pde_params": {}, "solver": "s", "solver_config": {}, "seed": 0, "fingerprint": "f"}
    write_dataset(path, coords, fields, params, attrs)
    with h5py.File(path, "r+") as f:  # sample 1 unfinished: loaders must skip it
        f["completed"][1] = 0
    return path, {**fields, **params}


def test_trajectory_windows_contents(dataset: tuple[Path, dict]) -> None:
    path, truth = dataset
    ds = TrajectoryWindows(path, window=2, horizon=3, params=["nu"], t_stride=2, x_stride=2, normalise=False)
    assert len(ds) == 2 * (5 - 5 + 1)  # 2 complete samples, 5 frames after striding, span 5
    item = ds[1]
    assert item["sample"] == 2 and item["t0"] == 0
    u, v = truth["u"][2, ::2, ::2, ::2], truth["v"][2, ::2, ::2, ::2]
    assert item["input"].shape == (2 * 2 + 1, 2, 3) and item["target"].shape == (3 * 2, 2, 3)
    np.testing.assert_allclose(item["input"][0].numpy(), u[0], rtol=1e-6)
    np.testing.assert_allclose(item["input"][3].numpy(), v[1], rtol=1e-6)
    np.testing.assert_allclose(item["input"][4].numpy(), 0.3, rtol=1e-6)
    np.testing.assert_allclose(item["target"][4].numpy(), u[4], rtol=1e-6)
    assert item["input"].dtype == torch.float32


def test_normalisation_stats_computed_once_and_stored(dataset: tuple[Path, dict]) -> None:
    path, truth = dataset
    ds = TrajectoryWindows(path, window=1, fields=["u"])
    done = truth["u"][[0, 2]]
    assert ds.stats["u"] == pytest.approx([done.mean(), done.std()])
    assert Path(f"{path}.stats.json").exists()
    item = ds[0]
    np.testing.assert_allclose(ds.denormalise("u", item["input"][0].double().numpy()), truth["u"][0, 0], atol=1e-5)
    assert TrajectoryWindows(path, window=1, fields=["u"]).stats == ds.stats


def test_random_starts_and_workers(dataset: tuple[Path, dict]) -> None:
    path, _ = dataset
    ds = TrajectoryWindows(path, window=2, start="random")
    assert len(ds) == 2
    starts = {ds[0]["t0"] for _ in range(40)}
    assert starts <= set(range(NT - 3)) and len(starts) > 1
    full = TrajectoryWindows(path, window=2)
    sequential = torch.stack([full[i]["input"] for i in range(len(full))])
    loader = DataLoader(full, batch_size=4, num_workers=2)
    parallel = torch.cat([batch["input"] for batch in loader])
    assert torch.equal(sequential, parallel)


def test_snapshots_and_reference_grid(dataset: tuple[Path, dict]) -> None:
    path, truth = dataset
    snaps = Snapshots(path, params=["nu"], normalise=False)
    assert len(snaps) == 2 * NT
    item = snaps[NT + 3]
    np.testing.assert_allclose(item["fields"][1].numpy(), truth["v"][2, 3], rtol=1e-6)
    assert item["params"].tolist() == pytest.approx([0.3]) and item["t"] == pytest.approx(3 / 9)
    ref = ReferenceGrid(path, sample=2, fields=["u"])
    assert len(ref) == NT * NY * NX
    point, value = ref[NY * NX + NX + 2]  # t index 1, y index 1, x index 2
    assert point.tolist() == pytest.approx([1 / 9, 1 / NY, 2 / NX])
    assert value.item() == pytest.approx(truth["u"][2, 1, 1, 2])
    with pytest.raises(ConfigError, match="sample 1 is not in the file or not complete"):
        ReferenceGrid(path, sample=1)


def test_bad_loader_options(dataset: tuple[Path, dict]) -> None:
    path, _ = dataset
    with pytest.raises(ConfigError, match="no field 'w'"):
        TrajectoryWindows(path, fields=["w"])
    with pytest.raises(ConfigError, match="no per-sample parameter 'kappa'"):
        TrajectoryWindows(path, params=["kappa"])
    with pytest.raises(ConfigError, match="too few"):
        TrajectoryWindows(path, window=6, horizon=5)


def test_open_dataset(dataset: tuple[Path, dict]) -> None:
    path, truth = dataset
    with open_dataset(path) as ds:
        assert ds.sizes == {"sample": 3, "t": NT, "y": NY, "x": NX}
    with open_dataset(path, complete_only=True) as ds:
        assert ds["sample"].values.tolist() == [0, 2]
        np.testing.assert_array_equal(ds.u.values[1], truth["u"][2])


@pytest.mark.parametrize("kind", ["sine-sum", "fourier-series", "gaussian-random-field"])
def test_initial_conditions_are_pure_functions_of_rng(kind: str) -> None:
    assert kind in list_ics()
    ic = build_ic({"kind": kind})
    x = {"x": 2 * np.pi * np.arange(64) / 64}
    a, da = ic(np.random.default_rng([7, 3]), x, ("u",))
    b, db = ic(np.random.default_rng([7, 3]), x, ("u",))
    c, _ = ic(np.random.default_rng([7, 4]), x, ("u",))
    assert a["u"].shape == (64,) and np.array_equal(a["u"], b["u"]) and da == db
    assert not np.allclose(a["u"], c["u"]) and np.isfinite(a["u"]).all()


def test_grf_2d_and_spiral() -> None:
    grid = {"y": np.linspace(-10, 10, 32, endpoint=False), "x": np.linspace(-10, 10, 32, endpoint=False)}
    w, _ = build_ic({"kind": "gaussian-random-field"})(np.random.default_rng(0), grid, ("w",))
    assert w["w"].shape == (32, 32) and abs(w["w"].mean()) < 1e-10 and w["w"].std() > 0
    fields, draws = build_ic({"kind": "spiral", "max_arms": 2})(np.random.default_rng(0), grid, ("u", "v"))
    assert set(draws) == {"cy", "cx", "arms", "phase"} and draws["arms"] in (1.0, 2.0)
    assert -5 <= draws["cx"] <= 5 and -5 <= draws["cy"] <= 5
    np.testing.assert_allclose(fields["u"] ** 2 + fields["v"] ** 2, np.tanh(np.hypot(
        *np.meshgrid(grid["y"] - draws["cy"], grid["x"] - draws["cx"], indexing="ij"))) ** 2, atol=1e-12)
    with pytest.raises(ConfigError, match="needs a 2-field 2D PDE"):
        build_ic({"kind": "spiral"})(np.random.default_rng(0), grid, ("u",))
    with pytest.raises(ConfigError, match="unknown initial condition 'spirl'"):
        build_ic({"kind": "spirl"})
