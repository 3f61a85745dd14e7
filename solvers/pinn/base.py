"""What every PINN variant shares: the config, the objective and the solver skeleton.

    loss = w_r mean(r(u_theta)^2) + w_i mean((u_theta(t0, x) - u0)^2) + w_b (BC misfit)

with the initial / boundary terms dropped when they are hard constraints of the network
(:mod:`.network`), collocation from :mod:`.sampling` (resampling, R3), optional gradient-norm
balancing (:mod:`.balancing`), derivatives from the forward-mode jet engine or reverse mode,
training through :class:`sciml_core.train.Trainer` (Adam then L-BFGS, budget, resume) and
evaluation on the reference's own grid (:mod:`.reference`).

Under several ranks (torchrun) every rank draws the same global collocation set, evaluates the
residuals of its contiguous share of the points and gathers everyone's residuals
(:mod:`sciml_core.train.distributed`), so the loss terms and any variant's reweighting see the
one-rank residuals; the soft IC/BC points are few and every rank evaluates them all.

A variant overrides :meth:`PINNObjective.residual_loss` (e.g. causal weighting),
:meth:`PINNSolver.build_network` or :meth:`PINNSolver.callbacks`; the registered class only
declares its name, config and presets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
import xarray as xr

from sciml_core.errors import ConfigError
from sciml_core.metrics import solution_rel_l2
from sciml_core.nn import AutogradDerivatives, JetDerivatives, jet_kernels, required_orders
from sciml_core.nn.jet import Engine
from sciml_core.pdes.base import PDE
from sciml_core.solver import Solver, SolverOutput
from sciml_core.train import TrainConfig, Trainer
from sciml_core.train.distributed import gather_rows, shard_rows
from sciml_core.train.trainer import Callback, TrainResult

from .balancing import BalancingConfig, GradNormBalancer
from .network import ConstraintsConfig, FieldNetwork, ModelConfig
from .reference import grid_points, reference
from .sampling import SamplingConfig, r3_update, sample_unit


@dataclass
class LossWeights:
    residual: float = 1.0
    initial: float = 1.0
    boundary: float = 1.0


@dataclass
class PINNConfig:
    """``derivatives``: ``jet`` (forward-mode Taylor jets, default) or ``autograd`` (reverse mode);
    ``jet_engine``: what runs the jet rules, ``auto`` (the compiled CPU kernels where numba is
    installed and the tensors are CPU float32/float64, else the tensor rules), ``compiled`` or
    ``tensor`` (:func:`sciml_core.nn.jet.use_compiled`);
    ``threads``: torch intra-op threads while training (0: leave torch's setting; small PINNs
    run fastest on one thread); ``eval_every``: every so many steps, the rel L2 error against
    the reference goes to history.jsonl as ``rel_l2`` (0: off), the learning curve that
    ``plots/loss.png`` then shows."""

    model: ModelConfig = field(default_factory=ModelConfig)
    constraints: ConstraintsConfig = field(default_factory=ConstraintsConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    weights: LossWeights = field(default_factory=LossWeights)
    balancing: BalancingConfig = field(default_factory=BalancingConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    derivatives: Literal["jet", "autograd"] = "jet"
    jet_engine: Engine = "auto"
    threads: int = 0
    eval_every: int = 0

    def validate(self) -> None:
        if self.threads < 0 or self.eval_every < 0:
            raise ConfigError(f"threads and eval_every must be >= 0, got {self.threads}, {self.eval_every}")
        if self.jet_engine == "compiled" and jet_kernels.numba is None:
            raise ConfigError("jet_engine = 'compiled' needs numba: pip install sciml[fast] (or jet_engine = 'auto')")
        if self.derivatives == "jet" and self.model.activation not in ("tanh", "sin"):
            raise ConfigError(f"derivatives = 'jet' supports model.activation tanh or sin, got {self.model.activation!r}")
        if self.train.amp != "none":
            raise ConfigError("train.amp: PINNs cannot train under bf16 autocast: the residual takes high-order "
                              "derivatives of the network, which 8 significant bits do not resolve (use float32 "
                              "or float64, train.amp=none)")
        if self.train.compile:
            raise ConfigError("train.compile: PINNs cannot use torch.compile: the residual differentiates the "
                              "network to high order (Taylor jets, or nested autograd, which torch.compile does "
                              "not support); the jet engine has compiled CPU kernels of its own (train.compile=false)")


class PINNObjective:
    """The PINN loss on one network over the time interval :meth:`time_range` (module docstring)."""

    def __init__(self, pde: PDE, network: FieldNetwork, config: PINNConfig, device: torch.device,
                 dtype: torch.dtype, seed: int) -> None:
        self.pde, self.network, self.config = pde, network, config
        self.device, self.dtype, self.seed = device, dtype, seed
        self.domain = pde.domain()
        self.dims = ("t", *self.domain.dims)
        self.orders = required_orders(pde.residual, self.dims)
        w = config.weights
        self.balancer = GradNormBalancer(config.balancing, {"residual": w.residual, "initial": w.initial,
                                                            "boundary": w.boundary})
        shape = config.sampling.grid_shape
        if shape and len(shape) != len(self.dims):
            raise ConfigError(f"sampling.grid_shape {shape} needs one count per coordinate ({', '.join(self.dims)})")
        self.population = np.zeros((0, len(self.dims)))
        self.points_index = -1
        self._last_sq: np.ndarray | None = None
        self.resample(0)

    # ---- points ---------------------------------------------------------------------------
    def time_range(self) -> tuple[float, float]:
        return self.domain.t

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(array, dtype=self.dtype, device=self.device)

    def _to_domain(self, unit: np.ndarray, dims: Sequence[str]) -> dict[str, torch.Tensor]:
        out = {}
        for i, d in enumerate(dims):
            lo, hi = self.time_range() if d == "t" else self.domain.bounds[d]
            out[d] = self._tensor(lo + (hi - lo) * unit[:, i : i + 1])
        return out

    def resample(self, index: int) -> None:
        """Draw collocation set ``index`` (R3: retain the high-residual part of the last set)."""
        cfg = self.config.sampling
        fresh = sample_unit(cfg.n_residual, len(self.dims), cfg.method, self.seed, 3 * index, cfg.grid_shape)
        if cfg.adaptive == "r3" and index > 0 and self._last_sq is not None:
            self.population = r3_update(self.population, self._last_sq, fresh)
        else:
            self.population = fresh
        self.points_index = index
        self.build_points()

    def build_points(self) -> None:
        """Map the unit population and the IC/BC draws onto the current time range."""
        cfg, index, spatial = self.config.sampling, self.points_index, self.domain.dims
        self.residual_points = self._to_domain(self.population, self.dims)
        rows = shard_rows(len(self.population))  # this rank's residual points (all of them on one rank)
        self._local_points = {d: v[rows] for d, v in self.residual_points.items()}
        ic = sample_unit(cfg.n_initial, len(spatial), cfg.method, self.seed, 3 * index + 1)
        self.initial_points = self._to_domain(ic, spatial)
        self.initial_points["t"] = torch.full_like(self.initial_points[spatial[0]], self.time_range()[0])
        bc = sample_unit(cfg.n_boundary, len(self.dims), cfg.method, self.seed, 3 * index + 2)
        self.boundary_points = self._to_domain(bc, self.dims)
        self._build_soft_terms()
        # with jets, the soft points ride along in the residual points' pass (their derivative
        # slots are computed and dropped): one network evaluation a step, as DeepXDE does
        soft = self._soft_points
        self._joint_points = {d: torch.cat([self._local_points[d], soft[d]]) for d in self.dims} \
            if soft is not None and self.config.derivatives == "jet" else None

    def _face(self, dim: str, value: float) -> dict[str, torch.Tensor]:
        """The boundary points moved onto the face ``dim = value``."""
        coords = dict(self.boundary_points)
        coords[dim] = torch.full_like(coords["t"], value)
        return coords

    def _build_soft_terms(self) -> None:
        """Points and targets of the soft initial and Dirichlet terms (one group per face), so
        that every step evaluates them in a single forward pass, and the face pairs of periodic
        dims that lack an exact periodic embedding."""
        dom, groups = self.domain, []
        if not self.network.hard_initial:
            spatial = {d: self.initial_points[d] for d in dom.dims}
            target = {f: j.value.detach() for f, j in self.network.initial_fn(spatial, {}).items()}
            groups.append(("initial", self.initial_points, target))
        if not self.network.hard_boundary:
            for dim in (d for d in dom.dims if d not in dom.periodic):
                for value in dom.bounds[dim]:
                    coords = self._face(dim, value)
                    target = self.pde.boundary_value(coords["t"], **{d: coords[d] for d in dom.dims})
                    groups.append(("boundary", coords, {f: torch.as_tensor(target[f], dtype=self.dtype,
                                                                              device=self.device) for f in self.pde.fields}))
        self._soft_points = {d: torch.cat([c[d] for _, c, _ in groups]) for d in self.dims} if groups else None
        self._soft_targets = {f: torch.cat([target[f] for _, _, target in groups]) for f in self.pde.fields} \
            if groups else {}
        # row r of the averaging matrix: 1 / n_g on the points of every group g of term r, so that
        # (matrix @ squared misfit) is the sum over that term's groups of their mean squares
        self._soft_names = list(dict.fromkeys(name for name, _, _ in groups))
        average = torch.zeros(len(self._soft_names), sum(len(c["t"]) for _, c, _ in groups), dtype=self.dtype,
                              device=self.device)
        start = 0
        for name, coords, _ in groups:
            n = len(coords["t"])
            average[self._soft_names.index(name), start : start + n] = 1.0 / n
            start += n
        self._soft_average = average
        embedded = self.config.model.periodic_modes > 0
        self._periodic_faces = [] if embedded else [(dim, *(self._face(dim, v) for v in dom.bounds[dim]))
                                                    for dim in dom.periodic]

    # ---- loss terms -------------------------------------------------------------------------
    def derivatives(self, coords: dict[str, torch.Tensor], orders: dict[str, int] | None = None) -> AutogradDerivatives:
        """The fields and their derivatives at ``coords`` (jets: the pure derivatives ``orders``,
        by default those the residual needs)."""
        if self.config.derivatives == "jet":
            return JetDerivatives(self.network.jet, coords, self.orders if orders is None else orders)
        return AutogradDerivatives(self.network, coords)

    def residual_loss(self, residuals: dict[str, torch.Tensor], coords: dict[str, torch.Tensor], step: int,
                      soft: dict[str, torch.Tensor] | None = None) -> tuple[torch.Tensor, dict[str, Any]]:
        """Mean squared residual (variants reweight it, e.g. causal training; ``soft``: the soft
        terms of :meth:`soft_losses`, unweighted)."""
        return sum(r.pow(2).mean() for r in residuals.values()), {}

    def residuals_and_soft_predictions(self) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor] | None]:
        """The PDE residuals at the residual points and, when they come from the same jet pass, the
        fields at the soft points (else None: :meth:`soft_losses` evaluates them itself).  This
        rank evaluates its share of the residual points; the residuals of all of them come back."""
        n, m = len(self.residual_points["t"]), len(self._local_points["t"])
        if self._joint_points is None:
            local = self.pde.residual(self.derivatives(self._local_points))
            return {k: gather_rows(r, n) for k, r in local.items()}, None
        joint = self.derivatives(self._joint_points)  # residuals are pointwise: evaluate all, keep the first m
        return ({k: gather_rows(r[:m], n) for k, r in self.pde.residual(joint).items()},
                {f: joint[f][m:] for f in self.pde.fields})

    def soft_losses(self, pred: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        """Soft initial misfit and Dirichlet misfit (a mean square per face, summed), and value and
        slope matching on periodic dims that lack an exact periodic embedding.  ``pred``: the
        fields at the soft points when already evaluated."""
        terms: dict[str, list[torch.Tensor]] = {}
        if self._soft_points is not None:
            pred = self.network(self._soft_points) if pred is None else pred
            squared = sum((pred[f] - self._soft_targets[f]).pow(2) for f in self.pde.fields)
            means = (self._soft_average @ squared).unbind()  # one matmul for every group's mean
            terms = {name: [mean.squeeze()] for name, mean in zip(self._soft_names, means)}
        for dim, lo, hi in self._periodic_faces:  # jets: they carry the slopes of a marching window's initial state
            d_lo, d_hi = self.derivatives(lo, {dim: 1}), self.derivatives(hi, {dim: 1})
            terms.setdefault("boundary", []).extend((d_lo[name] - d_hi[name]).pow(2).mean()
                                                    for f in self.pde.fields for name in (f, f"{f}_{dim}"))
        return {name: sum(parts) for name, parts in terms.items()}

    def loss(self, step: int) -> tuple[torch.Tensor, dict[str, Any]]:
        every = self.config.sampling.resample_every
        if every and step < self.config.train.adam_steps and step // every != self.points_index:
            self.resample(step // every)
        residuals, soft_pred = self.residuals_and_soft_predictions()
        if self.config.sampling.adaptive == "r3":
            self._last_sq = sum(r.detach().pow(2) for r in residuals.values()).reshape(-1).cpu().numpy()
        soft = self.soft_losses(soft_pred)
        loss_r, logs = self.residual_loss(residuals, self.residual_points, step, soft)
        terms = {"residual": loss_r, **soft}
        if torch.is_grad_enabled():
            self.balancer.update(terms, [p for p in self.network.parameters() if p.requires_grad], step)
        total = sum(self.balancer.weights[k] * v for k, v in terms.items())
        logs.update({f"loss_{k}": v.item() for k, v in terms.items()})
        if self.config.balancing.method != "none":
            logs.update({f"weight_{k}": self.balancer.weights[k] for k in terms})
        return total, logs

    # ---- checkpoint state -------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        last_sq = None if self._last_sq is None else torch.from_numpy(self._last_sq)
        return {"population": torch.from_numpy(self.population), "points_index": self.points_index,
                "last_sq": last_sq, "balancer": self.balancer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.population, self.points_index = state["population"].numpy(), state["points_index"]
        self._last_sq = None if state["last_sq"] is None else state["last_sq"].numpy()
        self.balancer.load_state_dict(state["balancer"])
        self.build_points()


class PINNSolver(Solver):
    """Base of PINN solvers: train on one PDE instance, evaluate on the reference's grid."""

    kind = "pinn"
    Config = PINNConfig
    objective_class: type[PINNObjective] = PINNObjective

    @classmethod
    def supports(cls, pde: PDE) -> bool:
        return type(pde).residual is not PDE.residual and (not cls.pdes or pde.name in cls.pdes)

    def build_network(self) -> torch.nn.Module:
        cfg = self.config
        return FieldNetwork(self.pde, cfg.model, cfg.constraints, jet_engine=cfg.jet_engine)

    def build_objective(self, network: torch.nn.Module) -> PINNObjective:
        ctx = self.context
        return self.objective_class(self.pde, network, self.config, ctx.device, ctx.dtype, ctx.seed)

    def callbacks(self, objective: PINNObjective) -> list[Callback]:
        """Training callbacks; the base logs the validation error every ``eval_every`` steps."""
        every = self.config.eval_every
        if not every:
            return []

        def validate(trainer: Trainer, step: int, logs: dict[str, Any]) -> None:
            if step % every == 0:
                logs["rel_l2"] = self.validation_error(trainer.model)

        return [validate]

    def validation_error(self, network: torch.nn.Module) -> float | None:
        """rel L2 of ``network`` against the reference on the reference's grid (None without one)."""
        return solution_rel_l2(self.evaluate(network))

    def after_training(self, objective: PINNObjective, result: TrainResult) -> dict[str, Any]:
        """Variant hook (extra plots, metrics); returns metrics to add."""
        return {}

    def run(self) -> SolverOutput:
        ctx, threads = self.context, torch.get_num_threads()
        network = self.build_network().to(device=ctx.device, dtype=ctx.dtype)
        objective = self.build_objective(network)
        if self.config.threads:
            torch.set_num_threads(self.config.threads)
        try:
            result = Trainer(network, objective, self.config.train, ctx, self.callbacks(objective)).fit()
        finally:
            torch.set_num_threads(threads)
        extra = self.after_training(objective, result)
        solution = self.evaluate(network)
        n_params = sum(p.numel() for p in network.parameters())
        status = "budget_exhausted" if result.status == "budget_exhausted" else "success"
        message = f"trained {result.steps} steps in {result.wall_s:.1f} s, final loss {result.final_loss:.3e}"
        return SolverOutput(solution=solution, steps=result.steps, n_params=n_params, status=status, message=message,
                            metrics={"final_loss": result.final_loss, "train_wall_s": result.wall_s, **extra})

    @torch.no_grad()
    def evaluate(self, network: torch.nn.Module) -> xr.Dataset:
        """Predict on the reference's grid; add ``<field>_ref`` where a reference exists."""
        grid, ref = reference(self.pde)
        names = list(grid)
        coords = grid_points(grid, self.context.dtype, self.context.device)
        n = next(iter(coords.values())).shape[0]
        chunks = [network({k: v[i : i + 65536] for k, v in coords.items()}) for i in range(0, n, 65536)]
        shape = tuple(len(v) for v in grid.values())
        data: dict[str, Any] = {}
        for f in self.pde.fields:
            data[f] = (names, torch.cat([c[f] for c in chunks]).reshape(shape).cpu().double().numpy())
        for f, values in (ref or {}).items():
            data[f"{f}_ref"] = (names, values)
        return xr.Dataset(data, coords=grid)
