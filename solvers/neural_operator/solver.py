"""``fno`` and ``stable-fno``: autoregressive neural operators on a dataset file (``--data``).

Both are :class:`~sciml_core.operator.OperatorSolver` subclasses: the base trains them
(one-step or bundled targets, ``max_unroll`` pushforward, ``noise_std`` input noise, the
file's training statistics for normalisation) and rolls them out on the held-out samples;
this module adds the model, the residual target and the long-rollout evaluation
(:mod:`.evaluation`).  The network sees the last ``window`` frames of every field as
channels (plus per-sample parameters as constant channels) and produces ``horizon`` frames:

    u_{t+j} = u_t + d_j * net(u_{t-K+1..t})_j     (``residual = true``; else u_{t+j} = net(...)_j)

with ``d_j`` the training data's standard deviation of ``u_{t+j} - u_t`` per field, so the
network's outputs are O(1) whatever the time step.  neuraloperator 2.0's SpectralConv
allocates its spectrum as complex64, so both models run in float32 (``--dtype float64`` is
refused with that reason).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
import xarray as xr
from torch import nn

from sciml_core.data.trajectories import TrajectorySet
from sciml_core.errors import ConfigError
from sciml_core.metrics import one_step_rel_l2
from sciml_core.operator import OperatorConfig, OperatorSolver
from sciml_core.registry import register_solver

from .evaluation import LongRolloutConfig, long_rollout_metrics
from .configs import FNOConfig, StableFNOConfig


class AutoregressiveNet(nn.Module):
    """A spatial network as a stepper: history (B, K, C, *space), params (B, P) -> (B, H, C, *space)."""

    def __init__(self, net: nn.Module, horizon: int, delta_std: torch.Tensor | None,
                 output_filter: nn.Module | None = None) -> None:
        super().__init__()
        self.net, self.horizon, self.output_filter = net, horizon, output_filter
        self.residual = delta_std is not None
        self.register_buffer("delta_std", delta_std if delta_std is not None else torch.ones(1))

    def forward(self, history: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        b, k, c, *space = history.shape
        x = history.reshape(b, k * c, *space)
        if params.shape[1]:
            x = torch.cat([x, params.reshape(b, -1, *([1] * len(space))).expand(b, -1, *space)], dim=1)
        y = self.net(x).reshape(b, self.horizon, c, *space)
        if self.residual:
            y = history[:, -1:] + self.delta_std.reshape(1, self.horizon, c, *([1] * len(space))) * y
        if self.output_filter is not None:
            y = self.output_filter(y.reshape(b, self.horizon * c, *space)).reshape(y.shape)
        return y


def increment_std(train: torch.Tensor, horizon: int) -> torch.Tensor:
    """(H, C): std of ``u_{t+j} - u_t`` (j = 1..H) per channel over the training trajectories."""
    axes = [0, 1, *range(3, train.ndim)]
    rows = [(train[:, j:] - train[:, :-j]).std(dim=axes) for j in range(1, horizon + 1)]
    return torch.stack(rows).clamp_min(1e-12)


@dataclass
class NeuralOperatorConfig(OperatorConfig):
    """Operator options (see :class:`~sciml_core.operator.OperatorConfig`) plus ``residual``
    (predict increments scaled by the data's increment std) and ``long`` (long-rollout
    evaluation, :class:`~.evaluation.LongRolloutConfig`)."""

    residual: bool = True
    long: LongRolloutConfig = field(default_factory=LongRolloutConfig)


@dataclass
class FNOSolverConfig(NeuralOperatorConfig):
    model: FNOConfig = field(default_factory=FNOConfig)


@dataclass
class StableFNOSolverConfig(NeuralOperatorConfig):
    model: StableFNOConfig = field(default_factory=StableFNOConfig)


# Presets: ``quick`` is a smoke test; ``default`` the CPU scale of benchmarks/stable_vs_vanilla_fno.py
# (KS L = 22: 64 trajectories of 201 frames, 2000 AdamW steps at lr 3e-3: after 300 steps on KS the
# one-step rel L2 was 1.5e-3 (fno) and 1.2e-2 (stable-fno) at 3e-3, 2.6e-3 and 1.7e-2 at 1e-3);
# ``paper`` a GPU scale.  CPU presets
# use one torch thread: on a shared 2-core machine a 2-thread 1x1 convolution ran 55x slower than
# a 1-thread one (3.5 vs 0.064 ms, load average 7.5), OpenMP workers waiting for busy cores.
_QUICK = {"train": {"adam_steps": 20, "log_every": 5, "checkpoint_every": 10}, "batch_size": 4, "threads": 1,
          "data": {"n_test": 2}, "model": {"width": 8, "n_modes": 8, "n_layers": 2}}
_DEFAULT = {"train": {"adam_steps": 2000, "lr": 3e-3, "schedule": "cosine", "optimizer": "adamw",
                      "weight_decay": 1e-4, "log_every": 50, "checkpoint_every": 500}, "batch_size": 32,
            "eval_every": 250, "threads": 1}
_PAPER = {"train": {"adam_steps": 50000, "lr": 1e-3, "schedule": "cosine", "optimizer": "adamw",
                    "weight_decay": 1e-4, "log_every": 100, "checkpoint_every": 2000}, "batch_size": 64,
          "eval_every": 1000, "max_unroll": 2}
_PDE_PRESETS = {
    "kuramoto-sivashinsky": {"default": {"long": {"steps": 10000, "truth_steps": 2000}},
                             "paper": {"long": {"steps": 20000, "truth_steps": 4000}}},
    "navier-stokes-2d": {"default": {"batch_size": 8, "long": {"steps": 2000, "truth_steps": 200, "chunk": 200}},
                         "paper": {"long": {"steps": 10000, "truth_steps": 500, "chunk": 200}}},
    "reaction-diffusion": {"default": {"batch_size": 8, "long": {"steps": 2000, "truth_steps": 200, "chunk": 200}},
                           "paper": {"long": {"steps": 10000, "truth_steps": 500, "chunk": 200}}},
}


class NeuralOperatorSolver(OperatorSolver):
    """Shared by ``fno`` and ``stable-fno``: the model comes from ``model_name``."""

    model_name: ClassVar[str] = ""
    presets: ClassVar[dict[str, dict[str, Any]]] = {"quick": _QUICK, "default": _DEFAULT, "paper": _PAPER}
    pde_presets: ClassVar[dict[str, dict[str, dict[str, Any]]]] = _PDE_PRESETS

    def build_model(self, data: TrajectorySet) -> nn.Module:
        if self.context.dtype != torch.float32:
            raise ConfigError(f"{self.name} runs in float32 only: neuraloperator 2.0's SpectralConv computes its "
                              "spectrum in complex64 (use --dtype float32)")
        from .models import OutputFilter, build_model

        cfg = self.config
        channels = len(data.fields)
        net = build_model(self.model_name, cfg.model, cfg.window * channels + len(data.param_names),
                          cfg.horizon * channels, len(data.space_dims))
        grid = [len(c) for c in data.coords.values()]
        out_filter = None
        if getattr(cfg.model, "output_filter", False):
            out_filter = OutputFilter(cfg.horizon * channels, grid)
            out_filter.fit(data.train, cfg.horizon)
        return AutoregressiveNet(net, cfg.horizon, increment_std(data.train, cfg.horizon) if cfg.residual else None,
                                 out_filter)

    def predict(self, model: nn.Module, history: torch.Tensor, frame: int | torch.Tensor,
                params: torch.Tensor) -> torch.Tensor:
        return model(history, params)

    def one_step_error(self, model: nn.Module, data: TrajectorySet, batch: int = 64) -> float:
        """:func:`~sciml_core.metrics.one_step_rel_l2` over every (history, next frame) pair of the
        held-out trajectories, physical units."""
        k = self.config.window
        starts = range(data.n_frames - k)
        preds, targets = [], []
        for s in starts:
            history = data.test[:, s:s + k]
            for lo in range(0, history.shape[0], batch):
                part = slice(lo, lo + batch)
                pred = self.predict(model, history[part], s + k, data.test_params[part])[:, :1]
                preds.append(data.denormalise(pred)[:, 0].double().cpu())
                targets.append(data.denormalise(data.test[part, s + k:s + k + 1])[:, 0].double().cpu())
        return one_step_rel_l2(torch.cat(preds).numpy(), torch.cat(targets).numpy())

    @torch.no_grad()
    def evaluate(self, model: nn.Module, data: TrajectorySet) -> tuple[xr.Dataset, dict[str, Any]]:
        from torch.nn.utils import parametrize

        with parametrize.cached():  # the spectral norms are computed once, not at every rollout step
            return self._evaluate(model, data)

    def _evaluate(self, model: nn.Module, data: TrajectorySet) -> tuple[xr.Dataset, dict[str, Any]]:
        from .models import n_params

        solution, metrics = super().evaluate(model, data)
        metrics["params"] = n_params(model)  # real parameters (complex count twice), output filter included
        metrics["one_step_rel_l2"] = self.one_step_error(model, data)
        long_cfg = self.config.long
        if long_cfg.steps:
            stepper = self.physical_stepper(model, data, data.test_params)
            long = long_rollout_metrics(stepper, data, long_cfg, self.config.window, metrics["one_step_rel_l2"])
            metrics["long"] = long
            for key in ("valid_steps", "chaos_valid_steps", "blowup_step", "spectrum_log_err"):
                if key in long:
                    metrics[key] = long[key]
            if self.context.run is not None:
                from .plots import plot_long_rollout

                plot_long_rollout(long, self.context.run.plots, f"{self.name} on {data.path.name}")
        return solution, metrics


@register_solver()
class FNOSolver(NeuralOperatorSolver):
    """neuraloperator's FNO, unchanged, as an autoregressive stepper."""

    name: ClassVar[str] = "fno"
    description: ClassVar[str] = "Fourier neural operator (neuraloperator FNO as is), autoregressive"
    Config: ClassVar[type] = FNOSolverConfig
    model_name: ClassVar[str] = "fno"


@register_solver()
class StableFNOSolver(NeuralOperatorSolver):
    """The stabilised FNO of McCabe et al. (2023); every stabiliser a ``model.`` switch."""

    name: ClassVar[str] = "stable-fno"
    description: ClassVar[str] = "stabilised FNO (McCabe et al. 2023): bounded radial spectral filter, spectral norm"
    Config: ClassVar[type] = StableFNOSolverConfig
    model_name: ClassVar[str] = "stable-fno"
