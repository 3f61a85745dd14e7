"""What every PINN variant shares: the network on normalised space-time inputs, collocation
sampling, the soft initial/boundary losses, training through the shared Trainer, and
evaluation on the PDE's reference grid.

A variant overrides :meth:`PINNObjective.residual_loss` (e.g. causal weighting) or the
network; the solver class only declares its name, config and presets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
import xarray as xr
from scipy.stats import qmc

from sciml_core.errors import ConfigError
from sciml_core.nn import MLP, AutogradDerivatives
from sciml_core.nn.mlp import Activation
from sciml_core.pdes.base import PDE
from sciml_core.solver import Solver, SolverOutput
from sciml_core.train import Trainer, TrainConfig


@dataclass
class ModelConfig:
    width: int = 32
    depth: int = 4
    activation: Activation = "tanh"

    def validate(self) -> None:
        if self.width < 1 or self.depth < 1:
            raise ConfigError(f"model.width and model.depth must be >= 1, got {self.width}, {self.depth}")


@dataclass
class SamplingConfig:
    n_residual: int = 4096
    n_initial: int = 256
    n_boundary: int = 256
    method: Literal["sobol", "uniform"] = "sobol"
    resample_every: int = 0

    def validate(self) -> None:
        for key in ("n_residual", "n_initial", "n_boundary"):
            if getattr(self, key) < 1:
                raise ConfigError(f"sampling.{key} must be >= 1, got {getattr(self, key)}")


@dataclass
class LossWeights:
    residual: float = 1.0
    initial: float = 1.0
    boundary: float = 1.0


@dataclass
class PINNConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    weights: LossWeights = field(default_factory=LossWeights)
    train: TrainConfig = field(default_factory=TrainConfig)


class FieldNetwork(torch.nn.Module):
    """u(t, x, ...) for every field of the PDE; inputs mapped affinely onto [-1, 1]."""

    def __init__(self, pde: PDE, model: ModelConfig) -> None:
        super().__init__()
        dom = pde.domain()
        self.dims = ("t", *dom.dims)
        self.fields = pde.fields
        bounds = [dom.t, *(dom.bounds[d] for d in dom.dims)]
        self.register_buffer("lo", torch.tensor([b[0] for b in bounds]))
        self.register_buffer("hi", torch.tensor([b[1] for b in bounds]))
        self.mlp = MLP(len(self.dims), len(self.fields), model.width, model.depth, model.activation)

    def forward(self, coords: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        x = torch.cat([coords[d] for d in self.dims], dim=-1)
        x = 2.0 * (x - self.lo) / (self.hi - self.lo) - 1.0
        out = self.mlp(x)
        return {f: out[..., i : i + 1] for i, f in enumerate(self.fields)}


def sample_unit(n: int, dim: int, method: str, seed: int, index: int) -> np.ndarray:
    """``n`` points in [0, 1)^dim, a pure function of (seed, index) so resumed runs match."""
    rng = np.random.default_rng([seed, index])
    if method == "sobol":
        return qmc.Sobol(dim, scramble=True, seed=rng).random(n)
    return rng.random((n, dim))


class PINNObjective:
    """Soft-constraint PINN loss: w_r mean r^2 + w_i mean (u - u0)^2 + w_b (BC misfit)."""

    def __init__(self, pde: PDE, network: FieldNetwork, config: PINNConfig, device: torch.device,
                 dtype: torch.dtype, seed: int) -> None:
        self.pde, self.network, self.config = pde, network, config
        self.device, self.dtype, self.seed = device, dtype, seed
        self.domain = pde.domain()
        self._points_index = -1
        self._sample(0)

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(array, dtype=self.dtype, device=self.device)

    def _sample(self, index: int) -> None:
        if index == self._points_index:
            return
        cfg, dom = self.config.sampling, self.domain
        dims = dom.dims
        lo = np.array([dom.t[0], *(dom.bounds[d][0] for d in dims)])
        hi = np.array([dom.t[1], *(dom.bounds[d][1] for d in dims)])
        pts = lo + (hi - lo) * sample_unit(cfg.n_residual, 1 + len(dims), cfg.method, self.seed, 3 * index)
        self.residual_points = {d: self._tensor(pts[:, i : i + 1]) for i, d in enumerate(("t", *dims))}
        ic = lo[1:] + (hi[1:] - lo[1:]) * sample_unit(cfg.n_initial, len(dims), cfg.method, self.seed, 3 * index + 1)
        self.initial_points = {d: self._tensor(ic[:, i : i + 1]) for i, d in enumerate(dims)}
        self.initial_points["t"] = torch.full_like(self.initial_points[dims[0]], dom.t[0])
        self.initial_values = self.pde.initial_condition(**{d: self.initial_points[d] for d in dims})
        bc = sample_unit(cfg.n_boundary, len(dims), cfg.method, self.seed, 3 * index + 2)
        self.boundary_points = {"t": self._tensor(lo[0] + (hi[0] - lo[0]) * bc[:, :1])}
        for i, d in enumerate(dims[1:], start=1):
            self.boundary_points[d] = self._tensor(lo[1 + i] + (hi[1 + i] - lo[1 + i]) * bc[:, i : i + 1])
        self._points_index = index

    def residual_loss(self, residuals: dict[str, torch.Tensor], coords: dict[str, torch.Tensor],
                      step: int) -> tuple[torch.Tensor, dict[str, float]]:
        """Mean squared residual (variants reweight it, e.g. causal training)."""
        loss = sum(r.pow(2).mean() for r in residuals.values())
        return loss, {}

    def boundary_loss(self) -> torch.Tensor:
        """Dirichlet misfit on non-periodic faces; value and slope matching on periodic ones."""
        dom, total = self.domain, torch.zeros((), dtype=self.dtype, device=self.device)
        for dim in dom.dims:
            lo, hi = dom.bounds[dim]
            faces = []
            for value in (lo, hi):
                coords = dict(self.boundary_points)
                coords[dim] = torch.full_like(coords["t"], value)
                for other in dom.dims:
                    coords.setdefault(other, torch.zeros_like(coords["t"]))
                faces.append(coords)
            if dim in dom.periodic:
                d_lo, d_hi = (AutogradDerivatives(self.network, c) for c in faces)
                for f in self.pde.fields:
                    total = total + (d_lo[f] - d_hi[f]).pow(2).mean() + (d_lo[f"{f}_{dim}"] - d_hi[f"{f}_{dim}"]).pow(2).mean()
            else:
                for coords in faces:
                    pred = self.network(coords)
                    target = self.pde.boundary_value(coords["t"], **{d: coords[d] for d in dom.dims})
                    total = total + sum((pred[f] - target[f]).pow(2).mean() for f in self.pde.fields)
        return total

    def loss(self, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        cfg = self.config
        if cfg.sampling.resample_every:
            self._sample(step // cfg.sampling.resample_every)
        d = AutogradDerivatives(self.network, self.residual_points)
        loss_r, logs = self.residual_loss(self.pde.residual(d), d.coords, step)
        pred0 = self.network(self.initial_points)
        loss_i = sum((pred0[f] - self.initial_values[f]).pow(2).mean() for f in self.pde.fields)
        loss_b = self.boundary_loss()
        w = cfg.weights
        total = w.residual * loss_r + w.initial * loss_i + w.boundary * loss_b
        return total, {"loss_residual": loss_r.item(), "loss_initial": loss_i.item(),
                       "loss_boundary": loss_b.item(), **logs}


class PINNSolver(Solver):
    """Base of PINN solvers: train on one PDE instance, evaluate on its reference grid."""

    kind = "pinn"
    Config = PINNConfig
    objective_class: type[PINNObjective] = PINNObjective

    @classmethod
    def supports(cls, pde: PDE) -> bool:
        return type(pde).residual is not PDE.residual and (not cls.pdes or pde.name in cls.pdes)

    def build_network(self) -> torch.nn.Module:
        return FieldNetwork(self.pde, self.config.model)

    def run(self) -> SolverOutput:
        ctx = self.context
        network = self.build_network().to(device=ctx.device, dtype=ctx.dtype)
        objective = self.objective_class(self.pde, network, self.config, ctx.device, ctx.dtype, ctx.seed)
        result = Trainer(network, objective, self.config.train, ctx).fit()
        solution = self.evaluate(network)
        n_params = sum(p.numel() for p in network.parameters())
        status = "budget_exhausted" if result.status == "budget_exhausted" else "success"
        message = f"trained {result.steps} steps in {result.wall_s:.1f} s, final loss {result.final_loss:.3e}"
        return SolverOutput(solution=solution, steps=result.steps, n_params=n_params, status=status,
                            message=message, metrics={"final_loss": result.final_loss, "train_wall_s": result.wall_s})

    @torch.no_grad()
    def evaluate(self, network: torch.nn.Module) -> xr.Dataset:
        """Predict on the reference grid; add ``<field>_ref`` when the PDE has an exact solution."""
        grid = self.pde.reference_grid()
        names = list(grid)
        mesh = np.meshgrid(*grid.values(), indexing="ij")
        coords = {n: torch.as_tensor(m.reshape(-1, 1), dtype=self.context.dtype, device=self.context.device)
                  for n, m in zip(names, mesh)}
        pred = network(coords)
        shape = mesh[0].shape
        data: dict[str, Any] = {f: (names, pred[f].reshape(shape).cpu().double().numpy()) for f in self.pde.fields}
        reference = self.reference(grid)
        for f, values in (reference or {}).items():
            data[f"{f}_ref"] = (names, values)
        return xr.Dataset(data, coords=grid)

    def reference(self, grid: dict[str, np.ndarray]) -> dict[str, np.ndarray] | None:
        """The reference fields on ``grid`` (exact solution where the PDE has one)."""
        return self.pde.exact_solution(**grid)
