"""The `sciml` command: user mistakes exit 2 with one line; the run directory holds its promises."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

from sciml_core.cli import main


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["solve", "burger", "--solver", "pinn"], "sciml: error: unknown PDE 'burger'; did you mean 'burgers'"),
        (["solve", "burgers", "--solver", "pinnn"], "sciml: error: unknown solver 'pinnn'; did you mean 'pinn'"),
        (["solve", "burgers", "--solver", "pinn", "--preset", "quik"],
         "sciml: error: unknown preset for burgers / pinn 'quik'; did you mean 'quick'"),
        (["solve", "burgers", "--solver", "pinn", "--set", "train.lr"],
         "sciml: error: malformed --set 'train.lr': expected key=value, e.g. train.lr=1e-3"),
        (["solve", "burgers", "--solver", "pinn", "--set", "train.lrr=1"], "sciml: error: unknown config key 'train.lrr'"),
        (["solve", "burgers", "--solver", "pinn", "--set", "train.adam_steps=abc"],
         "sciml: error: invalid value for 'train.adam_steps': 'abc' (expected an integer)"),
        (["solve", "burgers", "--solver", "pinn", "--set", "pde.nu=-1"], "sciml: error: pde.nu must be positive, got -1.0"),
        (["solve", "burgers", "--solver", "pinn", "--device", "tpu"],
         "sciml: error: unknown --device 'tpu' (choose auto, cpu or cuda)"),
        (["solve", "burgers", "--solver", "pinn", "--config", "/nonexistent/c.toml"],
         "sciml: error: config file '/nonexistent/c.toml' does not exist"),
        (["frobnicate"], "sciml: error: sciml: argument command: invalid choice: 'frobnicate'"),
    ],
)
def test_user_mistakes_print_one_line_and_exit_2(capsys, argv, message) -> None:
    code, out, err = run_cli(capsys, *argv)
    assert code == 2
    assert err.startswith(message), err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_unwritable_out_is_reported(capsys, tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = run_cli(capsys, "solve", "burgers", "--solver", "pinn", "--out", str(blocker / "run"))
    assert code == 2
    assert err.startswith(f"sciml: error: cannot write to --out '{blocker / 'run'}'")


def test_resume_without_checkpoint_is_reported(capsys, tmp_path) -> None:
    code, _, err = run_cli(capsys, "solve", "burgers", "--solver", "pinn", "--out", str(tmp_path / "r"), "--resume")
    assert code == 2
    assert err == f"sciml: error: --resume: no checkpoint to resume from at '{tmp_path / 'r' / 'checkpoint.pt'}'\n"


def test_existing_run_is_not_overwritten_without_force(capsys, tmp_path, tiny_pinn_overrides) -> None:
    sets = [a for o in tiny_pinn_overrides for a in ("--set", o)]
    assert run_cli(capsys, "solve", "burgers", "--solver", "pinn", "--out", str(tmp_path), *sets)[0] == 0
    code, _, err = run_cli(capsys, "solve", "burgers", "--solver", "pinn", "--out", str(tmp_path), *sets)
    assert code == 2 and "already holds a run" in err
    assert run_cli(capsys, "solve", "burgers", "--solver", "pinn", "--out", str(tmp_path), "--force", *sets)[0] == 0


def test_console_script_has_no_traceback_for_mistakes() -> None:
    proc = subprocess.run([sys.executable, "-m", "sciml_core.cli", "solve", "nope", "--solver", "pinn"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.startswith("sciml: error: unknown PDE 'nope'") and "Traceback" not in proc.stderr


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    argv = ["solve", "burgers", "--solver", "pinn", "--preset", "quick", "--out", str(out), "--device", "cpu",
            "--set", "train.adam_steps=20", "--set", "train.lbfgs_steps=5", "--seed", "3"]
    assert main(argv) == 0
    return out


def test_run_directory_files(run_dir) -> None:
    for name in ("config.toml", "metrics.json", "history.jsonl", "solution.nc", "checkpoint.pt",
                 "plots/solution.png", "plots/error.png", "plots/loss.png", "plots/u_snapshots.png",
                 "plots/u.gif"):
        assert (run_dir / name).is_file(), name
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for key in ("pde", "solver", "kind", "rel_l2", "wall_s", "steps", "device", "dtype", "n_params"):
        assert key in metrics
    assert metrics["steps"] == 25 and metrics["dtype"] == "float32" and metrics["kind"] == "pinn"


def test_solution_nc_opens_with_xarray(run_dir) -> None:
    with xr.open_dataset(run_dir / "solution.nc") as ds:
        assert ds["u"].dims == ("t", "x") and ds["u_ref"].dims == ("t", "x")
        assert ds.sizes == {"t": 100, "x": 256}
        np.testing.assert_allclose(ds["x"].values, np.linspace(-1, 1, 256))
        np.testing.assert_allclose(ds["t"].values, np.arange(100) / 100)
        assert ds.attrs["pde"] == "burgers" and ds.attrs["solver"] == "pinn" and ds.attrs["seed"] == 3
        assert json.loads(ds.attrs["pde_params"])["nu"] == pytest.approx(0.01 / np.pi)
        rel = np.linalg.norm(ds["u"] - ds["u_ref"]) / np.linalg.norm(ds["u_ref"])
    assert rel == pytest.approx(json.loads((run_dir / "metrics.json").read_text())["rel_l2"], rel=1e-6)


def test_config_toml_reruns_the_same_run(run_dir, tmp_path, capsys) -> None:
    assert main(["solve", "--config", str(run_dir / "config.toml"), "--out", str(tmp_path / "again")]) == 0
    first = json.loads((run_dir / "metrics.json").read_text())
    again = json.loads((tmp_path / "again" / "metrics.json").read_text())
    assert again["rel_l2"] == first["rel_l2"] and again["seed"] == 3


def test_eval_recomputes_metrics_against_a_reference_file(run_dir, tmp_path, capsys) -> None:
    with xr.open_dataset(run_dir / "solution.nc") as ds:
        reference = ds[["u_ref"]].rename({"u_ref": "u"}).load()
        shifted = (ds[["u_ref"]].rename({"u_ref": "u"}) + 1.0).load()
    reference.to_netcdf(tmp_path / "ref.nc", engine="h5netcdf")
    shifted.to_netcdf(tmp_path / "shifted.nc", engine="h5netcdf")
    metrics_text = (run_dir / "metrics.json").read_text()
    stored = json.loads(metrics_text)["rel_l2"]
    assert main(["eval", str(run_dir), "--reference", str(tmp_path / "ref.nc")]) == 0
    assert json.loads((run_dir / "metrics.eval.json").read_text())["rel_l2"] == pytest.approx(stored, rel=1e-12)
    assert main(["eval", str(run_dir), "--reference", str(tmp_path / "shifted.nc")]) == 0
    assert json.loads((run_dir / "metrics.eval.json").read_text())["rel_l2"] != pytest.approx(stored, rel=1e-3)
    assert (run_dir / "metrics.json").read_text() == metrics_text  # eval never rewrites the run's metrics
    code, _, err = run_cli(capsys, "eval", str(run_dir), "--reference", str(tmp_path / "missing.nc"))
    assert code == 2 and err == f"sciml: error: reference file '{tmp_path / 'missing.nc'}' does not exist\n"


def test_list_shows_solvers_and_pdes(capsys) -> None:
    code, out, _ = run_cli(capsys, "list")
    assert code == 0 and "pinn" in out and "burgers" in out and "allen-cahn" in out


def test_divergence_exits_3_with_the_checkpoint_named(capsys, tmp_path, tiny_pinn_overrides) -> None:
    sets = [a for o in tiny_pinn_overrides for a in ("--set", o)]
    code, _, err = run_cli(capsys, "solve", "burgers", "--solver", "pinn", "--out", str(tmp_path), *sets,
                           "--set", "train.lr=1e30", "--set", "train.adam_steps=200")
    assert code == 3
    assert err.startswith("sciml: diverged: non-finite loss") and err.count("\n") == 1
