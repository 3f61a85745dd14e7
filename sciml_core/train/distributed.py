"""Data-parallel training over several processes (torch.distributed), for every trained solver.

Launch with ``torchrun --nproc_per_node N -m sciml_core.cli solve ...`` (or ``sciml solve
--nproc N``, :mod:`.launch`).  :func:`init_group` joins the process group torchrun describes: NCCL
with one GPU per rank (``cuda:LOCAL_RANK``, :func:`rank_device`) on CUDA, gloo on CPU.  Without torchrun every
helper here is the identity, so one code path serves one rank and many.

How the work is split, so that N ranks compute the one-rank loss and gradient:

* every rank holds the same model and draws the same global work (a PINN's collocation set,
  an operator's global batch: both functions of the seed and the step);
* :func:`shard_rows` gives each rank a contiguous part of it, and :func:`gather_rows`
  concatenates the rows every rank computed (residuals, predictions) in rank order, so the
  loss is evaluated on the global set, the same on every rank: any loss, however nonlinear in
  the rows (causal weights, batch-relative errors), is the one-rank loss;
* the backward pass of :func:`gather_rows` returns ``N x`` the gradient of this rank's rows
  (the upstream gradient is the same on every rank, so no communication is needed), and after
  ``backward()`` the Trainer averages the parameter gradients over the ranks
  (:func:`average_gradients`, one flat all-reduce).  Rows computed on one rank thus count once
  and terms every rank computes alike (a PINN's soft boundary terms) are averaged: the result
  is the one-rank gradient to rounding, for Adam and for L-BFGS alike (every rank sees the
  same loss and gradient, so the line search takes the same decisions everywhere).

Why not ``DistributedDataParallel``: it synchronises gradients only through the wrapped
module's ``forward``, while our objectives call models through other paths (a PINN's Taylor-jet
pass, an operator's pushforward and rollout); one all-reduce after ``backward()`` works for
all of them and keeps checkpoints free of a ``module.`` prefix, so a run can be resumed on
another number of ranks.
"""

from __future__ import annotations

import atexit
import os
import pickle
import signal
from typing import Any, Callable, Iterable, TypeVar

import torch
import torch.distributed as dist

from ..errors import ConfigError

T = TypeVar("T")


def launched() -> bool:
    """True in a process that torchrun started as one of several ranks."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def active() -> bool:
    """True when a process group of more than one rank is up."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def is_main() -> bool:
    """Rank 0 (or the only process): the one that writes files and prints."""
    return rank() == 0


def _die_with_parent() -> None:
    """Linux: SIGKILL this rank when its launcher dies (torchrun starts ranks in their own
    sessions, so a killed launcher would otherwise leave them training and writing)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the launcher died before prctl took effect
        os._exit(1)


def init_group() -> None:
    """Join the process group torchrun describes, once per process (no-op outside torchrun or
    when the caller already started one): gloo for CPU tensors and, where CUDA is available,
    NCCL for CUDA tensors, so the device can be chosen afterwards (:func:`rank_device`)."""
    if not launched() or (dist.is_available() and dist.is_initialized()):
        return
    _die_with_parent()
    dist.init_process_group("cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo")
    atexit.register(_destroy)


def rank_device(device: torch.device) -> torch.device:
    """This rank's device: under torchrun a CUDA device becomes ``cuda:LOCAL_RANK`` (one GPU
    per rank); anything else is returned as it is."""
    if not launched() or device.type != "cuda":
        return device
    local_rank, count = int(os.environ.get("LOCAL_RANK", "0")), torch.cuda.device_count()
    if local_rank >= count:
        raise ConfigError(f"rank with LOCAL_RANK {local_rank} has no GPU of its own ({count} visible): start "
                          f"at most {count} ranks per machine, or use --device cpu")
    device = torch.device("cuda", local_rank)
    torch.cuda.set_device(device)
    return device


def _destroy() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def _comm_device() -> torch.device:
    """Where small collective buffers live: the CPU (gloo), unless the group is NCCL alone."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


# ---- splitting the work ---------------------------------------------------------------------
def shard_bounds(n: int, world: int | None = None) -> list[tuple[int, int]]:
    """The contiguous row range of every rank for ``n`` rows (sizes differ by at most one)."""
    world = world_size() if world is None else world
    return [(r * n // world, (r + 1) * n // world) for r in range(world)]


def shard_rows(n: int) -> slice:
    """This rank's rows of ``n`` (all of them on one rank)."""
    world = world_size()
    if n < world:
        raise ConfigError(f"cannot split {n} rows (a batch or a collocation set) over {world} ranks: use at "
                          f"least {world} or fewer ranks")
    start, stop = shard_bounds(n, world)[rank()]
    return slice(start, stop)


_gathers = 0


def gather_count() -> int:
    """How many times :func:`gather_rows` ran in this process (the Trainer checks that an
    objective splits its work)."""
    return _gathers


class _GatherRows(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, local: torch.Tensor, n: int) -> torch.Tensor:
        bounds = shard_bounds(n)
        counts = [b - a for a, b in bounds]
        if local.shape[0] != counts[rank()]:
            raise ValueError(f"gather_rows: this rank holds {local.shape[0]} rows, its shard of {n} has "
                             f"{counts[rank()]}")
        ctx.rows, ctx.world = slice(*bounds[rank()]), len(bounds)
        wire = torch.view_as_real(local) if local.is_complex() else local
        padded = wire.new_zeros((max(counts), *wire.shape[1:]))
        padded[: wire.shape[0]] = wire
        parts = [torch.empty_like(padded) for _ in counts]
        dist.all_gather(parts, padded)
        out = torch.cat([p[:c] for p, c in zip(parts, counts)])
        return torch.view_as_complex(out) if local.is_complex() else out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        # every rank computes the same loss from the same gathered rows, so ``grad`` is the same
        # everywhere; scaled by N, the Trainer's gradient average leaves these rows counted once
        return grad[ctx.rows] * ctx.world, None


def gather_rows(local: torch.Tensor, n: int) -> torch.Tensor:
    """All ranks' rows (this rank's are ``local``, its :func:`shard_rows` of ``n``) in order.

    Differentiable (module docstring); the identity on one rank.
    """
    global _gathers
    _gathers += 1
    if not active():
        return local
    return _GatherRows.apply(local, n)


# ---- gradients, parameters and agreement ----------------------------------------------------
def average_gradients(params: Iterable[torch.Tensor]) -> None:
    """Average the parameters' ``.grad`` over the ranks in place; no-op on one rank."""
    average_([p.grad for p in params])


def average_(tensors: Iterable[torch.Tensor | None]) -> None:
    """Average tensors over the ranks in place (one all-reduce per dtype; None entries, the
    same on every rank, are skipped); no-op on one rank."""
    if not active():
        return
    groups: dict[torch.dtype, list[torch.Tensor]] = {}
    for t in tensors:
        if t is not None:
            g = torch.view_as_real(t) if t.is_complex() else t
            groups.setdefault(g.dtype, []).append(g)
    world = world_size()
    for grads in groups.values():
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= world
        offset = 0
        for g in grads:
            g.copy_(flat[offset: offset + g.numel()].view_as(g))
            offset += g.numel()


def broadcast_module(module: torch.nn.Module) -> None:
    """Give every rank rank 0's parameters and buffers."""
    if not active():
        return
    with torch.no_grad():
        for tensor in [*module.parameters(), *module.buffers()]:
            wire = torch.view_as_real(tensor) if tensor.is_complex() else tensor
            dist.broadcast(wire, src=0)


def any_rank(flag: bool) -> bool:
    """True on every rank when ``flag`` is True on any of them (e.g. a wall-clock budget)."""
    return all_reduce_scalars([float(flag)], "max")[0] > 0


def all_reduce_scalars(values: list[float], op: str = "sum") -> list[float]:
    """``values`` summed (``op="sum"``) or maximised (``"max"``) over the ranks (e.g. a batch's
    statistics that each rank computed for its part); unchanged on one rank."""
    if not active():
        return list(values)
    tensor = torch.tensor(values, dtype=torch.float64, device=_comm_device())
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX if op == "max" else dist.ReduceOp.SUM)
    return tensor.tolist()


def check_in_sync(module: torch.nn.Module) -> None:
    """Raise if the ranks' parameters differ (they must stay identical; checked at checkpoints)."""
    if not active():
        return
    with torch.no_grad():
        total = sum((p.double().abs().sum() for p in module.parameters()), torch.zeros((), dtype=torch.float64,
                                                                                      device=_comm_device()))
        value = total.to(_comm_device()).reshape(1)
        low, high = value.clone(), value.clone()
        dist.all_reduce(low, op=dist.ReduceOp.MIN)
        dist.all_reduce(high, op=dist.ReduceOp.MAX)
    if not torch.equal(low, high):
        raise RuntimeError(f"the ranks' parameters have diverged (sum |theta| from {low.item()!r} to "
                           f"{high.item()!r}); this is a bug in the objective's use of gather_rows")


def broadcast_object(obj: T) -> T:
    """Rank 0's ``obj`` on every rank (pickled; tensors should be on the CPU)."""
    if not active():
        return obj
    box = [obj if is_main() else None]
    dist.broadcast_object_list(box, src=0, device=_comm_device())
    return box[0]


def on_main(fn: Callable[[], T]) -> T | None:
    """Run ``fn`` on rank 0 only (e.g. create the run directory); the others get None.

    An exception on rank 0 is raised on every rank, so no rank waits for a rank that has
    stopped (each then exits with the same status and message).
    """
    if not active():
        return fn()
    result, error = None, None
    if is_main():
        try:
            result = fn()
        except Exception as exc:  # noqa: BLE001 -- re-raised on every rank below
            error = exc
    error = broadcast_object(_picklable(error))
    if error is not None:
        raise error
    return result if is_main() else None


def _picklable(error: BaseException | None) -> BaseException | None:
    if error is None:
        return None
    try:
        pickle.dumps(error)
        return error
    except Exception:  # noqa: BLE001
        return RuntimeError(f"{type(error).__name__}: {error}")
