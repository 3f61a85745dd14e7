"""Data-parallel training on two gloo ranks (CPU): the same losses as one rank for every trained
solver, rank 0 alone writes, a killed ``sciml solve --nproc 2`` resumes; the helpers' maths."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import distributed_cases as cases
from test_data_generate import _alive, _children  # /proc helpers of the generator's kill test

from sciml_core import registry, solve
from sciml_core.errors import ConfigError
from sciml_core.train import TrainConfig, Trainer, distributed
from sciml_core.solver import RunContext

REPO = Path(__file__).resolve().parents[1]


def history(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]


def assert_same_history(one: list[dict], two: list[dict], rtol: float = 1e-8) -> None:
    """Every logged number of every step agrees (float64 runs: only summation order differs)."""
    assert [r["step"] for r in one] == [r["step"] for r in two]
    for a, b in zip(one, two):
        assert set(a) == set(b), a["step"]
        for key, value in a.items():
            if key == "wall_s" or isinstance(value, str) or value is None:
                assert key == "wall_s" or b[key] == value, f"step {a['step']}: {key}"
                continue
            np.testing.assert_allclose(b[key], value, rtol=rtol, atol=1e-12, err_msg=f"step {a['step']}: {key}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    import test_data_support as support

    with support.registered():
        return cases.make_data(tmp_path_factory.mktemp("data"))


#: a launcher in the role of torchrun's agent: starts the ranks and waits for them
LAUNCHER = """
import os, subprocess, sys
port, script, *args = sys.argv[1:]
env = {"LOCAL_WORLD_SIZE": "2", "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port}
ranks = [subprocess.Popen([sys.executable, script, *args], stdout=open(f"rank{r}.log", "w"), stderr=subprocess.STDOUT,
                          env={**os.environ, **env, "RANK": str(r), "LOCAL_RANK": str(r)}) for r in range(2)]
sys.exit(max(p.wait() for p in ranks))
"""


@pytest.fixture(scope="module")
def ranks(data_dir: Path, tmp_path_factory) -> Iterator[tuple[Path, subprocess.Popen]]:
    """Every case on two gloo ranks (processes started as torchrun starts them), started in the
    background: the runs' root and the ranks' launcher (the ranks then wait to train the cut run)."""
    root = tmp_path_factory.mktemp("ranks")
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(free_port()), str(Path(cases.__file__)),
                             str(root / "runs"), str(data_dir)], cwd=root, env=env, start_new_session=True)
    try:
        yield root, proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture(scope="module")
def two_ranks(ranks: tuple[Path, subprocess.Popen]) -> tuple[Path, subprocess.Popen]:
    """:func:`ranks` once both ranks have reported."""
    root, proc = ranks
    deadline = time.time() + 300
    while not all((root / f"rank{r}.json").exists() for r in range(2)):
        logs = "\n".join((root / f"rank{r}.log").read_text()[-2000:] for r in range(2)
                         if (root / f"rank{r}.log").exists())
        assert proc.poll() is None and time.time() < deadline, f"the ranks failed:\n{logs}"
        time.sleep(0.1)
    return ranks


@pytest.fixture(scope="module")
def one_rank(data_dir: Path, tmp_path_factory) -> tuple[Path, dict]:
    """Every case on one rank, in this process: the runs' root and each case's (steps, metrics)."""
    import test_data_support as support
    from test_operator_base import ToyOperator

    from sciml_core.nn import jet_kernels
    from sciml_core.train.trainer import Trainer

    root, results = tmp_path_factory.mktemp("one"), {}
    with support.registered(), pytest.MonkeyPatch.context() as patch:
        patch.setattr(jet_kernels, "available", lambda *tensors: False)  # as on the ranks
        for name in ("_adam_step", "_lbfgs_step"):
            patch.setattr(Trainer, name, getattr(Trainer, name))  # record_steps' patch is undone after
        registry.register_solver()(ToyOperator)
        try:
            steps = cases.record_steps()
            for solver in cases.CASES:
                steps.clear()
                metrics = cases.run_case(solver, root / solver, data_dir).metrics
                results[solver] = (cases.flat(steps), metrics)
        finally:
            registry._SOLVERS.pop(ToyOperator.name, None)
    return root, results


@pytest.mark.parametrize("solver", list(cases.CASES))
def test_two_ranks_train_like_one(solver: str, ranks, one_rank: tuple[Path, dict], two_ranks) -> None:
    (root, results), two_ranks = one_rank, two_ranks[0]
    steps, m1 = results[solver]
    report = json.loads((two_ranks / "rank0.json").read_text())
    m2 = report["metrics"][solver]
    rtol = cases.CASES[solver].get("rtol", 1e-8)
    assert len(steps) >= 10
    assert_same_history(steps, report["steps"][solver], rtol)
    assert m1["ranks"] == 1 and m2["ranks"] == 2
    assert (m1["rel_l2"] is None) == (m2["rel_l2"] is None)
    if m1["rel_l2"] is not None:
        np.testing.assert_allclose(m2["rel_l2"], m1["rel_l2"], rtol=rtol)
    if cases.CASES[solver].get("write"):
        assert_same_history(history(root / solver), history(two_ranks / "runs" / solver), rtol)
        a = torch.load(root / solver / "checkpoint.pt", weights_only=True)["model"]
        b = torch.load(two_ranks / "runs" / solver / "checkpoint.pt", weights_only=True)["model"]
        assert a.keys() == b.keys()  # no DDP "module." prefix: checkpoints are interchangeable
        for key in a:
            torch.testing.assert_close(b[key], a[key], rtol=rtol, atol=1e-12)


def test_only_rank_zero_writes(two_ranks) -> None:
    two_ranks = two_ranks[0]
    rank0 = json.loads((two_ranks / "rank0.json").read_text())["writes"]
    rank1 = json.loads((two_ranks / "rank1.json").read_text())["writes"]
    assert rank1 == []
    written = {Path(path).relative_to(two_ranks / "runs").parts[0] for _, path in rank0}
    writers = {solver for solver, case in cases.CASES.items() if case.get("write")}
    assert written == writers  # the hook does see the run directories being written
    assert {"os.mkdir", "tempfile.mkstemp", "os.rename"} <= {event for event, _ in rank0}
    for solver in writers:
        names = {p.name for p in (two_ranks / "runs" / solver).iterdir()}
        assert {"config.toml", "metrics.json", "history.jsonl", "solution.nc", "checkpoint.pt", "plots"} <= names
        assert not [n for n in names if n.endswith(".tmp")]


def test_every_trained_solver_has_a_distributed_case() -> None:
    """A trained solver landing later must pass the same two-rank test (README, developers' notes)."""
    trained = {name for name, cls in registry.list_solvers().items() if cls.kind in ("pinn", "operator")}
    missing = trained - set(cases.CASES)
    assert not missing, (f"trained solvers without a case in tests/distributed_cases.py: {sorted(missing)}; every "
                         "trained solver must train the same on 2 ranks as on 1")


@pytest.fixture(scope="module")
def cut_one_rank(tmp_path_factory) -> list[dict]:
    """The history of the cut run's settings, uninterrupted, on one rank."""
    out = tmp_path_factory.mktemp("cut") / "one"
    result = solve("burgers", "pinn", overrides=cases.CUT, out=out, device="cpu", dtype="float64", progress=False)
    assert result.metrics["ranks"] == 1
    return history(out)


def test_an_interrupted_two_rank_run_resumes_on_two_ranks(two_ranks, cut_one_rank: list[dict]) -> None:
    """Stopped at step 30 (checkpoint at 20), resumed by the same two ranks: rank 0 reads the
    checkpoint and sends it, the history is cut back to step 20 and continued."""
    root = two_ranks[0]
    assert_same_history(cut_one_rank, history(root / "resumed"))
    assert json.loads((root / "resumed" / "metrics.json").read_text())["ranks"] == 2


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_killed_two_rank_run_resumes(two_ranks, cut_one_rank: list[dict]) -> None:
    """SIGKILL the ranks' launcher after the first checkpoint: the ranks die with it (as under a
    killed torchrun); the checkpoint resumes, here on one rank, to the uninterrupted losses."""
    import ctypes

    root, proc = two_ranks
    ranks = _children(proc.pid)
    assert len(ranks) == 2
    libc = ctypes.CDLL("libc.so.6")
    libc.prctl(36, 1)  # PR_SET_CHILD_SUBREAPER: the orphaned ranks become ours to reap
    (root / "go").touch()
    deadline = time.time() + 120
    while not (root / "cut" / "checkpoint.pt").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the ranks finished before the kill"
    deadline = time.time() + 20
    while any(_alive(r) for r in ranks) and time.time() < deadline:
        time.sleep(0.05)
    assert not any(_alive(r) for r in ranks), "the ranks outlived their launcher"
    for r in ranks:  # reaped: run.json names rank 0's pid, and a zombie's pid counts as running
        try:
            os.waitpid(r, 0)
        except ChildProcessError:  # reaped before the subreaper flag took effect, by init
            pass
    libc.prctl(36, 0)
    while any(Path(f"/proc/{r}").exists() for r in ranks) and time.time() < deadline:
        time.sleep(0.05)
    checkpoint = torch.load(root / "cut" / "checkpoint.pt", weights_only=True)
    assert 0 < checkpoint["step"] < 100, "the kill must land mid-training"
    resumed = solve("burgers", "pinn", overrides=cases.CUT, out=root / "cut", device="cpu", dtype="float64",
                    resume=True, progress=False)
    assert resumed.metrics["ranks"] == 1
    assert_same_history(cut_one_rank, history(root / "cut"))


# ---- the helpers on one rank, and the refusals -----------------------------------------------------------
def test_shards_cover_the_rows_once_in_order() -> None:
    for n, world in ((127, 2), (10, 3), (4, 4)):
        bounds = distributed.shard_bounds(n, world)
        assert bounds[0][0] == 0 and bounds[-1][1] == n
        assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
        assert max(b - a for a, b in bounds) - min(b - a for a, b in bounds) <= 1
    assert distributed.shard_rows(5) == slice(0, 5) and distributed.world_size() == 1
    x = torch.arange(3.0, requires_grad=True)
    assert distributed.gather_rows(x, 3) is x  # one rank: the identity


def test_bad_nproc_and_reference_solvers_are_refused(capsys) -> None:
    from sciml_core.cli import main

    assert main(["solve", "burgers", "--solver", "pinn", "--nproc", "0"]) == 2
    assert "--nproc must be >= 1, got 0" in capsys.readouterr().err


def test_a_reference_solver_refuses_several_ranks(monkeypatch) -> None:
    monkeypatch.setattr(distributed, "world_size", lambda: 2)
    with pytest.raises(ConfigError, match="is a numerical reference: it runs in one process"):
        solve("burgers-periodic", "spectral-etdrk4", device="cpu", progress=False)


def test_amp_and_compile_refusals() -> None:
    model = torch.nn.Linear(1, 1)

    class Quadratic:
        def loss(self, step):
            return model(torch.ones(2, 1)).pow(2).mean(), {}

    with pytest.raises(ConfigError, match="with --dtype float64 it would change nothing"):
        Trainer(model, Quadratic(), TrainConfig(amp="bf16"),
                RunContext(device=torch.device("cuda"), dtype=torch.float64))
    with pytest.raises(ConfigError, match=r"train.compile_backend 'nonsense': InvalidBackend \(available: .*inductor"):
        Trainer(model, Quadratic(), TrainConfig(compile=True, compile_backend="nonsense"), RunContext())
    for key, message in (("train.amp=bf16", "PINNs cannot train under bf16 autocast"),
                         ("train.compile=true", "PINNs cannot use torch.compile")):
        with pytest.raises(ConfigError, match=message):
            solve("burgers", "pinn", overrides=[key], device="cpu", progress=False)


def test_a_compile_failure_is_a_config_error() -> None:
    class Unsupported(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(1))

        def forward(self, x):
            raise torch._dynamo.exc.Unsupported("a model dynamo cannot trace")

    model = Unsupported()

    class Objective:
        def loss(self, step):
            return model(torch.ones(1)).sum(), {}

    trainer = Trainer(model, Objective(), TrainConfig(adam_steps=1, compile=True, compile_backend="eager"),
                      RunContext(progress=False))
    with pytest.raises(ConfigError, match="train.compile=true: torch.compile .* cannot compile this solver's model"):
        trainer.fit()


def test_the_launcher_reports_the_rank_that_failed(monkeypatch, capsys) -> None:
    import torch.distributed.run as torchrun
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError, ProcessFailure

    from sciml_core.train.launch import launch

    seen = []

    def fake_run(args, exits: dict[int, int]):
        seen.append(args)
        if not any(exits.values()):
            return
        log = Path(args.log_dir) / "run_x" / "attempt_0" / "1" / "stderr.log"
        log.parent.mkdir(parents=True)
        log.write_text("progress\nsciml: error: no such file 'x.h5'\n")
        raise ChildFailedError("sciml_core.cli", {r: ProcessFailure(local_rank=r, pid=100 + r, exitcode=code,
                                                                    error_file="") for r, code in exits.items()})

    monkeypatch.setattr(torchrun, "run", lambda args: fake_run(args, {0: 0, 1: 0}))
    assert launch(["solve", "burgers", "--nproc", "2"], 2) == 0
    assert seen[-1].nproc_per_node == "2" and seen[-1].training_script_args == ["solve", "burgers", "--nproc", "2"]
    assert seen[-1].module and seen[-1].training_script == "sciml_core.cli" and seen[-1].redirects == "1:3"
    monkeypatch.setattr(torchrun, "run", lambda args: fake_run(args, {0: -15, 1: 2}))  # rank 1 failed, 0 stopped
    assert launch(["solve"], 2) == 2
    err = capsys.readouterr().err
    assert "rank 1 of 2 exited with status 2: sciml: error: no such file 'x.h5' (its output: " in err
    monkeypatch.setattr(torchrun, "run", lambda args: fake_run(args, {0: 3, 1: -15}))  # rank 0 printed its own line
    assert launch(["solve"], 2) == 3 and capsys.readouterr().err == ""


def test_scaling_benchmark_quick() -> None:
    """benchmarks/scaling.py --quick end to end: `sciml solve --nproc 2` through torchrun, Dask workers."""
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "scaling.py"), "--quick"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((REPO / "benchmarks" / "results" / "scaling.quick.json").read_text())
    for key in ("ranks1_samples_per_s", "ranks2_samples_per_s", "ratio", "dask_workers1_samples_per_s",
                "dask_workers2_samples_per_s", "dask_ratio"):
        assert results[key] > 0, key
    assert results["loss_max_abs_diff_1v2"] < 1e-4  # float32: two ranks train like one
    assert results["quick"] is True and (results["gpu"]["measured"] or "unmeasured" in results["gpu"]["why"])


def test_slurm_scripts_run_real_commands() -> None:
    """docs/slurm/*.sbatch are valid bash, and each sciml command in them parses, with names that exist."""
    import shlex

    from sciml_core.cli import build_parser
    from sciml_core.data.specs import load_spec

    scripts = sorted((REPO / "docs" / "slurm").glob("*.sbatch"))
    assert len(scripts) == 4
    commands = 0
    for script in scripts:
        subprocess.run(["bash", "-n", str(script)], check=True)
        text = script.read_text().replace("\\\n", " ")
        defaults = dict(re.findall(r"^([A-Z_]+)=\$\{[A-Z_]+:-([^}]+)\}", text, re.M))  # NAME=${NAME:-default}
        for line in text.splitlines():
            if "sciml data" not in line and "sciml_core.cli" not in line:
                continue
            line = re.sub(r"\$\{([A-Za-z_]+):-([^}]*)\}", lambda m: defaults.get(m.group(1), m.group(2)), line)
            line = re.sub(r"\$\{[a-z_]+\[@\]\}", "x.h5", line)  # "${shards[@]}"
            line = re.sub(r"\$\{?([A-Za-z_]+)\}?", lambda m: defaults.get(m.group(1), "1"), line)
            words = shlex.split(line)
            argv = words[words.index("sciml_core.cli") + 1:] if "sciml_core.cli" in words else \
                words[words.index("sciml") + 1:]
            args = build_parser().parse_args(argv)
            if getattr(args, "spec", None):
                load_spec(args.spec)
            if getattr(args, "solver", None):
                registry.get_solver(args.solver)
            commands += 1
    assert commands == 5


def test_an_fno_checkpoint_loads_safely_and_resumes(data_dir: Path, tmp_path: Path, monkeypatch) -> None:
    """neuraloperator's state dict carries a ``_metadata`` entry with functions in it; checkpoints
    keep the tensors only, so weights_only loading (and --resume) works for the FNO solvers too."""
    import test_data_support as support

    from sciml_core.train.trainer import Trainer

    original = Trainer.fit

    def stop_at_15(self):
        self.callbacks.append(lambda trainer, step, logs: step == 15 and (_ for _ in ()).throw(cases.Interrupt()))
        return original(self)

    args = dict(data=data_dir / "heat.h5", device="cpu", progress=False, preset="quick",
                overrides=["window=2", "batch_size=5", "data.n_test=2", "train.adam_steps=20",
                           "train.checkpoint_every=10", "model.width=4", "model.n_modes=4", "model.n_layers=1",
                           "long.steps=0"])
    with support.registered():
        solve("test-heat", "fno", out=tmp_path / "full", **args)
        with monkeypatch.context() as patch:
            patch.setattr(Trainer, "fit", stop_at_15)
            with pytest.raises(cases.Interrupt):
                solve("test-heat", "fno", out=tmp_path / "cut", **args)
        solve("test-heat", "fno", out=tmp_path / "cut", resume=True, **args)
    assert [r["loss"] for r in history(tmp_path / "cut")] == [r["loss"] for r in history(tmp_path / "full")]
