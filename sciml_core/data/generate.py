"""The generation engine behind ``sciml data generate``.

Determinism: sample ``i`` draws its PDE parameters (sorted by name) and then its initial
condition from ``np.random.default_rng([seed, i])`` alone.  Samples are integrated in fixed
blocks of indices ``[b * block_size, (b + 1) * block_size)`` (cut at ``n_samples``), so even a
solver whose floating-point result depends on the batch it sees (adaptive steps shared by a
batch, batched FFTs) produces the same bits whatever the worker count, sharding or resume
point.  Samples with per-sample PDE parameters are integrated one at a time, unless the solver
takes them batched (``batched_params``: the block's parameters and initial-condition draws
go along as ``integrate(..., params=...)``).

Executors: the blocks are integrated in this process, in local worker processes
(``workers``), or as tasks on a Dask cluster (``scheduler``, :mod:`.dask_blocks`); in every
case this process alone writes the file.

Resumability: the output file is created complete-but-empty (see :mod:`.schema`); the parent
process alone writes it, a block at a time: data first, flush, then the ``completed`` mask,
flush.  Re-running the same command finds the file, checks its ``fingerprint`` and
integrates only the blocks that still have missing samples.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import signal
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from ..config import build_config, check_seed, to_dict
from ..errors import ConfigError, DataError, NotImplementedForError, OutputError, UnknownNameError
from .initial_conditions import build_ic
from .schema import Layout, create_file, open_h5, read_header
from .specs import DatasetSpec


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"K/N"`` -> (K, N) with 0 <= K < N; None stays None."""
    if text is None:
        return None
    try:
        k, n = (int(p) for p in text.split("/"))
    except ValueError:
        raise ConfigError(f"--shard {text!r}: expected K/N, e.g. 0/4") from None
    if not (n >= 1 and 0 <= k < n):
        raise ConfigError(f"--shard {text!r}: need 0 <= K < N")
    return k, n


def plan_blocks(n_samples: int, block_size: int, shard: tuple[int, int] | None = None) -> list[list[int]]:
    """The fixed index blocks of a dataset, or of shard K/N (a contiguous run of whole blocks)."""
    blocks = [list(range(s, min(s + block_size, n_samples))) for s in range(0, n_samples, block_size)]
    if shard is None:
        return blocks
    k, n = shard
    mine = blocks[k * len(blocks) // n : (k + 1) * len(blocks) // n]
    if not mine:
        raise ConfigError(f"--shard {k}/{n} is empty: {len(blocks)} blocks of {block_size} samples "
                          f"for {n} shards; use fewer shards or a smaller block_size")
    return mine


class Problem:
    """A spec resolved against the registries: draws samples and integrates index blocks."""

    def __init__(self, spec: DatasetSpec, pde_cls: type, solver_cls: type, seed: int) -> None:
        import torch

        from ..solver import ReferenceSolver, RunContext

        if not issubclass(solver_cls, ReferenceSolver):
            raise ConfigError(f"solver {spec.solver.name!r} is not a reference solver (kind {solver_cls.kind!r})")
        self.spec, self.pde_cls, self.solver_cls, self.seed = spec, pde_cls, solver_cls, seed
        self.base_params = dict(spec.pde_params)
        if spec.times.t_end is not None:
            self.base_params["t_end"] = spec.times.t_end
        self.pde = pde_cls.from_params(self.base_params, preset=spec.preset)
        self.config = build_config(solver_cls.Config, spec.solver.config, prefix="solver.config.")
        self.context = RunContext(device=torch.device(spec.solver.device), dtype=torch.float64, progress=False)
        self.dists = spec.distributions()
        for key in self.dists:
            if key not in to_dict(self.pde):
                raise ConfigError(f"parameters.{key}: PDE {spec.pde!r} has no parameter {key!r}")
        self.ic = build_ic(spec.initial_condition)
        solver = solver_cls(self.pde, self.config, self.context)
        self.config = solver.resolved_config()  # the step, grid and tolerances used, for the provenance
        grid = solver.grid()
        self.coords = {d: np.asarray(c, dtype=np.float64) for d, c in grid.items()}
        self.t_out = spec.times.values(self.pde.t_end)
        self.fields = tuple(self.pde.fields)
        self.ic_draws = tuple(self.draw(0)[2])

    def draw(self, index: int) -> tuple[dict[str, float], dict[str, np.ndarray], dict[str, float]]:
        """Sample ``index``'s (parameters, initial fields, IC draws): a function of (seed, index)."""
        rng = np.random.default_rng([self.seed, index])
        params = {k: d.sample(rng) for k, d in self.dists.items()}
        initial, draws = self.ic(rng, self.coords, self.fields)
        return params, initial, draws

    def solve_block(self, indices: list[int]) -> dict[str, Any]:
        """Integrate one block; returns ``{"indices", "fields", "params", "draws"}`` arrays."""
        drawn = [self.draw(i) for i in indices]
        stacked = {f: np.stack([d[1][f] for d in drawn]) for f in self.fields}
        if self.solver_cls.batched_params:  # one batch; each sample's parameters and draws go along
            samples = {**{k: np.array([d[0][k] for d in drawn]) for k in self.dists},
                       **{k: np.array([d[2][k] for d in drawn]) for k in self.ic_draws}}
            solver = self.solver_cls(self.pde, self.config, self.context)
            result = {f: np.asarray(a) for f, a in solver.integrate(stacked, self.t_out, params=samples).items()}
        elif self.dists:
            outs = []
            for params, initial, _ in drawn:
                pde = self.pde_cls.from_params({**self.base_params, **params}, preset=self.spec.preset)
                solver = self.solver_cls(pde, self.config, self.context)
                outs.append(solver.integrate({f: initial[f][None] for f in self.fields}, self.t_out))
            result = {f: np.concatenate([np.asarray(o[f]) for o in outs]) for f in self.fields}
        else:  # a fresh solver per block: no state can leak from one block into the next
            solver = self.solver_cls(self.pde, self.config, self.context)
            out = solver.integrate(stacked, self.t_out)
            result = {f: np.asarray(out[f]) for f in self.fields}
        expect = (len(indices), len(self.t_out), *(len(c) for c in self.coords.values()))
        for f, arr in result.items():
            if arr.shape != expect:
                raise DataError(f"solver {self.spec.solver.name!r} returned {f!r} of shape {arr.shape}, expected {expect}")
            bad = ~np.isfinite(arr).reshape(len(indices), -1).all(axis=1)
            if bad.any():
                raise DataError(f"dataset {self.spec.name!r}: solver {self.spec.solver.name!r} returned NaN/inf in "
                                f"{f!r} for sample {indices[int(np.argmax(bad))]} (unstable step or parameters?)")
        return {"indices": indices, "fields": {f: a.astype(self.spec.dtype) for f, a in result.items()},
                "params": {k: np.array([d[0][k] for d in drawn]) for k in self.dists},
                "draws": {k: np.array([d[2][k] for d in drawn]) for k in self.ic_draws}}


def resolve(spec: DatasetSpec) -> tuple[type, type]:
    """PDE and solver classes of a spec; a missing generator is a clear NotImplementedForError."""
    from ..registry import get_pde, get_solver

    try:
        return get_pde(spec.pde), get_solver(spec.solver.name)
    except UnknownNameError as exc:
        raise NotImplementedForError(f"dataset {spec.name!r} cannot be generated (its generator is not "
                                     f"built yet): {exc}") from None


def fingerprint(spec: Mapping[str, Any], seed: int, shard: tuple[int, int] | None) -> str:
    """Hash of what determines the data (``spec.as_dict()`` less name and description, seed,
    shard): a file is resumed only when its fingerprint matches."""
    spec = {k: v for k, v in spec.items() if k not in ("name", "description")}
    text = json.dumps({"spec": spec, "seed": seed, "shard": list(shard) if shard else None},
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


_WORKER: Problem | None = None


def _die_with_parent() -> None:
    """Linux: have the kernel SIGKILL this worker when the parent dies (even by SIGKILL)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):  # not Linux: orphaned workers exit when their queue breaks
        pass


def _init_worker(args: tuple[DatasetSpec, type, type, int] | None) -> None:
    """Worker start-up: single-threaded torch; rebuild the problem unless forked with it."""
    global _WORKER
    import torch

    _die_with_parent()
    torch.set_num_threads(1)
    if args is not None:
        _WORKER = Problem(*args)


def _solve_in_worker(indices: list[int]) -> dict[str, Any]:
    assert _WORKER is not None
    return _WORKER.solve_block(indices)


@dataclass
class GenerateReport:
    path: Path
    n_samples: int
    n_generated: int
    wall_s: float

    @property
    def samples_per_s(self) -> float:
        return self.n_generated / self.wall_s if self.wall_s > 0 else float("nan")


def _prepare_output(out: Path, fp: str, force: bool) -> bool:
    """True when ``out`` must be (re)created, False to resume it; OutputError if it is not ours."""
    if not out.exists():
        return True
    if out.is_dir():
        raise OutputError(f"--out {str(out)!r} is a directory; name the .h5 file to write")
    try:
        header = read_header(out)
    except DataError as exc:
        if force:
            return True
        raise OutputError(f"--out {str(out)!r} exists and is not a resumable dataset ({exc}); "
                          "pass --force to overwrite it") from None
    if header.attrs.get("fingerprint") == fp:
        return False
    if force:
        return True
    raise OutputError(f"--out {str(out)!r} holds a different dataset (other spec, seed, size or shard); "
                      "pass --force to overwrite it or choose another --out")


def generate(spec: DatasetSpec, out: str | Path, *, seed: int = 0, shard: tuple[int, int] | None = None,
             workers: int = 1, force: bool = False, compression: str | None = None,
             progress: bool = True, start_method: str | None = None, scheduler: str | None = None) -> GenerateReport:
    """Generate (or complete) the dataset file ``out``; see the module docstring.

    Workers are started with ``fork`` where the platform has it (no re-import cost; each
    worker runs torch single-threaded, as DataLoader workers do), else ``spawn``.
    ``scheduler``: a Dask scheduler address or ``local:N`` (:mod:`.dask_blocks`) instead.
    """
    from ..run import atomic_path

    start = time.perf_counter()
    if workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    if scheduler is not None:
        from .dask_blocks import parse_scheduler

        parse_scheduler(scheduler)
        if workers > 1:
            raise ConfigError("--workers and --scheduler: with a Dask scheduler its workers do the work; "
                              "give one or the other")
    check_seed(seed)
    pde_cls, solver_cls = resolve(spec)
    problem = Problem(spec, pde_cls, solver_cls, seed)
    out = Path(out)
    check_size(spec, problem, out, shard)
    blocks = plan_blocks(spec.n_samples, spec.block_size, shard)
    fp = fingerprint(spec.as_dict(), seed, shard)
    create = _prepare_output(out, fp, force)  # refusals first: nothing is written for a refused command
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the directory of --out {str(out)!r}: {exc.strerror or exc}") from None
    if create:
        samples = np.arange(blocks[0][0], blocks[-1][-1] + 1)
        attrs = {"name": spec.name, "pde": spec.pde, "pde_params": to_dict(problem.pde), "solver": spec.solver.name,
                 "solver_config": to_dict(problem.config), "seed": seed, "spec": spec.as_dict(),
                 "fingerprint": fp, "shard": f"{shard[0]}/{shard[1]}" if shard else "", "n_total": spec.n_samples}
        layout = Layout(samples=samples, t=problem.t_out, space=problem.coords, fields=problem.fields,
                        params=tuple(problem.dists), ic_draws=problem.ic_draws, dtype=spec.dtype, attrs=attrs)
        try:
            with atomic_path(out) as tmp:
                create_file(tmp, layout)
        except OSError as exc:
            raise OutputError(f"cannot write --out {str(out)!r}: {exc.strerror or exc}") from None
    header = read_header(out)
    first = int(header.samples[0])
    todo = [b for b in blocks if not header.completed[b[0] - first : b[-1] - first + 1].all()]
    n_done = sum(len(b) for b in todo)
    with tqdm(total=len(header.samples), initial=header.n_complete, desc=f"generate {spec.name}", unit="sample",
              disable=not progress) as bar:
        if scheduler is not None and todo:
            from .dask_blocks import run_blocks

            results = run_blocks(problem, todo, scheduler, key=fp)
        else:
            results = _run_blocks(problem, todo, workers, start_method)
        for result in results:
            _write_block(out, result, first)
            bar.update(len(result["indices"]))
    if compression and not _compressed(out, problem.fields[0]):
        from .merge import recompress

        recompress(out, compression)
    return GenerateReport(out, len(header.samples), n_done, time.perf_counter() - start)


def check_size(spec: DatasetSpec, problem: Problem, out: Path, shard: tuple[int, int] | None) -> None:
    """Refuse, naming the sizes, a dataset whose file cannot fit on the disk of ``out`` or whose
    bookkeeping and per-block arrays cannot fit in memory (before anything is allocated)."""
    from ..device import require_disk, require_memory

    n = spec.n_samples if shard is None else -(-spec.n_samples // shard[1])
    points = int(np.prod([len(c) for c in problem.coords.values()])) * len(problem.t_out)
    per_sample = points * len(problem.fields) * np.dtype(spec.dtype).itemsize + 8 * (2 + len(problem.dists)
                                                                                    + len(problem.ic_draws))
    what = f"dataset {spec.name!r} ({n} samples of {points} values x {len(problem.fields)} fields)"
    require_disk(n * per_sample, out, what)
    block = min(spec.block_size, n) * points * len(problem.fields) * 8 * 4  # float64 result, copies
    require_memory(n * 64 + block, what)  # index plan and masks per sample, one block being integrated


def _compressed(out: Path, name: str) -> bool:
    with open_h5(out) as f:
        return f[name].compression is not None


def _run_blocks(problem: Problem, todo: list[list[int]], workers: int,
                start_method: str | None) -> Iterator[dict[str, Any]]:
    if workers == 1 or len(todo) <= 1:
        for block in todo:
            yield problem.solve_block(block)
        return
    if start_method is None:  # fork only for CPU work: CUDA cannot be used in a forked child
        cpu = problem.context.device.type == "cpu"
        start_method = "fork" if cpu and "fork" in mp.get_all_start_methods() else "spawn"
    global _WORKER
    args = None
    if start_method == "fork":
        _WORKER = problem  # inherited by the forked workers
    else:
        args = (problem.spec, problem.pde_cls, problem.solver_cls, problem.seed)
    try:
        with mp.get_context(start_method).Pool(min(workers, len(todo)), _init_worker, (args,)) as pool:
            yield from pool.imap_unordered(_solve_in_worker, todo)
    finally:
        _WORKER = None


def _write_block(out: Path, result: Mapping[str, Any], first: int) -> None:
    """Write one solved block in place: data, flush, then its ``completed`` flags, flush."""
    idx = result["indices"]
    sl = slice(idx[0] - first, idx[-1] - first + 1)
    with open_h5(out, "r+", wait_s=60.0) as f:
        for name, arr in result["fields"].items():
            f[name][sl] = arr
        for name, arr in result["params"].items():
            f[name][sl] = arr
        for name, arr in result["draws"].items():
            f[f"ic_{name}"][sl] = arr
        f.flush()
        f["completed"][sl] = 1
        f.flush()

