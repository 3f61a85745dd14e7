"""The distributed tests' cases: every trained solver, tiny and in float64, and a rank's main.

``CASES[solver]`` gives the keyword arguments of :func:`sciml_core.solve` (``data``: the stem
of an operator dataset that :func:`make_data` writes: ``heat`` or ``ds``; ``dtype`` default float64; ``rtol``: how
closely two ranks must reproduce one, default 1e-8; ``write``: the case writes its run
directory, which the test checks rank 0 alone writes).  Every trained solver (kind ``pinn`` or
``operator``) must have a case here: ``tests/test_distributed.py`` checks that each trains
the same under two ranks as under one (README, developers' notes).  Jets run on their tensor
path (:func:`tensor_jets`) in both.

As a script, this is one rank of such a run::

    RANK=r WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=P python tests/distributed_cases.py OUT DATA_DIR

It runs every case (into ``OUT/<solver>`` for those marked ``write``) and writes
``rank<r>.json`` beside ``OUT``: the file-system writes this rank made (seen by an audit hook:
os.mkdir / open for writing / rename / remove / mkstemp), each case's metrics and every
training step's loss and logs, after training :data:`CUT` into ``resumed`` beside ``OUT``,
stopped at step 30 and resumed; then, once ``go`` appears beside ``OUT``, it trains
:data:`CUT` into ``cut`` beside ``OUT`` (the run the test kills).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))

_PINN = ["model.width=8", "model.depth=2", "sampling.n_initial=16", "sampling.n_boundary=16",
         "train.log_every=1", "train.checkpoint_every=10"]
_OPERATOR = ["window=2", "batch_size=5", "max_unroll=2", "eval_every=5", "data.n_test=2", "train.adam_steps=20",
             "train.log_every=1", "train.checkpoint_every=10"]
_FNO = ["model.width=4", "model.n_modes=4", "model.n_layers=1", "long.steps=0"]
CASES: dict[str, dict[str, Any]] = {
    # jets with the soft points in the residual pass, an odd point count (63 + 64 on two ranks),
    # R3 resampling and gradient-norm balancing (both read the gathered residuals), then L-BFGS
    "pinn": dict(pde="burgers", write=True, overrides=[*_PINN, "sampling.n_residual=127", "sampling.resample_every=5",
                                           "sampling.adaptive=r3", "balancing.method=gradnorm", "balancing.every=5",
                                           "train.adam_steps=15", "train.lbfgs_steps=4"]),
    # causal weights over time chunks of the gathered residuals; hard IC/BC, nested autograd
    "causal-pinn": dict(pde="burgers", overrides=[*_PINN, "derivatives=autograd", "sampling.n_residual=64",
                                                  "causal.n_chunks=8", "causal.check_every=5",
                                                  "causal.eps_schedule=[0.1, 1.0]", "train.adam_steps=15",
                                                  "train.lbfgs_steps=3"]),
    # characteristics and state branches, soft initial conditions (penalised norms), then L-BFGS
    "lagrangian-pinn": dict(pde="advection", preset="quick", overrides=[
        *_PINN, "sampling.n_residual=63", "initial=soft", "train.adam_steps=10", "train.lbfgs_steps=3"]),
    # stream function with exact walls, outflow points in the same pass as the interior ones
    "hard-bc-pinn": dict(pde="poiseuille", preset="quick", overrides=[
        *_PINN, "sampling.n_residual=63", "sampling.n_boundary=8", "train.adam_steps=10", "train.lbfgs_steps=3"]),
    # bundling, the pushforward curriculum, input noise, held-out loss: batch 5 = 2 + 3 rows
    "test-toy-operator": dict(pde="test-heat", data="heat", write=True,
                              overrides=[*_OPERATOR, "horizon=2", "noise_std=0.01"]),
    # neuraloperator's FNO and the stabilised FNO (float32 only: complex64 spectra)
    "fno": dict(pde="test-heat", data="heat", preset="quick", dtype="float32", rtol=1e-4, overrides=[
        *_OPERATOR, *_FNO]),
    "stable-fno": dict(pde="test-heat", data="heat", preset="quick", dtype="float32", rtol=1e-4, overrides=[
        *_OPERATOR, *_FNO]),
    # graph network with temporal bundling; its criterion is a batch-global sqrt of summed squares
    "message-passing": dict(pde="test-heat", data="heat", preset="quick", overrides=[
        *_OPERATOR, "horizon=2", "max_unroll=1", "model.hidden=20", "model.layers=1"]),
    # FNO basis with per-(sample, expert) differentiable least-squares solves: batch 3 = 1 + 2 samples
    "hard-constraint-moe": dict(pde="diffusion-sorption", data="ds", overrides=[
        "train.adam_steps=10", "train.log_every=1", "n_points=64", "width=4", "n_modes=3", "n_layers=1",
        "n_basis=4", "data.n_test=2", "data.t_stride=1", "data.x_stride=1", "batch_size=3", "lm_maxiter=10",
        "eval_every=5"]),
}


def tensor_jets() -> None:
    """Taylor jets on their tensor path (the one CUDA ranks take), so that no rank spends seconds
    compiling the numba CPU kernels."""
    from sciml_core.nn import jet_kernels

    jet_kernels.available = lambda *tensors: False


#: the run tests/test_distributed.py kills after its first checkpoint and resumes (a PINN of 100
#: Adam steps; its setting as ``sciml solve burgers --solver pinn --dtype float64 --set ...``)
CUT = ["model.width=8", "model.depth=2", "sampling.n_residual=64", "sampling.n_initial=16", "sampling.n_boundary=16",
       "derivatives=autograd", "train.adam_steps=100", "train.lbfgs_steps=0", "train.log_every=5",
       "train.checkpoint_every=20"]


def register_test_solvers() -> None:
    """The test PDE / reference (data engine tests) and the toy operator (operator base tests)."""
    import test_data_support as support
    from test_operator_base import ToyOperator

    from sciml_core import registry

    support.register()
    registry.register_solver()(ToyOperator)


def make_data(directory: Path) -> Path:
    """The operators' datasets in ``directory``: ``heat.h5`` (10 exact heat trajectories of 17
    frames on 32 points) and ``ds.h5`` (5 diffusion-sorption trajectories of 11 frames on 16 cells)."""
    import test_data_support as support

    from sciml_core.data.generate import generate
    from sciml_core.data.specs import load_spec

    text = support.SPEC.replace("n_samples = 12", "n_samples = 10").replace("n_t = 9", "n_t = 17")
    generate(load_spec(support.write_spec(directory, text, name="heat")), directory / "heat.h5", seed=1,
             progress=False)
    spec = load_spec("diffusion-sorption", {"n_samples": 5, "block_size": 5, "times": {"n_t": 11},
                                            "solver": {"config": {"n": 16, "rtol": 1e-5}}})
    generate(spec, directory / "ds.h5", seed=0, progress=False)
    return directory


def record_steps() -> list[dict[str, Any]]:
    """A list that receives every training step of this process: step, loss and the logs (the
    entries callbacks add, such as ``val_loss``, included), whether or not a run directory is
    written.  Patches the Trainer (for the process's lifetime: a rank, or a MonkeyPatch scope)."""
    from sciml_core.train.trainer import Trainer

    steps: list[dict[str, Any]] = []
    for name in ("_adam_step", "_lbfgs_step"):
        def step(self: Trainer, original: Any = getattr(Trainer, name)) -> Any:
            loss, logs = original(self)
            steps.append({"step": self.step + 1, "phase": self.phase, "loss": loss, "logs": logs})
            return loss, logs

        setattr(Trainer, name, step)
    return steps


def flat(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Recorded steps as plain JSON rows (``logs`` merged in), as history.jsonl would hold them."""
    from sciml_core.run import json_default

    rows = [{"step": s["step"], "phase": s["phase"], "loss": s["loss"], **s["logs"]} for s in steps]
    return json.loads(json.dumps(rows, default=json_default))


def run_case(solver: str, out: Path | None, data_dir: Path, **extra: Any) -> Any:
    """Solve one case; the run directory (``out``) only for the cases marked ``write``."""
    from sciml_core import solve

    case = dict(CASES[solver])
    data = data_dir / f"{case.pop('data')}.h5" if "data" in case else None
    case.pop("rtol", None)
    out = out if case.pop("write", False) else None
    return solve(case.pop("pde"), solver, data=data, out=out, device="cpu", dtype=case.pop("dtype", "float64"),
                 progress=False, **case, **extra)


class Interrupt(Exception):
    """Stops a run between two checkpoints, as a kill would."""


def interrupted_and_resumed(out: Path, stop_at: int = 30) -> None:
    """Train :data:`CUT` into ``out``, stopped at step ``stop_at`` (checkpoint at 20), then resume it."""
    from sciml_core import solve
    from sciml_core.train.trainer import Trainer

    original = Trainer.fit

    def stop(trainer: Trainer, step: int, logs: dict[str, Any]) -> None:
        if step == stop_at:
            raise Interrupt

    def fit(self: Trainer) -> Any:
        self.callbacks.append(stop)
        return original(self)

    args = dict(overrides=CUT, out=out, device="cpu", dtype="float64", progress=False)
    Trainer.fit = fit
    try:
        solve("burgers", "pinn", **args)
    except Interrupt:
        pass
    finally:
        Trainer.fit = original
    solve("burgers", "pinn", resume=True, **args)


WRITES = {"os.mkdir", "os.rename", "os.remove", "os.rmdir", "os.truncate", "tempfile.mkstemp"}


def main(out: Path, data_dir: Path) -> None:
    root, writes = str(out.resolve()), []

    def audit(event: str, args: tuple) -> None:
        if event in WRITES or (event == "open" and isinstance(args[1], str) and any(c in args[1] for c in "wax+")):
            path = args[0] if args and isinstance(args[0], (str, os.PathLike)) else None
            if path is not None and os.path.abspath(os.fspath(path)).startswith(root + os.sep):
                writes.append([event, os.fspath(path)])

    sys.addaudithook(audit)
    tensor_jets()
    register_test_solvers()
    steps = record_steps()
    metrics, histories = {}, {}
    for solver in CASES:
        steps.clear()
        metrics[solver] = run_case(solver, out / solver, data_dir).metrics
        histories[solver] = flat(steps)
    rank, parent = os.environ["RANK"], out.parent  # beside OUT: outside what the hook watches
    interrupted_and_resumed(parent / "resumed")
    report = json.dumps({"writes": list(writes), "metrics": metrics, "steps": histories}, default=str)
    (parent / f"rank{rank}.json.tmp").write_text(report)
    os.replace(parent / f"rank{rank}.json.tmp", parent / f"rank{rank}.json")
    deadline = time.time() + 300
    while not (parent / "go").exists() and time.time() < deadline:  # the kill test says when
        time.sleep(0.05)
    from sciml_core import solve

    solve("burgers", "pinn", overrides=CUT, out=parent / "cut", device="cpu", dtype="float64", progress=False)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
