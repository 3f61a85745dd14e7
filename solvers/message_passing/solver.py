"""``message-passing``: the MP-PDE solver (Brandstetter, Worrall & Welling, ICLR 2022) as an operator.

Trains on a dataset file (``--data``, e.g. ``sciml data generate mp-e1``) through the operator
base (:mod:`sciml_core.operator`): bundles of K = 25 frames in and out, the pushforward trick
with the unroll count drawn per batch from {0..min(epoch, max_unroll)}, the loss
``sqrt(sum (u - u_hat)^2)`` of the paper's code; held-out samples are rolled out from frame
``eval_start + K`` (frame 50 by default, as the paper) and scored by the accumulated error
``sum_t sum_x (u - u_hat)^2 / nx`` (``acc_err``).  The graph joins each grid point to the
points within ``neighbours`` grid spacings (a radius graph; ``graph = "knn"``: the
``2 neighbours`` nearest), across the periodic boundary unless ``periodic = false`` (the public
code's graph does not wrap).  Coarse grids come from ``data.x_stride`` with ``data.x_average =
5``: the paper's down-projection of the nx = 200 truth.

Presets: ``quick`` (a smoke run), ``default`` (what a 2-core CPU affords: 3000 steps, about
0.35 s each there, on 512 training trajectories; the benchmark stops it at a wall-clock
budget and records the steps done), ``paper`` (20 epochs of 250 passes over 2048
trajectories, AdamW 1e-4, decay 0.4 every 5 epochs: a GPU run).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
import torch

from sciml_core.data.trajectories import DataConfig, TrajectorySet
from sciml_core.errors import ConfigError, NotImplementedForError
from sciml_core.metrics import accumulated_error
from sciml_core.operator import OperatorConfig, OperatorSolver
from sciml_core.pdes.base import PDE
from sciml_core.registry import register_solver
from sciml_core.train import TrainConfig

from .graph import Graph, knn_graph, radius_graph
from .model import MPPDE


@dataclass
class MPModelConfig:
    """``hidden`` features, ``layers`` processor layers, ``neighbours`` per side, ``graph``
    ``radius`` or ``knn``, ``periodic``: edges across the periodic boundary."""

    hidden: int = 128
    layers: int = 6
    neighbours: int = 3
    graph: Literal["radius", "knn"] = "radius"
    periodic: bool = True

    def validate(self) -> None:
        if min(self.hidden, self.layers, self.neighbours) < 1:
            raise ConfigError("model.hidden, model.layers and model.neighbours must be >= 1")


@dataclass
class MPDataConfig(DataConfig):
    """The data options with the MP-PDE defaults: 128 held-out trajectories, nx = 200 / 2 = 100
    by the paper's down-projection (a subclass, so that a partial ``data`` table keeps them)."""

    n_test: int = 128
    x_stride: int = 2
    x_average: int = 5


@dataclass
class MessagePassingConfig(OperatorConfig):
    """The operator options (window/horizon K, batch, pushforward, evaluation) and ``model``."""

    model: MPModelConfig = field(default_factory=MPModelConfig)
    data: MPDataConfig = field(default_factory=MPDataConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(optimizer="adamw", lr=1e-4, log_every=50))
    window: int = 25
    horizon: int = 25
    batch_size: int = 16
    max_unroll: int = 1
    eval_start: int = 25

    def validate(self) -> None:
        super().validate()
        if self.horizon != self.window:
            raise ConfigError(f"the MP-PDE decoder produces as many frames as it reads: horizon must equal "
                              f"window ({self.window}), got {self.horizon}")


class Network(torch.nn.Module):
    """:class:`MPPDE` bound to its dataset's grid, graph and frame times."""

    def __init__(self, net: MPPDE, x: np.ndarray, t: np.ndarray, graph: Graph, length: float) -> None:
        super().__init__()
        self.net, self.graph, self.length = net, graph, length
        self.dt, self.t_end = float(t[1] - t[0]), float(t[-1])
        self.register_buffer("x", torch.as_tensor(x, dtype=torch.float64))
        self.register_buffer("t", torch.as_tensor(t, dtype=torch.float64))
        self._graphs: dict[tuple[str, torch.dtype], Graph] = {}

    def graph_on(self, device: torch.device, dtype: torch.dtype) -> Graph:
        key = (str(device), dtype)
        if key not in self._graphs:
            self._graphs[key] = self.graph.to(device, dtype)
        return self._graphs[key]

    def forward(self, history: torch.Tensor, frame: int | torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """(B, K, 1, N) -> the next K frames (B, K, 1, N); ``frame``: index of the first one."""
        B = history.shape[0]
        index = torch.as_tensor(frame, device=self.t.device).reshape(-1).expand(B)
        t = (self.t[index] / self.t_end).to(history.dtype)
        graph = self.graph_on(history.device, history.dtype)
        out = self.net(history[:, :, 0].transpose(1, 2), self.x.to(history.dtype), t, params, graph, self.length,
                       self.dt)
        return out.transpose(1, 2)[:, :, None]


@register_solver()
class MessagePassingSolver(OperatorSolver):
    """Message-passing neural PDE solver with temporal bundling and the pushforward trick."""

    name: ClassVar[str] = "message-passing"
    description: ClassVar[str] = "MP-PDE (Brandstetter et al. 2022): graph network, temporal bundling, pushforward"
    Config: ClassVar[type] = MessagePassingConfig
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "quick": {"model": {"hidden": 32, "layers": 2}, "window": 5, "horizon": 5, "eval_start": 0, "batch_size": 4,
                  "data": {"n_test": 2, "x_stride": 1, "x_average": 1},
                  "train": {"adam_steps": 20, "lr": 1e-3, "log_every": 5, "checkpoint_every": 10}},
        "default": {"data": {"n_train": 512}, "eval_every": 500,
                    "train": {"adam_steps": 3000, "lr": 5e-4, "schedule": "step", "decay_steps": 1000,
                              "decay_rate": 0.4, "checkpoint_every": 250}},
        "paper": {"eval_every": 32000,
                  "train": {"adam_steps": 640_000, "lr": 1e-4, "schedule": "step", "decay_steps": 160_000,
                            "decay_rate": 0.4, "checkpoint_every": 8000, "log_every": 500}},
    }

    @classmethod
    def supports(cls, pde: PDE) -> bool:
        return len(pde.domain().dims) == 1

    def __init__(self, pde: PDE, config: Any, context: Any = None) -> None:
        super().__init__(pde, config, context)
        if not self.supports(pde):
            raise NotImplementedForError(f"{self.name} works on 1-D point sets; {pde.name!r} is not 1-D")

    def build_model(self, data: TrajectorySet) -> torch.nn.Module:
        if len(data.fields) != 1:
            raise ConfigError(f"{self.name} models one field; {data.path} gives {len(data.fields)} "
                              "(choose one with data.fields)")
        (dim, x), = data.coords.items()
        dom = self.pde.domain()
        periodic = self.config.model.periodic and dim in dom.periodic
        length = dom.length(dim)
        cfg = self.config.model
        dx = float(np.min(np.diff(np.sort(x))))
        period = length if periodic else None
        graph = radius_graph(x, cfg.neighbours * dx * (1 + 1e-6), period) if cfg.graph == "radius" else \
            knn_graph(x, 2 * cfg.neighbours, period)
        net = MPPDE(self.config.window, len(data.param_names), cfg.hidden, cfg.layers)
        return Network(net, x, data.t, graph, length)

    def predict(self, model: torch.nn.Module, history: torch.Tensor, frame: int | torch.Tensor,
                params: torch.Tensor) -> torch.Tensor:
        return model(history, frame, params)

    def criterion(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The public code's loss: sqrt of the summed squared error of the batch."""
        return (prediction - target).pow(2).sum().sqrt()

    def extra_metrics(self, prediction: torch.Tensor, truth: torch.Tensor, data: TrajectorySet) -> dict[str, Any]:
        pred, ref = prediction[:, :, 0].cpu().double().numpy(), truth[:, :, 0].cpu().double().numpy()
        return {"acc_err": accumulated_error(pred, ref), "nx": int(pred.shape[-1])}
