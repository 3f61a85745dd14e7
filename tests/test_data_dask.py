"""Generation as Dask tasks on a LocalCluster of 2 workers: bit-identical to one process, also
after a worker is SIGKILLed mid-run and after the client stops mid-run; clear errors."""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import test_data_support as support

from sciml_core.data import dask_blocks
from sciml_core.data import generate as engine
from sciml_core.data.cli import main
from sciml_core.data.generate import generate
from sciml_core.data.specs import load_spec
from sciml_core.errors import ConfigError

distributed = pytest.importorskip("distributed")

DATA = ("u", "kappa", "ic_a1", "ic_b1", "completed", "sample", "t", "x")


def assert_same_data(a: Path, b: Path) -> None:
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        for name in DATA:
            assert fa[name].dtype == fb[name].dtype and fa[name][...].tobytes() == fb[name][...].tobytes(), name


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[object, object]]:
    with support.registered():
        local = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                         silence_logs=logging.ERROR, env={"OMP_NUM_THREADS": "1"})
        client = distributed.Client(local)
        try:
            yield local, client
        finally:
            client.close()
            local.close()


@pytest.fixture(scope="module")
def spec_path(tmp_path_factory) -> Path:
    return support.write_spec(tmp_path_factory.mktemp("spec"))


@pytest.fixture(scope="module")
def reference(spec_path: Path, tmp_path_factory, cluster) -> Path:
    out = tmp_path_factory.mktemp("ref") / "one.h5"
    generate(load_spec(spec_path), out, seed=3, progress=False)
    return out


def test_cli_on_a_scheduler_writes_the_one_process_file(cluster, spec_path: Path, reference: Path, tmp_path: Path,
                                                        capsys) -> None:
    local, _ = cluster
    out = tmp_path / "dask.h5"
    assert main(["data", "generate", str(spec_path), "--out", str(out), "--seed", "3", "--no-progress",
                 "--scheduler", local.scheduler_address]) == 0
    assert "12 samples generated" in capsys.readouterr().out
    assert_same_data(reference, out)


def test_a_worker_killed_mid_run_costs_only_its_block(cluster, spec_path: Path, reference: Path, tmp_path: Path,
                                                       monkeypatch) -> None:
    local, client = cluster
    before = client.run(os.getpid)  # {worker address: pid}
    write, killed = engine._write_block, []

    def write_then_kill(out, result, first):
        write(out, result, first)
        if not killed:  # both workers are busy with a block (0.4 s each, 6 blocks): kill one of them
            killed.append(next(iter(before.values())))
            os.kill(killed[0], signal.SIGKILL)

    monkeypatch.setattr(engine, "_write_block", write_then_kill)
    spec = load_spec(spec_path, {"solver": {"config": {"slow_s": 0.4}}})  # same data, slower blocks
    report = generate(spec, tmp_path / "killed.h5", seed=3, progress=False, scheduler=local.scheduler_address)
    assert killed and report.n_generated == 12
    assert_same_data(reference, tmp_path / "killed.h5")
    client.wait_for_workers(2, timeout=60)  # the nanny restarted it
    assert killed[0] not in client.run(os.getpid).values()


class Stop(Exception):
    pass


def test_a_stopped_client_resumes_the_missing_blocks(cluster, spec_path: Path, reference: Path, tmp_path: Path,
                                                      monkeypatch) -> None:
    local, _ = cluster
    write, written = engine._write_block, []

    def write_then_stop(out, result, first):
        write(out, result, first)
        written.append(result["indices"])
        if len(written) == 2:
            raise Stop

    monkeypatch.setattr(engine, "_write_block", write_then_stop)
    out = tmp_path / "cut.h5"
    with pytest.raises(Stop):
        generate(load_spec(spec_path), out, seed=3, progress=False, scheduler=local.scheduler_address)
    monkeypatch.setattr(engine, "_write_block", write)
    report = generate(load_spec(spec_path), out, seed=3, progress=False, scheduler=local.scheduler_address)
    assert report.n_generated == 12 - 4  # blocks of 2: the two written blocks are not redone
    assert_same_data(reference, out)


def test_scheduler_errors(spec_path: Path, tmp_path: Path, monkeypatch) -> None:
    spec = load_spec(spec_path)
    for text, message in (("local:0", "expected local:N with N >= 1"), ("myhost:8786", "expected a scheduler address"),
                          ("local:x", "expected local:N")):
        with pytest.raises(ConfigError, match=message):
            generate(spec, tmp_path / "x.h5", progress=False, scheduler=text)
    with pytest.raises(ConfigError, match="--workers and --scheduler"):
        generate(spec, tmp_path / "x.h5", progress=False, workers=2, scheduler="local:2")
    assert not (tmp_path / "x.h5").exists()
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if dask were not installed
    with support.registered(), pytest.raises(ConfigError, match=r"--scheduler needs Dask: pip install 'sciml\[dask\]'"):
        generate(spec, tmp_path / "x.h5", progress=False, scheduler="local:2")
    monkeypatch.delitem(sys.modules, "distributed")
    monkeypatch.setattr(dask_blocks, "CONNECT_TIMEOUT_S", 0.5)
    with support.registered(), pytest.raises(ConfigError, match="cannot reach the Dask scheduler"):
        generate(spec, tmp_path / "y.h5", progress=False, scheduler="tcp://127.0.0.1:9")


def test_parse_scheduler() -> None:
    assert dask_blocks.parse_scheduler("local:3") == ("local", 3)
    assert dask_blocks.parse_scheduler("tcp://10.0.0.1:8786") == ("address", "tcp://10.0.0.1:8786")
    assert np.all([dask_blocks.parse_scheduler(f"{p}://h:1")[0] == "address" for p in ("tls", "ucx", "inproc")])
