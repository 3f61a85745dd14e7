"""Dataset generation on a Dask cluster (``sciml data generate SPEC --scheduler ADDRESS``).

``--scheduler tcp://HOST:PORT`` connects to a running scheduler (``dask scheduler`` plus
``dask worker tcp://HOST:PORT --nthreads 1`` on every machine, or a dask-jobqueue cluster);
``--scheduler local:N`` starts a LocalCluster of N single-threaded worker processes here.

The unit of work is the same fixed index block as for local worker processes and
``--shard K/N`` (:func:`~sciml_core.data.generate.plan_blocks`): one Dask task per block
that still has missing samples, integrating it with :meth:`Problem.solve_block` on a worker.
Results come back to the client, which alone writes the file, block by block, with the same
writer as a one-process run, so the file is bit-identical to one (given the same numerical
libraries on the workers).  A killed client resumes like any ``generate`` (the file's
``completed`` mask); a worker lost mid-run costs only the block it held: the scheduler runs it
again elsewhere (up to ``distributed.scheduler.allowed-failures`` times, 3 by default).

Dask is an optional dependency: ``pip install 'sciml[dask]'``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..errors import ConfigError, DataError

CONNECT_TIMEOUT_S = 30.0
_PROBLEMS: dict[str, Any] = {}  # per worker process: the Problem of each dataset it has worked on


def parse_scheduler(text: str) -> tuple[str, int | str]:
    """``local:N`` -> ("local", N); ``tcp://host:port`` (or tls://, ucx://, inproc://) -> ("address", text)."""
    if text.startswith("local:"):
        try:
            n = int(text.removeprefix("local:"))
        except ValueError:
            n = 0
        if n < 1:
            raise ConfigError(f"--scheduler {text!r}: expected local:N with N >= 1 worker processes, e.g. local:4")
        return "local", n
    if "://" in text:
        return "address", text
    raise ConfigError(f"--scheduler {text!r}: expected a scheduler address such as tcp://HOST:8786, or local:N")


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ConfigError("--scheduler needs Dask: pip install 'sciml[dask]' (dask and distributed)") from None
    return distributed


@contextmanager
def connect(scheduler: str) -> Iterator[Any]:
    """A Client of the scheduler ``--scheduler`` names (a LocalCluster for ``local:N``)."""
    distributed = _import_distributed()
    kind, value = parse_scheduler(scheduler)
    if kind == "local":
        logging.getLogger("distributed").setLevel(logging.ERROR)  # no INFO lines as the cluster closes
        cluster = distributed.LocalCluster(n_workers=int(value), threads_per_worker=1, processes=True,
                                           dashboard_address=None, silence_logs=logging.ERROR,
                                           env={"OMP_NUM_THREADS": "1"})
        try:
            with distributed.Client(cluster) as client:
                yield client
        finally:
            cluster.close()
        return
    try:
        client = distributed.Client(str(value), timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError) as exc:
        raise ConfigError(f"--scheduler {value}: cannot reach the Dask scheduler ({exc})") from None
    with client:
        yield client


def _solve_block(args: tuple, key: str, indices: list[int]) -> dict[str, Any]:
    """A Dask task: integrate one block on this worker (the Problem is built once per worker)."""
    import torch

    from .generate import Problem

    torch.set_num_threads(1)  # a worker runs one block per thread, as a local worker process does
    if key not in _PROBLEMS:
        _PROBLEMS[key] = Problem(*args)
    return _PROBLEMS[key].solve_block(indices)


def run_blocks(problem: Any, todo: list[list[int]], scheduler: str, key: str) -> Iterator[dict[str, Any]]:
    """Solve ``todo`` as Dask tasks on ``scheduler``; yield each block's result as it completes.

    ``key`` names the dataset (its fingerprint), so task names are unique per (dataset, block).
    """
    distributed = _import_distributed()
    args = (problem.spec, problem.pde_cls, problem.solver_cls, problem.seed)
    with connect(scheduler) as client:
        futures = [client.submit(_solve_block, args, key, block, key=f"sciml-block-{key}-{block[0]}", pure=False)
                   for block in todo]
        try:
            for future in distributed.as_completed(futures):
                try:
                    result = future.result()
                except distributed.KilledWorker as exc:
                    raise DataError(f"--scheduler: Dask gave up on task {future.key}: the workers running it kept "
                                    f"dying ({exc}); the file keeps every block written so far, rerun to resume") \
                        from None
                future.release()
                yield result
        finally:
            client.cancel(futures)
