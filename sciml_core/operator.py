"""The operator solver contract: train on a dataset file, roll out on held-out samples.

Rules an :class:`OperatorSolver` subclass follows (``kind = "operator"``):

1. Its ``Config`` is a dataclass extending :class:`OperatorConfig` (data selection, training,
   batch size, window ``K`` and horizon ``H``, pushforward, evaluation) with its model's options.
2. :meth:`~OperatorSolver.build_model` returns the network for a :class:`TrajectorySet`
   (channels, grid, parameters are known from it).
3. :meth:`~OperatorSolver.predict` maps a normalised history (batch, K, C, *space), the
   index of the first frame to produce (an int, or a (batch,) tensor in training batches)
   and the normalised per-sample parameters (batch, P) to the next H frames (batch, H, C, *space).
4. Optionally :meth:`~OperatorSolver.batch_loss` (default: bundled one-step loss with the
   pushforward curriculum and input noise, below), :meth:`~OperatorSolver.criterion`
   (default MSE) and :meth:`~OperatorSolver.extra_metrics` (added to metrics.json).

The base does the rest: it opens ``--data`` (:func:`~sciml_core.data.trajectories.load_trajectories`),
trains through :class:`sciml_core.train.Trainer` (Adam/AdamW, schedules, budget, atomic
checkpoints, exact resume: every random draw of a step comes from ``(seed, step)``), logs
the held-out loss every ``eval_every`` steps, and evaluates by
:func:`sciml_core.autoregressive.rollout` of the physical-units stepper from ``eval_start``
on every held-out sample.  The solution has dims ``(sample, t, [y,] x)`` with each field and
``<field>_ref`` (the stored truth), so ``rel_l2`` in metrics.json is the rollout's error.

Default training step (Brandstetter, Worrall & Welling 2022, section 2.3): draw the batch's
trajectories (a fresh permutation per epoch), an unroll count n ~ U{0..min(epoch, max_unroll)}
and start frames; push the history forward n steps without gradient; add Gaussian noise of
``noise_std`` (normalised units) to it; grade the next step against the stored frames.

Under several ranks (torchrun) every rank draws the same global batch from (seed, step); each
pushes forward and predicts its contiguous share of the batch, and the predictions of all
ranks are gathered before the criterion (:mod:`sciml_core.train.distributed`), so the loss is
the one-rank loss of the global batch (what a DistributedSampler over a shared permutation
gives a DataLoader).  A subclass that overrides :meth:`~OperatorSolver.batch_loss` splits its
work the same way with ``shard_rows`` / ``gather_rows``.
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
import xarray as xr

from .autoregressive import Stepper, max_start, pushforward, rollout, unroll_count, window_pairs
from .data.trajectories import DataConfig, TrajectorySet, load_trajectories
from .errors import ConfigError
from .metrics import rel_l2
from .solver import Solver, SolverKind, SolverOutput
from .train import TrainConfig, Trainer
from .train.distributed import gather_rows, shard_rows
from .train.trainer import Callback


@dataclass
class OperatorConfig:
    """Shared operator options: ``window`` K input frames, ``horizon`` H output frames per
    step; ``batch_size`` trajectories per step; ``max_unroll``: pushforward curriculum cap (0:
    plain one-step training); ``noise_std``: Gaussian input noise; ``eval_every``: held-out
    loss every so many steps (0: off); ``eval_start``: first stored frame given to the
    held-out rollouts; ``eval_steps``: frames to roll out (0: to the end of the trajectories);
    ``threads``: torch intra-op threads while training (0: leave torch's setting)."""

    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    window: int = 1
    horizon: int = 1
    batch_size: int = 16
    max_unroll: int = 0
    noise_std: float = 0.0
    eval_every: int = 0
    eval_start: int = 0
    eval_steps: int = 0
    threads: int = 0

    def validate(self) -> None:
        if min(self.window, self.horizon, self.batch_size) < 1:
            raise ConfigError(f"window, horizon and batch_size must be >= 1, got {self.window}, {self.horizon}, "
                              f"{self.batch_size}")
        if min(self.max_unroll, self.eval_every, self.eval_start, self.eval_steps, self.threads) < 0:
            raise ConfigError("max_unroll, eval_every, eval_start, eval_steps and threads must be >= 0")
        if not (self.noise_std >= 0 and math.isfinite(self.noise_std)):
            raise ConfigError(f"noise_std must be a finite number >= 0, got {self.noise_std}")


STEP, EPOCH, VALIDATION = 0, 1, 2  # independent random streams of a run


def step_generator(seed: int, index: int, stream: int = STEP) -> torch.Generator:
    """The CPU generator of draw ``index`` (a step, or an epoch) of ``stream``: a function of
    (seed, stream, index) alone, so a resumed run draws what the uninterrupted one drew."""
    state = np.random.SeedSequence([seed, stream, index]).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


def to_device_dtype(model: torch.nn.Module, device: torch.device, dtype: torch.dtype) -> torch.nn.Module:
    """``model.to(device, dtype)`` that keeps complex parameters complex (of ``dtype``'s
    precision): ``Module.to(dtype=float32)`` casts a complex tensor to its real part, which
    silently breaks the spectral weights of Fourier neural operators."""
    complex_dtype = {torch.float32: torch.complex64, torch.float64: torch.complex128}.get(dtype)

    def cast(t: torch.Tensor) -> torch.Tensor:
        if t.is_floating_point():
            return t.to(device=device, dtype=dtype)
        if t.is_complex() and complex_dtype is not None:
            return t.to(device=device, dtype=complex_dtype)
        return t.to(device=device)

    return model._apply(cast)


class OperatorObjective:
    """What the Trainer minimises for an operator: :meth:`OperatorSolver.batch_loss` on the
    training trajectories, the batch drawn from a per-epoch permutation seeded by (seed, epoch)."""

    def __init__(self, solver: "OperatorSolver", model: torch.nn.Module, data: TrajectorySet) -> None:
        self.solver, self.model, self.data = solver, model, data
        self.seed = solver.context.seed
        self.batch_size = min(solver.config.batch_size, data.train.shape[0])
        self.steps_per_epoch = math.ceil(data.train.shape[0] / self.batch_size)
        self._perm: tuple[int, torch.Tensor] | None = None

    def samples(self, step: int) -> torch.Tensor:
        """Training-trajectory indices of ``step``'s batch."""
        epoch, k = divmod(step, self.steps_per_epoch)
        if self._perm is None or self._perm[0] != epoch:
            generator = step_generator(self.seed, epoch, EPOCH)
            self._perm = (epoch, torch.randperm(self.data.train.shape[0], generator=generator))
        return self._perm[1][k * self.batch_size:(k + 1) * self.batch_size]

    def loss(self, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        samples = self.samples(step).to(self.data.train.device)
        return self.solver.batch_loss(self.model, self.data.train, self.data.train_params, samples,
                                      step_generator(self.seed, step), step // self.steps_per_epoch)


class OperatorSolver(Solver):
    """Base of operator solvers (see the module docstring for the contract)."""

    kind: ClassVar[SolverKind] = "operator"
    Config: ClassVar[type] = OperatorConfig

    # ---- what a subclass provides ---------------------------------------------------------
    @abc.abstractmethod
    def build_model(self, data: TrajectorySet) -> torch.nn.Module:
        """The network for ``data``'s channels, grid and parameters."""

    @abc.abstractmethod
    def predict(self, model: torch.nn.Module, history: torch.Tensor, frame: int | torch.Tensor,
                params: torch.Tensor) -> torch.Tensor:
        """Normalised history (B, K, C, *space) -> the next H frames (B, H, C, *space)."""

    def criterion(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The training loss of one graded step (default: mean squared error, normalised units)."""
        return (prediction - target).pow(2).mean()

    def extra_metrics(self, prediction: torch.Tensor, truth: torch.Tensor, data: TrajectorySet) -> dict[str, Any]:
        """Metrics added to metrics.json from the held-out rollout (physical units, (B, T, C, *space))."""
        return {}

    # ---- training -------------------------------------------------------------------------
    def stepper(self, model: torch.nn.Module, params: torch.Tensor) -> Stepper:
        """``predict`` with the per-sample parameters bound (normalised units)."""
        return lambda history, frame: self.predict(model, history, frame, params)

    def physical_stepper(self, model: torch.nn.Module, data: TrajectorySet, params: torch.Tensor) -> Stepper:
        """The model as a stepper on physical values, comparable with a numerical reference."""
        inner = self.stepper(model, params)
        return lambda history, frame: data.denormalise(inner(data.normalise(history), frame))

    def batch_loss(self, model: torch.nn.Module, trajectories: torch.Tensor, params: torch.Tensor,
                   samples: torch.Tensor, generator: torch.Generator,
                   epoch: int) -> tuple[torch.Tensor, dict[str, float]]:
        """One graded step on ``samples`` (module docstring); every draw from ``generator``."""
        cfg = self.config
        window, horizon, n_frames = cfg.window, cfg.horizon, trajectories.shape[1]
        n_unroll = unroll_count(generator, epoch, cfg.max_unroll) if cfg.max_unroll else 0
        while n_unroll and max_start(n_frames, window, horizon, n_unroll) < 0:
            n_unroll -= 1
        last = max_start(n_frames, window, horizon, n_unroll)
        if last < 0:
            raise ConfigError(f"{n_frames} frames are too few for window {window} + horizon {horizon}")
        starts = torch.randint(0, last + 1, (len(samples),), generator=generator).to(samples.device)
        history, target, target_frame = window_pairs(trajectories, samples, starts, window, horizon, n_unroll)
        noise = torch.randn(history.shape, generator=generator, dtype=history.dtype) if cfg.noise_std else None
        rows = shard_rows(len(samples))  # this rank's part of the global batch (all of it on one rank)
        history, batch_params = history[rows], params[samples[rows]]
        if n_unroll:
            history = pushforward(self.stepper(model, batch_params), history, n_unroll,
                                  first_frame=starts[rows] + window)
        if noise is not None:
            history = history + cfg.noise_std * noise[rows].to(history.device)
        prediction = gather_rows(self.predict(model, history, target_frame[rows], batch_params), len(samples))
        return self.criterion(prediction, target), {"unroll": float(n_unroll)}

    def callbacks(self, model: torch.nn.Module, data: TrajectorySet) -> list[Callback]:
        """The held-out loss every ``eval_every`` steps (same loss, fixed draws), as ``val_loss``."""
        every = self.config.eval_every
        if not every:
            return []
        samples = torch.arange(data.test.shape[0], device=data.test.device)

        def validate(trainer: Trainer, step: int, logs: dict[str, Any]) -> None:
            if step % every == 0:
                was_training = model.training
                model.eval()
                with torch.no_grad():
                    loss, _ = self.batch_loss(model, data.test, data.test_params, samples,
                                              step_generator(self.context.seed, 0, VALIDATION), 0)
                model.train(was_training)
                logs["val_loss"] = loss.item()

        return [validate]

    # ---- evaluation -----------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module, data: TrajectorySet) -> tuple[xr.Dataset, dict[str, Any]]:
        """Roll out every held-out sample from ``eval_start``; the solution and the metrics."""
        cfg = self.config
        first = cfg.eval_start + cfg.window
        n_steps = cfg.eval_steps or data.n_frames - first
        if first + n_steps > data.n_frames or n_steps < 1:
            raise ConfigError(f"eval_start {cfg.eval_start} + window {cfg.window} + eval_steps {n_steps} exceed the "
                              f"{data.n_frames} frames of the held-out trajectories")
        truth = data.denormalise(data.test)
        history = truth[:, cfg.eval_start:first]
        prediction = rollout(self.physical_stepper(model, data, data.test_params), history, n_steps, first_frame=first)
        truth = truth[:, first:first + n_steps]
        per_step = [rel_l2(prediction[:, k].cpu().numpy(), truth[:, k].cpu().numpy()) for k in range(n_steps)]
        metrics = {"n_train": int(data.train.shape[0]), "n_test": int(data.test.shape[0]), "rollout_steps": n_steps,
                   "rollout_rel_l2_per_step": per_step, **self.extra_metrics(prediction, truth, data)}
        return self.solution(prediction, truth, data, data.t[first:first + n_steps]), metrics

    def solution(self, prediction: torch.Tensor, truth: torch.Tensor, data: TrajectorySet, t: np.ndarray) -> xr.Dataset:
        """(B, T, C, *space) rollouts and truths as a Dataset with dims (sample, t, [y,] x)."""
        dims = ("sample", "t", *data.space_dims)
        variables: dict[str, Any] = {}
        for c, name in enumerate(data.fields):
            variables[name] = (dims, prediction[:, :, c].cpu().double().numpy())
            variables[f"{name}_ref"] = (dims, truth[:, :, c].cpu().double().numpy())
        coords = {"sample": data.test_samples, "t": t, **data.coords}
        return xr.Dataset(variables, coords=coords, attrs={"data": str(data.path)})

    # ---- the run --------------------------------------------------------------------------
    def run(self) -> SolverOutput:
        ctx, cfg = self.context, self.config
        if ctx.data is None:
            raise ConfigError(f"solver {self.name!r} is an operator: give its dataset file with --data FILE "
                              "(make one with 'sciml data generate NAME', see 'sciml list')")
        data = load_trajectories(ctx.data, cfg.data, ctx.device, ctx.dtype, pde=self.pde.name)
        torch.manual_seed(ctx.seed)
        model = to_device_dtype(self.build_model(data), ctx.device, ctx.dtype)
        threads = torch.get_num_threads()
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        try:
            objective = OperatorObjective(self, model, data)
            result = Trainer(model, objective, cfg.train, ctx, self.callbacks(model, data)).fit()
            model.eval()
            solution, metrics = self.evaluate(model, data)
        finally:
            torch.set_num_threads(threads)
        n_params = sum(p.numel() for p in model.parameters())
        status = "budget_exhausted" if result.status == "budget_exhausted" else "success"
        message = f"trained {result.steps} steps in {result.wall_s:.1f} s, final loss {result.final_loss:.3e}"
        metrics.update({"final_loss": result.final_loss, "train_wall_s": result.wall_s,
                        "epochs": result.steps / objective.steps_per_epoch})
        return SolverOutput(solution=solution, steps=result.steps, n_params=n_params, status=status,
                            message=message, metrics=metrics)
