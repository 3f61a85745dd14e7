"""Generation engine: determinism across workers/shards/resume, SIGKILL safety, merge, CLI errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import test_data_support as support

from sciml_core.data.cli import main
from sciml_core.data.generate import Problem, generate, parse_shard, plan_blocks, resolve
from sciml_core.data.merge import merge
from sciml_core.data.schema import read_header, validate_file
from sciml_core.data.specs import list_datasets, load_spec
from sciml_core.errors import ConfigError, DataError, NotImplementedForError, OutputError

REPO = Path(__file__).resolve().parents[1]
VARIABLES = ("u", "kappa", "ic_a1", "ic_b1", "completed", "sample", "t", "x")


def contents(path: Path) -> dict[str, np.ndarray]:
    with h5py.File(path, "r") as f:
        return {name: f[name][...] for name in VARIABLES}


def assert_same(a: Path, b: Path) -> None:
    ca, cb = contents(a), contents(b)
    for name in VARIABLES:
        assert ca[name].dtype == cb[name].dtype, name
        assert ca[name].tobytes() == cb[name].tobytes(), f"{name} differs between {a.name} and {b.name}"


@pytest.fixture(scope="module", autouse=True)
def _test_solver() -> Iterator[None]:
    with support.registered():
        yield


@pytest.fixture(scope="module")
def spec_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return support.write_spec(tmp_path_factory.mktemp("spec"))


@pytest.fixture(scope="module")
def reference(spec_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ref") / "heat.h5"
    report = generate(load_spec(spec_path), out, seed=3, progress=False)
    assert report.n_generated == 12
    return out


def test_samples_are_exact_and_depend_on_seed_and_index_only(spec_path: Path, reference: Path) -> None:
    spec = load_spec(spec_path)
    problem = Problem(spec, *resolve(spec), seed=3)
    data = contents(reference)
    assert data["completed"].all() and list(data["sample"]) == list(range(12))
    for i in (0, 5, 11):
        params, initial, draws = problem.draw(i)
        rng = np.random.default_rng([3, i])
        assert params["kappa"] == pytest.approx(rng.uniform(0.01, 0.1))
        assert data["kappa"][i] == params["kappa"] and data["ic_a1"][i] == draws["a1"]
        np.testing.assert_allclose(data["u"][i, 0], initial["u"], atol=1e-12)
        k = np.fft.rfftfreq(32, 1 / 32)
        expect = np.fft.irfft(np.fft.rfft(initial["u"]) * np.exp(-params["kappa"] * k**2 * 1.0), n=32)
        np.testing.assert_allclose(data["u"][i, -1], expect, atol=1e-12)
    assert not np.array_equal(data["u"][0], data["u"][1])
    validate_file(reference)


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_two_workers_equal_one(spec_path: Path, reference: Path, tmp_path: Path, start_method: str) -> None:
    out = tmp_path / "w2.h5"
    report = generate(load_spec(spec_path), out, seed=3, workers=2, progress=False, start_method=start_method)
    assert report.n_generated == 12
    assert_same(reference, out)


def test_shards_and_merge_equal_single_run(spec_path: Path, reference: Path, tmp_path: Path) -> None:
    spec = load_spec(spec_path)
    shards = [tmp_path / f"s{k}.h5" for k in range(3)]
    for k, path in enumerate(shards):
        generate(spec, path, seed=3, shard=(k, 3), progress=False)
    assert read_header(shards[1]).samples.tolist() == [4, 5, 6, 7]
    with pytest.raises(DataError, match="cover 8 of 12"):
        merge(shards[:2], tmp_path / "partial.h5")
    merged = merge(list(reversed(shards)), tmp_path / "merged.h5")
    assert_same(reference, merged)
    virtual = merge(shards, tmp_path / "virtual.h5", virtual=True)
    assert_same(reference, virtual)
    import xarray as xr

    with xr.open_dataset(virtual, engine="h5netcdf") as ds:
        assert ds.u.dims == ("sample", "t", "x") and float(ds.u[7, 3, 2]) == contents(reference)["u"][7, 3, 2]
    # the merged file is what an unsharded run writes: re-running that command has nothing to do
    again = generate(spec, merged, seed=3, progress=False)
    assert again.n_generated == 0
    with pytest.raises(OutputError, match="exists"):
        merge(shards, merged)
    stranger = tmp_path / "stranger.h5"
    generate(spec, stranger, seed=4, shard=(2, 3), progress=False)
    with pytest.raises(DataError, match="'seed' differs"):
        merge([shards[0], shards[1], stranger], tmp_path / "mixed.h5")


def test_resume_completes_only_missing_samples(spec_path: Path, reference: Path, tmp_path: Path) -> None:
    out = tmp_path / "resume.h5"
    out.write_bytes(reference.read_bytes())
    with h5py.File(out, "r+") as f:  # as if killed after block 0..1 and block 4..5 were written
        f["completed"][2:4] = 0
        f["completed"][6:] = 0
        f["u"][6:] = np.nan
    report = generate(load_spec(spec_path), out, seed=3, progress=False)
    assert report.n_generated == 8
    assert_same(reference, out)


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("workers", [1, 2])
def test_sigkill_then_rerun_is_bit_identical(spec_path: Path, reference: Path, tmp_path: Path, workers: int) -> None:
    out = tmp_path / "killed.h5"
    slow = 0.15 * workers
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent), "OMP_NUM_THREADS": "1"}
    code = ("import test_data_support, sys; from sciml_core.data.cli import main; "
            "test_data_support.register(); sys.exit(main(sys.argv[1:]))")
    argv = [sys.executable, "-c", code, "data", "generate", str(spec_path), "--out", str(out), "--seed", "3",
            "--no-progress", "--workers", str(workers), "--set", f"solver.config.slow_s={slow}"]
    proc = subprocess.Popen(argv, env=env, cwd=tmp_path, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if out.exists():
                try:
                    done = int(read_header(out).completed.sum())
                except DataError:
                    done = 0
                if done >= 2:
                    break
            time.sleep(0.02)
        children = _children(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)  # the parent only: its workers must not outlive it
        proc.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(c) for c in children):
            time.sleep(0.05)
        assert not any(_alive(c) for c in children), "worker processes outlived the killed generator"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the generator finished before it could be killed"
    assert len(children) == (2 if workers == 2 else 0)
    header = read_header(out)  # still a readable file, some samples missing
    assert 2 <= header.n_complete < 12
    # the same command (slow_s is part of the spec, so pass it again) completes the rest
    spec = load_spec(spec_path, {"solver": {"config": {"slow_s": slow}}})
    report = generate(spec, out, seed=3, progress=False)
    assert report.n_generated == 12 - header.n_complete
    ca, cb = contents(reference), contents(out)
    for name in VARIABLES:
        assert ca[name].tobytes() == cb[name].tobytes(), name


def test_overwrite_needs_force(spec_path: Path, reference: Path, tmp_path: Path) -> None:
    out = tmp_path / "other.h5"
    out.write_bytes(reference.read_bytes())
    with pytest.raises(OutputError, match="different dataset"):
        generate(load_spec(spec_path), out, seed=4, progress=False)
    assert_same(reference, out)  # untouched
    report = generate(load_spec(spec_path), out, seed=4, progress=False, force=True)
    assert report.n_generated == 12 and not np.array_equal(contents(out)["u"], contents(reference)["u"])
    junk = tmp_path / "junk.h5"
    junk.write_text("not hdf5")
    with pytest.raises(OutputError, match="not a resumable dataset"):
        generate(load_spec(spec_path), junk, seed=3, progress=False)
    assert junk.read_text() == "not hdf5"


def test_compression_keeps_data(spec_path: Path, reference: Path, tmp_path: Path) -> None:
    out = tmp_path / "gz.h5"
    generate(load_spec(spec_path), out, seed=3, progress=False, compression="gzip")
    with h5py.File(out) as f:
        assert f["u"].compression == "gzip"
    assert_same(reference, out)


def test_blocks_and_shards() -> None:
    assert plan_blocks(5, 2) == [[0, 1], [2, 3], [4]]
    assert plan_blocks(12, 2, (2, 3)) == [[8, 9], [10, 11]]
    assert parse_shard("1/4") == (1, 4)
    for bad in ("4/4", "x", "1/0", "-1/2"):
        with pytest.raises(ConfigError, match="--shard"):
            parse_shard(bad)
    with pytest.raises(ConfigError, match="empty"):
        plan_blocks(2, 2, (0, 2))


def test_every_shipped_spec_loads_and_placeholders_fail_clearly(tmp_path: Path) -> None:
    names = list_datasets()
    for required in ("rd-spiral-stable", "rd-spiral-turbulent", "rd-spiral-decay", "burgers-1d", "allen-cahn-1d",
                     "ks-1d", "ns-kolmogorov-2d", "mp-e1", "mp-e2", "mp-e3", "diffusion-sorption"):
        assert names.get(required)
        resolve(load_spec(required))  # every shipped spec has its generator now
    assert not (REPO / "datasets" / "__init__.py").exists()
    text = support.SPEC.replace('pde = "test-heat"', 'pde = "not-built-yet"')
    placeholder = load_spec(support.write_spec(tmp_path, text, name="placeholder"))
    with pytest.raises(NotImplementedForError, match="dataset 'placeholder' cannot be generated"):
        resolve(placeholder)


@pytest.mark.parametrize(
    "old, new, message",
    [("n_samples = 12", "n_samplez = 12", "unknown config key 'n_samplez'"),
     ("n_samples = 12", "n_samples = 0", "n_samples must be >= 1"),
     ("low = 0.01\nhigh = 0.1", "low = 1.0\nhigh = 0.5", "parameters.kappa.*low < high"),
     ("n_t = 9", "n_t = 0", "times.n_t must be >= 1"),
     ("dtype = \"float64\"", "dtype = \"float16\"", "invalid value for 'dtype'"),
     ("n_t = 9", "n_t = ", "not valid TOML"),
     ("k_max = 6", "k_max = 6\nbogus = 1", None)],
)
def test_bad_specs(tmp_path: Path, old: str, new: str, message: str | None) -> None:
    assert old in support.SPEC
    path = support.write_spec(tmp_path, support.SPEC.replace(old, new), name="bad")
    if message is None:  # an unknown initial-condition option is caught when the problem is built
        spec = load_spec(path)
        with pytest.raises(ConfigError, match="initial_condition.bogus"):
            Problem(spec, *resolve(spec), seed=0)
        return
    with pytest.raises(ConfigError, match=message) as info:
        load_spec(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_cli_generate_info_validate(spec_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "cli.h5"
    assert main(["data", "generate", str(spec_path), "--out", str(out), "--n-samples", "4", "--no-progress",
                 "--set", "times.n_t=5"]) == 0
    assert main(["data", "info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "dims        sample=4, t=5, x=32" in text and "complete    4 / 4" in text and "test-heat" in text
    assert main(["data", "validate", str(out)]) == 0
    with h5py.File(out, "r+") as f:
        f["completed"][1] = 0
    assert main(["data", "validate", str(out)]) == 2
    assert "incomplete, 1 of 4 samples missing" in capsys.readouterr().err
    assert main(["data", "generate", "no-such-dataset"]) == 2
    assert "unknown dataset 'no-such-dataset'" in capsys.readouterr().err
    assert main(["data", "generate", str(spec_path), "--out", str(out), "--set", "n_samples=-1"]) == 2
    assert main(["data", "merge", str(out), "--out", str(out)]) == 2


def test_solver_nan_and_bad_out_paths(spec_path: Path, tmp_path: Path) -> None:
    text = support.SPEC.replace('[parameters.kappa]\ndist = "uniform"\nlow = 0.01\nhigh = 0.1\n', "")
    spec = load_spec(support.write_spec(tmp_path, text.replace("kappa = 0.05", "kappa = -50.0"), "unstable"))
    assert not spec.parameters  # anti-diffusion with kappa < 0 overflows
    with pytest.raises(DataError, match="returned NaN/inf in 'u' for sample 0"):
        generate(spec, tmp_path / "nan.h5", progress=False)
    with pytest.raises(OutputError, match="is a directory"):
        generate(load_spec(spec_path), tmp_path, progress=False)


def test_renamed_or_redescribed_spec_resumes(spec_path: Path, reference: Path, tmp_path: Path) -> None:
    out = tmp_path / "copy.h5"
    out.write_bytes(reference.read_bytes())
    text = spec_path.read_text().replace("description = \"test:", "description = \"edited:")
    renamed = support.write_spec(tmp_path, text, name="renamed")
    assert generate(load_spec(renamed), out, seed=3, progress=False).n_generated == 0
