"""``causal-pinn``: causal training (Wang, Sankaran, Perdikaris, "Respecting causality is all
you need for training physics-informed neural networks", 2022).

The window's collocation points are ordered in time and split into ``n_chunks`` chunks with
mean squared residuals L_1..L_N.  The loss is

    L = (1/N) sum_i w_i L_i,    w_i = exp(-eps * (sum_{k<i} L_k [+ lambda_ic L_ic]))    (w held out of the gradient),

so later times are only fitted once earlier ones are (the bracket: ``initial_in_weights``, as
the published KS and Navier-Stokes scripts do).  Training runs through the *stages*
(window, eps) in order, window by window and, within a window, along ``eps_schedule``.  A
stage ends when min_i w_i > ``delta`` at a check (every ``check_every`` Adam steps of the
stage) or after ``max_steps_per_eps`` steps; a window also ends after ``window_steps`` steps;
the next window is initialised from the previous window's end state (:mod:`.marching`).  After
the last stage the schedule is done (with ``stop_on_convergence`` training stops, the
published rule; else it goes on at the last eps).  L-BFGS, after Adam, keeps one set of
weights for its whole phase, so its line search and gradient see the same objective.  eps,
min w and the weights go to history.jsonl and ``plots/causal_weights.png``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from sciml_core.errors import ConfigError
from sciml_core.registry import register_solver
from sciml_core.train.trainer import Callback, TrainResult

from .base import PINNConfig, PINNObjective, PINNSolver
from .marching import MarchingNetwork


@dataclass
class CausalConfig:
    """Causal weighting and time marching (see the module docstring).  ``window_steps = 0``
    splits ``train.adam_steps`` evenly over the windows; ``max_steps_per_eps``: the step cap of
    one (window, eps) stage (200k in the published KS scripts); ``restart_schedule``: the
    learning-rate schedule starts again in every window (else it runs on over the whole
    training); ``warm_start``: window k starts from window k-1's weights (else from the
    initial weights that every window shares, as the published scripts re-initialise);
    ``initial_in_weights``: the weighted soft IC loss enters every exponent."""

    n_chunks: int = 32
    eps_schedule: list[float] = field(default_factory=lambda: [1e-2, 1e-1, 1.0, 10.0, 100.0])
    delta: float = 0.99
    check_every: int = 200
    max_steps_per_eps: int = 200_000
    windows: int = 1
    window_steps: int = 0
    stop_on_convergence: bool = False
    restart_schedule: bool = False
    warm_start: bool = True
    initial_in_weights: bool = False

    def validate(self) -> None:
        if min(self.n_chunks, self.windows, self.check_every, self.max_steps_per_eps) < 1:
            raise ConfigError("causal.n_chunks, causal.windows, causal.check_every and causal.max_steps_per_eps "
                              "must be >= 1")
        if not self.eps_schedule or any(not e > 0 for e in self.eps_schedule):
            raise ConfigError(f"causal.eps_schedule must be a non-empty list of positive values, got {self.eps_schedule}")
        if not 0 < self.delta < 1:
            raise ConfigError(f"causal.delta must be in (0, 1), got {self.delta}")


@dataclass
class CausalPINNConfig(PINNConfig):
    causal: CausalConfig = field(default_factory=CausalConfig)

    def validate(self) -> None:
        super().validate()
        if self.sampling.n_residual % self.causal.n_chunks:
            raise ConfigError(f"sampling.n_residual ({self.sampling.n_residual}) must be a multiple of "
                              f"causal.n_chunks ({self.causal.n_chunks})")
        if self.causal.windows > 1 and self.constraints.initial == "hard" and self.derivatives != "jet":
            raise ConfigError("causal.windows > 1 with constraints.initial = 'hard' needs derivatives = 'jet' "
                              "(the previous window's end state enters as a jet)")
        if self.causal.initial_in_weights and self.constraints.initial != "soft":
            raise ConfigError("causal.initial_in_weights needs constraints.initial = 'soft' (an initial loss)")


def causal_weights(chunk_losses: torch.Tensor, eps: float, offset: float | torch.Tensor = 0.0) -> torch.Tensor:
    """w_i = exp(-eps * (sum_{k<i} L_k + offset)), detached from the graph."""
    losses = chunk_losses.detach()
    return torch.exp(-eps * (torch.cumsum(losses, 0) - losses + offset))


class CausalObjective(PINNObjective):
    """Causally weighted residual loss, run through the (window, eps) stages (module docstring)."""

    def __init__(self, pde: Any, network: MarchingNetwork, config: CausalPINNConfig, device: torch.device,
                 dtype: torch.dtype, seed: int) -> None:
        self.marching, self.causal = network, config.causal
        #: the stages in training order: (window, eps index)
        self.stages = [(w, e) for w in range(self.causal.windows) for e in range(len(self.causal.eps_schedule))]
        self.stage, self.stage_start, self.window_start = 0, 0, 0
        self.checked_at, self.min_w, self.finished = -1, 0.0, False
        self.lbfgs_weights: torch.Tensor | None = None
        self.window_steps = self.causal.window_steps or max(1, config.train.adam_steps // self.causal.windows)
        super().__init__(pde, network.nets[0], config, device, dtype, seed)

    @property
    def window(self) -> int:
        return self.stages[self.stage][0]

    @property
    def eps_index(self) -> int:
        return self.stages[self.stage][1]

    @property
    def eps(self) -> float:
        return self.causal.eps_schedule[self.eps_index]

    @property
    def schedule_start(self) -> int:
        """Where the trainer's lr schedule counts from: the window's first step with
        ``causal.restart_schedule``, else 0."""
        return self.window_start if self.causal.restart_schedule else 0

    def time_range(self) -> tuple[float, float]:
        return self.marching.nets[self.window].t_range

    def build_points(self) -> None:
        self.network = self.marching.nets[self.window]
        super().build_points()
        n, chunks = len(self.residual_points["t"]), self.causal.n_chunks
        if n % chunks:
            raise ConfigError(f"sampling.method = {self.config.sampling.method!r} placed {n} collocation points, not a "
                              f"multiple of causal.n_chunks ({chunks}); set sampling.grid_shape (t first) so that its "
                              "product is a multiple")
        self._order = torch.argsort(self.residual_points["t"].reshape(-1))

    def _advance(self, step: int) -> None:
        """Move through the stages at Adam step boundaries (idempotent within a step)."""
        if step == self.checked_at or step >= self.config.train.adam_steps or self.finished:
            return
        self.checked_at = step
        in_stage = step - self.stage_start
        converged = in_stage > 0 and in_stage % self.causal.check_every == 0 and self.min_w > self.causal.delta
        if converged or in_stage >= self.causal.max_steps_per_eps:
            self._enter(self.stage + 1, step)
        elif step - self.window_start >= self.window_steps and self.window < self.causal.windows - 1:
            self._enter((self.window + 1) * len(self.causal.eps_schedule), step)

    def _enter(self, stage: int, step: int) -> None:
        """Start ``stage`` at ``step``; past the last one the schedule is done (it stays there)."""
        if stage == len(self.stages):
            self.finished = True
            return
        window = self.window
        self.stage, self.stage_start = stage, step
        if self.window != window:
            self.window_start = step
            if self.causal.warm_start:
                self.marching.warm_start(self.window)
            self.build_points()

    def loss(self, step: int) -> tuple[torch.Tensor, dict[str, Any]]:
        self._advance(step)
        return super().loss(step)

    def residual_loss(self, residuals: dict[str, torch.Tensor], coords: dict[str, torch.Tensor], step: int,
                      soft: dict[str, torch.Tensor] | None = None) -> tuple[torch.Tensor, dict[str, Any]]:
        sq = sum(r.reshape(-1).pow(2) for r in residuals.values())
        chunks = sq[self._order].reshape(self.causal.n_chunks, -1).mean(dim=1)
        offset = self.balancer.weights["initial"] * soft["initial"].detach() \
            if self.causal.initial_in_weights and soft and "initial" in soft else 0.0
        w = causal_weights(chunks, self.eps, offset)
        self.min_w = float(w.min())
        logs = {"eps": self.eps, "min_w": self.min_w, "window": self.window,
                "causal_w": [round(v, 5) for v in w.tolist()]}
        if step >= self.config.train.adam_steps:  # L-BFGS: the weights of its first evaluation, for the whole phase
            if self.lbfgs_weights is None:
                self.lbfgs_weights = w
            w = self.lbfgs_weights
        return (w * chunks).mean(), logs

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "stage": self.stage, "stage_start": self.stage_start,
                "window_start": self.window_start, "checked_at": self.checked_at, "min_w": self.min_w,
                "finished": self.finished, "lbfgs_weights": self.lbfgs_weights}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.stage, self.stage_start, self.window_start = state["stage"], state["stage_start"], state["window_start"]
        self.checked_at, self.min_w, self.finished = state["checked_at"], state["min_w"], state["finished"]
        self.lbfgs_weights = state["lbfgs_weights"]
        super().load_state_dict(state)


@register_solver()
class CausalPINN(PINNSolver):
    """Causal PINN: causally weighted residual, eps schedule, time marching, hard IC."""

    name = "causal-pinn"
    description = "causal PINN (Wang, Sankaran & Perdikaris 2022): causal weights, eps schedule, time marching"
    Config = CausalPINNConfig
    objective_class = CausalObjective
    presets: dict[str, dict[str, Any]] = {}  # set below the class, with ``pde_presets``
    pde_presets: dict[str, dict[str, dict[str, Any]]] = {}

    def build_network(self) -> torch.nn.Module:
        cfg = self.config
        return MarchingNetwork(self.pde, cfg.model, cfg.constraints, cfg.causal.windows, cfg.jet_engine)

    def callbacks(self, objective: CausalObjective) -> list[Callback]:  # type: ignore[override]
        stop = self.config.causal.stop_on_convergence

        def schedule(trainer: Any, step: int, logs: dict[str, Any]) -> bool:
            objective._advance(step)  # the next step's stage, so that training stops after the last one
            return stop and objective.finished

        return [*super().callbacks(objective), schedule]

    def after_training(self, objective: CausalObjective, result: TrainResult) -> dict[str, Any]:  # type: ignore[override]
        if self.context.run is not None:
            from .plots import plot_causal

            plot_causal(self.context.run.read_history(), self.context.run.plots / "causal_weights.png")
        return {"causal_eps": objective.eps, "causal_min_w": objective.min_w, "causal_window": objective.window,
                "causal_converged": objective.eps_index >= len(self.config.causal.eps_schedule) - 1
                and objective.min_w > self.config.causal.delta}



_COMMON = {"model": {"arch": "modified", "periodic_modes": 1}, "constraints": {"initial": "hard", "boundary": "hard"},
           "threads": 1}
CausalPINN.presets = {
    "quick": {**_COMMON, "model": {**_COMMON["model"], "width": 32, "depth": 3},
              "sampling": {"n_residual": 1024, "resample_every": 1, "method": "random"},
              "causal": {"n_chunks": 16, "check_every": 50},
              "train": {"adam_steps": 300, "lbfgs_steps": 0, "log_every": 10, "checkpoint_every": 100}},
    "default": {**_COMMON, "model": {**_COMMON["model"], "width": 64, "depth": 4},
                "sampling": {"n_residual": 2048, "resample_every": 1, "method": "random"},
                "train": {"adam_steps": 20000, "lbfgs_steps": 0, "log_every": 50, "checkpoint_every": 1000}},
    "paper": {**_COMMON, "model": {**_COMMON["model"], "width": 128, "depth": 4, "periodic_modes": 10},
              "sampling": {"n_residual": 2048, "resample_every": 1, "method": "random"},
              "causal": {"eps_schedule": [100.0], "n_chunks": 32},
              "train": {"adam_steps": 300000, "schedule": "exponential", "decay_rate": 0.9, "decay_steps": 5000,
                        "log_every": 100, "checkpoint_every": 5000}},
}
#: Per-PDE refinements of the presets (merged over ``presets`` by ``sciml_core.solve``).  The
#: ``default`` s are CPU setups that differ from the published ones (smaller networks, fewer
#: steps, an exact initial condition); ``paper`` is the published setup item by item
#: (Wang, Sankaran & Perdikaris 2022 and their scripts; docs/pinn.md has the paper / ours table).
CausalPINN.pde_presets = {
    "allen-cahn": {
        # CPU: modified MLP 4 x 64 + RWF, one periodic mode, exact IC, 2048 random points in 32
        # chunks, eps 1e-2 -> 100, 30k steps
        "default": {"model": {"factorize": True},
                    "train": {"adam_steps": 30000, "schedule": "exponential", "decay_rate": 0.9, "decay_steps": 2000}},
        # published: tanh MLP 4 x 128 on [t, cos(k pi x), sin(k pi x)], k <= 10; the fixed 100 (t) x
        # 256 (x) grid, one chunk per time; IC in the loss with weight 100; eps = 100 throughout;
        # 300k Adam steps, lr 1e-3 x 0.9 every 5000
        "paper": {"model": {"arch": "mlp", "width": 128, "depth": 4, "periodic_modes": 10},
                  "constraints": {"initial": "soft", "boundary": "soft"}, "weights": {"initial": 100.0},
                  "sampling": {"method": "grid", "n_residual": 25600, "grid_shape": [100, 256], "resample_every": 0,
                               "n_initial": 512},
                  "causal": {"eps_schedule": [100.0], "n_chunks": 100, "check_every": 1000,
                             "max_steps_per_eps": 300000}}},
    "burgers": {
        # CPU (the causal-PINN paper has no Burgers case): modified MLP 4 x 32, exact IC and walls,
        # 8192 Sobol points in 16 chunks, eps 1 -> 100, Adam 500 then L-BFGS 1000
        "default": {"model": {"width": 32, "depth": 4}, "sampling": {"n_residual": 8192, "method": "sobol"},
                    "causal": {"n_chunks": 16, "eps_schedule": [1.0, 10.0, 100.0]},
                    "train": {"adam_steps": 500, "lbfgs_steps": 1000, "lbfgs_history": 100, "log_every": 20}}},
    "kuramoto-sivashinsky": {
        # CPU: modified MLP 3 x 64 + RWF, one periodic mode, exact IC, 10 windows of 2000 steps
        # (the eps schedule rarely completes in a window), lr decaying over the whole run
        "default": {"model": {"width": 64, "depth": 3, "factorize": True}, "causal": {"windows": 10},
                    "train": {"adam_steps": 20000, "schedule": "exponential", "decay_rate": 0.9, "decay_steps": 2000,
                              "log_every": 50}},
        # published (KS/regular_KS.py): modified MLP 3 x 256 on [t, cos(k pi x), sin(k pi x)],
        # k <= 5; 10 windows of 0.1, each re-initialised, its own lr schedule (1e-3 x 0.9 every
        # 5000); per window eps 1e-2 -> 100, each eps until min w > 0.99 (checked every 1000
        # steps) or 200k steps; 32 x 64 points per step; soft IC with weight 1e3, also inside
        # every causal exponent; training ends after the last window's last eps
        "paper": {"model": {"width": 256, "depth": 3, "periodic_modes": 5},
                  "constraints": {"initial": "soft", "boundary": "soft"}, "weights": {"initial": 1000.0},
                  "sampling": {"n_initial": 512},
                  "causal": {"windows": 10, "eps_schedule": [1e-2, 1e-1, 1.0, 10.0, 100.0], "n_chunks": 32,
                             "check_every": 1000, "max_steps_per_eps": 200000, "restart_schedule": True,
                             "warm_start": False, "initial_in_weights": True, "stop_on_convergence": True},
                  "train": {"adam_steps": 10_000_000}}},
}
