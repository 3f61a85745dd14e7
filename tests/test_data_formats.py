"""Format readers/writers on small files built to the exact PDEBench and MP-PDE layouts."""

from __future__ import annotations

import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import xarray as xr

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sciml_core.data import open_dataset, read_header, validate_file, write_dataset
from sciml_core.data.cli import main
from sciml_core.data.formats import convert, read_mppde, read_pdebench, write_pdebench
from sciml_core.errors import DataError, OutputError

RNG = np.random.default_rng(0)


def pdebench_single(path: Path, n: int = 3, nt: int = 6, nx: int = 16, **damage: object) -> np.ndarray:
    tensor = RNG.normal(size=(n, nt, nx)).astype(np.float32)
    with h5py.File(path, "w") as f:
        f["tensor"] = damage.get("tensor", tensor)
        f["x-coordinate"] = damage.get("x", ((np.arange(nx) + 0.5) / nx).astype(np.float32))
        f["t-coordinate"] = damage.get("t", np.linspace(0, 2, nt + 1).astype(np.float32))
        f.attrs["Nu"] = 0.01
    return tensor


def pdebench_seeds(path: Path, n: int = 3, shape: tuple[int, ...] = (5, 8, 6), c: int = 2) -> np.ndarray:
    data = RNG.normal(size=(n, *shape, c)).astype(np.float32)
    names = ("t", "y", "x") if len(shape) == 3 else ("t", "x")
    with h5py.File(path, "w") as f:
        for i in range(n):
            g = f.create_group(f"{i:04d}")
            g["data"] = data[i]
            for axis, d in enumerate(names):
                g[f"grid/{d}"] = np.linspace(0, 1, shape[axis])
            g.attrs["config"] = "{}"
    return data


def mppde(path: Path, n: int = 4) -> dict[str, np.ndarray]:
    fine = RNG.normal(size=(n, 25, 20))
    params = {k: RNG.uniform(size=n) for k in ("alpha", "beta", "gamma")}
    with h5py.File(path, "w") as f:
        for split in ("train", "valid"):
            g = f.create_group(split)
            g["pde_25-20"] = fine
            g["pde_25-10"] = fine[:, :, ::2]
            for k, v in params.items():
                g[k] = v
    return {"u": fine, **params}


def test_pdebench_single_file_round_trip(tmp_path: Path) -> None:
    src = tmp_path / "1D_Burgers_Sols_Nu0.01.hdf5"
    tensor = pdebench_single(src)
    ds = read_pdebench(src)
    assert ds.u.dims == ("sample", "t", "x") and ds.sizes["t"] == 6
    np.testing.assert_array_equal(ds.u.values, tensor)
    ours = convert(src, tmp_path / "ours.h5", source="pdebench")
    header = validate_file(ours)
    assert header.attrs["pde"] == "pdebench-burgers" and header.json_attr("pde_params") == {"nu": pytest.approx(0.01)}
    with open_dataset(ours) as back:
        np.testing.assert_array_equal(back.u.values, tensor)
        np.testing.assert_allclose(back.t.values, np.linspace(0, 2, 7)[:6], atol=1e-6)
    again = write_pdebench(ours, tmp_path / "again.hdf5")
    with h5py.File(again) as f, h5py.File(src) as g:
        for name in ("tensor", "x-coordinate", "t-coordinate"):
            np.testing.assert_allclose(f[name][...], g[name][...], atol=1e-6, err_msg=name)
        assert f.attrs["Nu"] == pytest.approx(0.01)


@pytest.mark.parametrize("shape", [(5, 8, 6), (5, 7)])
def test_pdebench_seed_groups_round_trip(tmp_path: Path, shape: tuple[int, ...]) -> None:
    src = tmp_path / "2D_diff-react.h5"
    data = pdebench_seeds(src, shape=shape)
    ds = read_pdebench(src)
    assert ds.u.dims == ("sample", "t", *(("y", "x") if len(shape) == 3 else ("x",)))
    np.testing.assert_array_equal(ds.u.values, data[..., 0])
    np.testing.assert_array_equal(ds.v.values, data[..., 1])
    ours = convert(src, tmp_path / "ours.h5", source="pdebench")
    back = convert(ours, tmp_path / "back.h5", source="sciml", target="pdebench")
    with h5py.File(back) as f, h5py.File(src) as g:
        assert sorted(f) == sorted(g)
        for key in g:
            np.testing.assert_array_equal(f[key]["data"][...], g[key]["data"][...])
            np.testing.assert_array_equal(f[key]["grid/t"][...], g[key]["grid/t"][...])


def test_mppde_layout(tmp_path: Path) -> None:
    src = tmp_path / "CE_train_E3.h5"
    truth = mppde(src)
    ds = read_mppde(src)
    assert ds.u.shape == (4, 25, 20)  # the finest resolution is the ground truth
    np.testing.assert_array_equal(ds.u.values, truth["u"])
    for k in ("alpha", "beta", "gamma"):
        np.testing.assert_array_equal(ds[k].values, truth[k])
    np.testing.assert_allclose(ds.x.values, np.arange(20) * 16 / 20)
    assert main(["data", "convert", str(src), "--from", "mppde", "--split", "valid", "--out",
                 str(tmp_path / "ours.h5")]) == 0
    header = validate_file(tmp_path / "ours.h5")
    assert header.params == ("alpha", "beta", "gamma") and header.attrs["split"] == "valid"
    with xr.open_dataset(tmp_path / "ours.h5", engine="h5netcdf") as back:
        np.testing.assert_array_equal(back.u.values, truth["u"])
        np.testing.assert_array_equal(back.gamma.values, truth["gamma"])
    with pytest.raises(DataError, match="no split 'test'"):
        read_mppde(src, split="test")


def test_write_dataset_round_trip_through_xarray(tmp_path: Path) -> None:
    fields = {"u": RNG.normal(size=(2, 3, 4, 5)), "v": RNG.normal(size=(2, 3, 4, 5))}
    coords = {"t": np.arange(3.0), "y": np.arange(4.0), "x": np.arange(5.0)}
    attrs = {"pde": "p", "pde_params": {"a": 1}, "solver": "s", "solver_config": {}, "seed": 0}
    write_dataset(tmp_path / "w.h5", coords, fields, {"a": np.array([1.0, 2.0])}, attrs)
    with xr.open_dataset(tmp_path / "w.h5", engine="h5netcdf") as ds:
        assert ds.u.dims == ("sample", "t", "y", "x")
        np.testing.assert_array_equal(ds.v.values, fields["v"])
        np.testing.assert_array_equal(ds.a.values, [1.0, 2.0])
        assert int(ds.completed.sum()) == 2


@pytest.mark.parametrize(
    "damage, message",
    [({"tensor": np.zeros((2, 3))}, "tensor has rank 2, expected 3"),
     ({"x": np.zeros(5)}, "x-coordinate has 5 entries, the data has 16"),
     ({"t": np.zeros(3)}, "t-coordinate has 3 entries, expected 7"),
     ({"tensor": np.full((3, 6, 16), np.nan)}, "'u' has NaN/inf in sample 0")],
)
def test_pdebench_bad_input(tmp_path: Path, damage: dict, message: str) -> None:
    src = tmp_path / "bad.hdf5"
    pdebench_single(src, **damage)
    with pytest.raises(DataError, match=message) as info:
        convert(src, tmp_path / "out.h5", source="pdebench")
    assert str(src) in str(info.value)
    assert not (tmp_path / "out.h5").exists()


def test_missing_dataset_truncated_and_foreign_files(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src = tmp_path / "nox.hdf5"
    pdebench_single(src)
    with h5py.File(src, "r+") as f:
        del f["x-coordinate"]
    with pytest.raises(DataError, match="missing dataset /x-coordinate"):
        read_pdebench(src)
    good = tmp_path / "good.hdf5"
    pdebench_single(good)
    ours = convert(good, tmp_path / "ours.h5", source="pdebench")
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(ours.read_bytes()[: ours.stat().st_size // 2])
    for cmd in ("info", "validate"):
        assert main(["data", cmd, str(truncated)]) == 2
        err = capsys.readouterr().err
        assert str(truncated) in err and "truncated or corrupt" in err and err.count("\n") == 1
    with pytest.raises(DataError, match=r"a PDEBench 1D file .*, not a sciml dataset; convert it first: "
                                         r"sciml data convert .*good.hdf5 --from pdebench --out"):
        read_header(good)  # a PDEBench file is not ours, and the message says what to do
    with pytest.raises(DataError, match="no such file"):
        read_header(tmp_path / "absent.h5")
    with pytest.raises(DataError, match="neither a 'tensor' dataset nor seed groups"):
        read_pdebench(ours)
    with pytest.raises(OutputError, match="exists; pass --force"):
        convert(good, ours, source="pdebench")
    convert(good, ours, source="pdebench", force=True)


def test_validate_catches_nan_and_bad_shapes(tmp_path: Path) -> None:
    good = tmp_path / "good.hdf5"
    pdebench_single(good)
    ours = convert(good, tmp_path / "ours.h5", source="pdebench")
    with h5py.File(ours, "r+") as f:
        f["u"][1, 2, 3] = np.inf
    with pytest.raises(DataError, match="'u' has NaN/inf in sample 1"):
        validate_file(ours)
    ours = convert(good, tmp_path / "ours2.h5", source="pdebench")
    with h5py.File(ours, "r+") as f:
        del f["completed"]
    with pytest.raises(DataError, match="missing dataset 'completed'"):
        validate_file(ours)


def _hand_built(path: Path, u_shape: tuple[int, ...], x: np.ndarray) -> None:
    with h5py.File(path, "w") as f:
        for key in ("sciml_schema", "pde", "pde_params", "solver", "solver_config", "seed", "sciml_version"):
            f.attrs[key] = "sciml-dataset/1" if key == "sciml_schema" else 0 if key == "seed" else "{}"
        f["sample"], f["t"], f["x"] = np.arange(3), np.arange(4.0), x
        f["u"] = np.zeros(u_shape)
        f["u"].attrs["role"] = "field"
        f["completed"] = np.ones(3, dtype="i1")


@pytest.mark.parametrize("u_shape, x, message", [
    ((3, 4, 6), np.arange(5.0), r"field 'u' has shape \(3, 4, 6\), coordinates say \(3, 4, 5\)"),
    ((3, 4, 5), np.zeros((5, 1)), "coordinate 'x' has rank 2, expected 1"),
])
def test_schema_shape_errors(tmp_path: Path, u_shape: tuple[int, ...], x: np.ndarray, message: str) -> None:
    path = tmp_path / "hand.h5"
    _hand_built(path, u_shape, x)
    with pytest.raises(DataError, match=message) as info:
        read_header(path)
    assert str(path) in str(info.value)


def test_hand_built_file_in_schema_is_accepted(tmp_path: Path) -> None:
    _hand_built(tmp_path / "ok.h5", (3, 4, 5), np.arange(5.0))
    assert validate_file(tmp_path / "ok.h5").fields == ("u",)
