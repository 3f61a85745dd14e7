"""One training loop for every trained solver.

Adam/AdamW with an optional learning-rate schedule, then L-BFGS with a strong-Wolfe line
search (one L-BFGS iteration per step); gradient clipping; optional bf16 autocast on CUDA;
a wall-clock budget; atomic checkpoints every N steps and exact resume (model, optimizer,
scheduler, RNG and objective state are all restored, so a resumed CPU run reproduces the
uninterrupted run's losses); a guard that stops on a non-finite loss with
:class:`DivergenceError`, leaving the last good checkpoint untouched; ``history.jsonl``
logging; callbacks; a tqdm progress bar on a terminal, and plain progress lines (step, loss,
rel L2 when logged, steps/s, ETA) every few seconds when stderr is not one (:mod:`..progress`);
``torch.compile`` of the model (``train.compile``).

Under torchrun (:mod:`.distributed`) the same loop runs on every rank: parameters start from
rank 0's, gradients are averaged over the ranks after every backward pass (also inside the
L-BFGS closure), a wall-clock budget stops all ranks at the same step, rank 0 alone writes
history and checkpoints, and ``--resume`` reads rank 0's checkpoint for everyone.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Literal, Protocol, Sequence

import torch
from tqdm.auto import tqdm

from ..device import keep_freed_cpu_memory
from ..errors import CheckpointError, ConfigError, DivergenceError, SciMLError
from ..progress import ProgressLog
from ..run import json_default
from ..solver import RunContext
from . import distributed
from .checkpoint import load_checkpoint, save_checkpoint


@dataclass
class TrainConfig:
    """Optimisation settings shared by every trained solver (``--set train.KEY=VALUE``)."""

    adam_steps: int = 1000
    lbfgs_steps: int = 0
    optimizer: Literal["adam", "adamw"] = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    schedule: Literal["constant", "exponential", "step", "cosine"] = "constant"
    decay_rate: float = 0.9
    decay_steps: int = 1000
    grad_clip: float = 0.0
    lbfgs_lr: float = 1.0
    lbfgs_history: int = 50
    lbfgs_max_eval: int = 25
    log_every: int = 10
    checkpoint_every: int = 500
    amp: Literal["none", "bf16"] = "none"
    compile: bool = False
    compile_backend: str = "inductor"

    def validate(self) -> None:
        for key in ("adam_steps", "lbfgs_steps", "checkpoint_every"):
            if getattr(self, key) < 0:
                raise ConfigError(f"train.{key} must be >= 0, got {getattr(self, key)}")
        if self.log_every < 1:
            raise ConfigError(f"train.log_every must be >= 1, got {self.log_every}")
        if not self.lr > 0:
            raise ConfigError(f"train.lr must be positive, got {self.lr}")


class Objective(Protocol):
    """What the trainer minimises.

    ``loss(step)`` returns the scalar loss and a dict of floats to log.  Optional
    ``state_dict()`` / ``load_state_dict()`` carry the objective's own state (samplers'
    generators, loss weights, schedules) through checkpoints.  An optional attribute
    ``schedule_start`` (an int, read at every step) makes the learning-rate schedule count
    from that step instead of 0, e.g. restarting it in each time-marching window.
    """

    def loss(self, step: int) -> tuple[torch.Tensor, dict[str, float]]: ...


Callback = Callable[["Trainer", int, dict[str, Any]], "bool | None"]
"""Called after every step with (trainer, step, logs), before the step is logged (entries a
callback adds to ``logs`` reach history.jsonl); returning True stops training."""


@dataclass
class TrainResult:
    steps: int
    wall_s: float
    final_loss: float
    status: str  # "completed" | "budget_exhausted" | "stopped"


def _schedule(config: TrainConfig) -> Callable[[int], float]:
    if config.schedule == "exponential":
        return lambda s: config.decay_rate ** (s / config.decay_steps)
    if config.schedule == "step":
        return lambda s: config.decay_rate ** (s // config.decay_steps)
    if config.schedule == "cosine":
        return lambda s: 0.5 * (1.0 + math.cos(math.pi * min(s, config.adam_steps) / max(config.adam_steps, 1)))
    return lambda s: 1.0


def _compile(model: torch.nn.Module, backend: str) -> None:
    """``torch.compile`` the model in place (its parameter names, hence checkpoints, unchanged)."""
    try:
        model.compile(backend=backend)
    except Exception as exc:  # torch._dynamo.exc.InvalidBackend and the like
        import torch._dynamo

        raise ConfigError(f"train.compile_backend {backend!r}: {type(exc).__name__} (available: "
                          f"{', '.join(torch._dynamo.list_backends())}, or the debugging backends eager and "
                          "aot_eager)") from None


class Trainer:
    """Minimise ``objective.loss`` over ``model``'s parameters (see the module docstring)."""

    def __init__(
        self,
        model: torch.nn.Module,
        objective: Objective,
        config: TrainConfig,
        context: RunContext,
        callbacks: Sequence[Callback] = (),
    ) -> None:
        if config.amp == "bf16" and context.device.type != "cuda":
            raise ConfigError("train.amp=bf16 needs a CUDA device (use --device cuda or train.amp=none)")
        if config.amp == "bf16" and context.dtype == torch.float64:
            raise ConfigError("train.amp=bf16 autocasts float32 models; with --dtype float64 it would change nothing "
                              "(use --dtype float32 or train.amp=none)")
        if config.compile:
            _compile(model, config.compile_backend)
        distributed.broadcast_module(model)
        self.model = model
        self.objective = objective
        self.config = config
        self.context = context
        self.callbacks = list(callbacks)
        self.step = 0
        self.last_checkpoint_step: int | None = None
        self._elapsed_before = 0.0
        self._make_adam()

    # ---- optimisers -----------------------------------------------------------------------
    def _make_adam(self) -> None:
        cls = torch.optim.AdamW if self.config.optimizer == "adamw" else torch.optim.Adam
        params = [p for p in self.model.parameters() if p.requires_grad]
        # The fused implementation (one kernel for every parameter; CPU support since torch 2.4)
        # is 3-4x faster than the per-tensor loop, which matters for small PINNs.  torch.__version__
        # is a TorchVersion: it compares as a version, so 2.13 >= (2, 4).
        fused = all(p.dtype in (torch.float32, torch.float64) for p in params) and torch.__version__ >= (2, 4)
        self.optimizer: torch.optim.Optimizer = cls(
            params, lr=self.config.lr, weight_decay=self.config.weight_decay, fused=fused or None
        )
        factor = _schedule(self.config)
        objective = self.objective
        self.scheduler: torch.optim.lr_scheduler.LRScheduler | None = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: factor(s - getattr(objective, "schedule_start", 0))
        )
        self.phase = "adam"

    def _make_lbfgs(self) -> None:
        self.optimizer = torch.optim.LBFGS(
            self.model.parameters(),
            lr=self.config.lbfgs_lr,
            max_iter=1,
            max_eval=self.config.lbfgs_max_eval,
            history_size=self.config.lbfgs_history,
            tolerance_grad=0.0,
            tolerance_change=0.0,
            line_search_fn="strong_wolfe",
        )
        self.scheduler = None
        self.phase = "lbfgs"

    # ---- checkpoints ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        state = {
            "step": self.step,
            "phase": self.phase,
            # tensors only: a state dict may carry other entries (neuraloperator's ``_metadata`` holds
            # its constructor arguments, functions included), which weights_only loading refuses
            "model": {k: v for k, v in self.model.state_dict().items() if isinstance(v, torch.Tensor)},
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "rng_cpu": torch.get_rng_state(),
            "elapsed_s": self.elapsed,
        }
        if torch.cuda.is_available():
            state["rng_cuda"] = torch.cuda.get_rng_state_all()
        if hasattr(self.objective, "state_dict"):
            state["objective"] = self.objective.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        if state["phase"] == "lbfgs":
            self._make_lbfgs()
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state.get("scheduler") is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng_cpu"])
        if "rng_cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng_cuda"])
        if hasattr(self.objective, "load_state_dict") and "objective" in state:
            self.objective.load_state_dict(state["objective"])
        self.step = int(state["step"])
        self.last_checkpoint_step = self.step
        self._elapsed_before = float(state.get("elapsed_s", 0.0))

    def save(self) -> None:
        distributed.check_in_sync(self.model)
        if self.context.run is not None:
            save_checkpoint(self.context.run.checkpoint, self.state_dict())
            self.last_checkpoint_step = self.step

    def resume(self) -> None:
        """Restore from the run directory's checkpoint and drop history logged after it (rank 0
        reads the checkpoint and sends it to the other ranks, which need no shared file system)."""
        run = self.context.run
        where = "cpu" if distributed.active() else self.context.device  # tensors travel through the CPU

        def read() -> dict[str, Any]:
            assert run is not None, "resume needs a run directory"
            return load_checkpoint(run.checkpoint, map_location=where)

        state = distributed.broadcast_object(distributed.on_main(read))
        try:
            self.load_state_dict(state)
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:  # a checkpoint of something else
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            detail = next((line for line in lines if "size mismatch" in line or "Missing key" in line),
                          lines[0] if lines else type(exc).__name__)
            if isinstance(exc, KeyError):
                detail = f"no {detail} entry (written by another solver?)"
            where = str(run.checkpoint) if run is not None else "rank 0's checkpoint"
            raise CheckpointError(f"checkpoint {where!r} does not fit this run: {detail}") from None
        if run is not None:
            run.truncate_history(self.step)

    # ---- the loop -------------------------------------------------------------------------
    @property
    def elapsed(self) -> float:
        return self._elapsed_before + (time.perf_counter() - self._t0 if hasattr(self, "_t0") else 0.0)

    def _evaluate(self) -> tuple[torch.Tensor, dict[str, float]]:
        amp = self.config.amp == "bf16" and self.phase == "adam"
        with torch.autocast(device_type=self.context.device.type, dtype=torch.bfloat16, enabled=amp):
            loss, logs = self.objective.loss(self.step)
        return loss.float() if amp else loss, logs

    def _diverged(self, loss: torch.Tensor) -> DivergenceError:
        where = (
            f"the last good checkpoint is {str(self.context.run.checkpoint)!r} (step {self.last_checkpoint_step})"
            if self.context.run is not None and self.last_checkpoint_step is not None
            else "no checkpoint had been written yet"
        )
        return DivergenceError(f"non-finite loss ({loss.item()}) at step {self.step} ({self.phase}); {where}")

    def _first_step(self) -> tuple[float, dict[str, float]]:
        """The first step of this process, with compile and autocast failures as ConfigErrors."""
        gathers = distributed.gather_count()
        try:
            result = self._adam_step() if self.phase == "adam" else self._lbfgs_step()
        except SciMLError:
            raise
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            if self.config.compile and type(exc).__module__.startswith(("torch._dynamo", "torch._inductor")):
                raise ConfigError(f"train.compile=true: torch.compile (backend {self.config.compile_backend!r}) "
                                  f"cannot compile this solver's model ({type(exc).__name__}: {first}); use "
                                  "train.compile=false") from exc
            if self.config.amp == "bf16" and isinstance(exc, RuntimeError):
                raise ConfigError(f"train.amp=bf16: this solver's model fails under bf16 autocast "
                                  f"(RuntimeError: {first}); use train.amp=none") from exc
            raise
        if distributed.active() and distributed.gather_count() == gathers and distributed.is_main():
            warnings.warn(f"the objective does not split its work over the {distributed.world_size()} ranks (it "
                          "never calls sciml_core.train.distributed.gather_rows): every rank computes the whole "
                          "step, so the results are those of one rank, but no faster", stacklevel=2)
        return result

    def _adam_step(self) -> tuple[float, dict[str, float]]:
        self.optimizer.zero_grad(set_to_none=True)
        loss, logs = self._evaluate()
        if not torch.isfinite(loss):
            raise self._diverged(loss)
        loss.backward()
        distributed.average_gradients(self.model.parameters())
        if self.config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        return loss.item(), logs

    def _lbfgs_step(self) -> tuple[float, dict[str, float]]:
        first: list[tuple[torch.Tensor, dict[str, float]]] = []

        def closure() -> torch.Tensor:
            self.optimizer.zero_grad(set_to_none=True)
            loss, logs = self._evaluate()
            if not first:
                first.append((loss.detach(), logs))
            if torch.isfinite(loss):
                loss.backward()
                distributed.average_gradients(self.model.parameters())
            return loss

        self.optimizer.step(closure)
        loss, logs = first[0]
        if not torch.isfinite(loss):
            raise self._diverged(loss)
        return loss.item(), logs

    def fit(self) -> TrainResult:
        """Train until ``adam_steps + lbfgs_steps`` steps, the budget, or a callback stops it."""
        cfg, run = self.config, self.context.run
        if self.context.device.type == "cpu":
            keep_freed_cpu_memory()
        if self.context.resume:
            self.resume()
        total = cfg.adam_steps + cfg.lbfgs_steps
        self._t0 = time.perf_counter()
        status, loss_value = "completed", float("nan")
        history = run.history.open("a") if run is not None else None
        bar = tqdm(total=total, initial=self.step, desc=f"train", disable=None if self.context.progress else True)
        lines = ProgressLog("train", total, initial=self.step, enabled=self.context.progress)  # no terminal: lines
        first = True
        try:
            while self.step < total:
                if self.step >= cfg.adam_steps and self.phase == "adam":
                    self._make_lbfgs()
                lr = self.optimizer.param_groups[0]["lr"]
                if first:
                    loss_value, logs = self._first_step()
                    first = False
                else:
                    loss_value, logs = self._adam_step() if self.phase == "adam" else self._lbfgs_step()
                self.step += 1
                bar.update(1)
                stop = any([cb(self, self.step, logs) for cb in self.callbacks])  # callbacks may add to logs
                lines.update(self.step, loss_value, logs, self.phase)
                if self.step % cfg.log_every == 0 or self.step == total:
                    row = {"step": self.step, "phase": self.phase, "loss": loss_value, "lr": lr,
                           "wall_s": round(self.elapsed, 4), **logs}
                    bar.set_postfix(loss=f"{loss_value:.3e}", refresh=False)
                    if history is not None:
                        history.write(json.dumps(row, default=json_default) + "\n")
                        history.flush()
                if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0:
                    self.save()
                if stop:
                    status = "stopped"
                    break
                if self.context.budget_s is not None and distributed.any_rank(self.elapsed >= self.context.budget_s):
                    status = "budget_exhausted"
                    break
        finally:
            bar.close()
            if history is not None:
                history.close()
        self.save()
        return TrainResult(steps=self.step, wall_s=self.elapsed, final_loss=loss_value, status=status)
