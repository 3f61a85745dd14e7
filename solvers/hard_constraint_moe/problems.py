"""The PDE-specific parts of ``hard-constraint-moe``: one :class:`ExpertProblem` per PDE.

A problem turns the backbone's basis into the experts' least-squares problems and back into
a prediction.  Every grid it builds has the block layout ``(B, K, T, S, N)``: batch, expert,
frame, the S grid cells of the expert's spatial block (flattened), basis function.  On that
layout the node sampling, the gathering at nodes and the batched expert solves are shared
(:mod:`.solver`, :func:`.constraint.solve_experts`); a problem supplies

* :meth:`~ExpertProblem.bind` -- check the data file and read its grid;
* :meth:`~ExpertProblem.network` -- the backbone;
* :meth:`~ExpertProblem.initial_state` -- the network's input and the initial-condition targets;
* :meth:`~ExpertProblem.grids` -- the basis and its derivatives in block layout;
* :meth:`~ExpertProblem.constraint` -- the P = B K problems at sampled nodes (or all);
* :meth:`~ExpertProblem.pde_rows` -- the PDE residual of given weights at nodes (the loss);
* :meth:`~ExpertProblem.unblock` -- the piecewise prediction on the data's grid.
"""

from __future__ import annotations

import abc
import math
from typing import Any

import torch
from neuralop.models import FNO
from torch import Tensor, nn

from sciml_core.data.trajectories import TrajectorySet
from sciml_core.errors import ConfigError
from sciml_core.pdes.base import PDE

from .constraint import Constraint, DiffusionSorptionResidual, ResidualSystem, second_x_derivative, time_derivative


def at_nodes(a: Tensor, nodes: Tensor | None) -> Tensor:
    """(B, K, T, S, N) at flat node indices (K, M) of each block -> (B, K, M, N); None: all."""
    B, K, T, S, N = a.shape
    flat = a.reshape(B, K, T * S, N)
    if nodes is None:
        return flat
    return torch.gather(flat, 2, nodes[None, :, :, None].expand(B, K, nodes.shape[1], N))


class ExpertProblem(abc.ABC):
    """The PDE-specific half of the solver (module docstring); ``system`` gives the rows."""

    system: ResidualSystem

    def __init__(self, pde: PDE, config: Any) -> None:
        self.pde, self.config = pde, config

    @abc.abstractmethod
    def bind(self, data: TrajectorySet) -> None:
        """Check ``data`` (ConfigError with a one-line reason) and keep its grid."""

    @abc.abstractmethod
    def network(self) -> nn.Module:
        """The backbone for the bound data (a ``w`` parameter for the soft constraint)."""

    @abc.abstractmethod
    def initial_state(self, first: Tensor) -> tuple[Tensor, Tensor]:
        """Normalised first frames (B, 1, C, *space) -> the network's input and the IC targets."""

    @abc.abstractmethod
    def grids(self, model: nn.Module, ic: Tensor, n_t: int) -> dict[str, Tensor]:
        """The basis ``"b"`` and its derivatives, (B, K, T, S, N) each, plus what the rows need."""

    @abc.abstractmethod
    def constraint(self, g: dict[str, Tensor], target: Tensor, nodes: Tensor | None) -> Any:
        """The P = B K problems at ``nodes`` (K, M) of each block (None: every node)."""

    @abc.abstractmethod
    def pde_rows(self, w: Tensor, g: dict[str, Tensor], nodes: Tensor) -> Tensor:
        """The PDE residual of expert weights w (B K, N) at ``nodes`` of their blocks, (B K, M)."""

    @abc.abstractmethod
    def unblock(self, u: Tensor) -> Tensor:
        """Values (B, K, T, S) of b . w_k on each block -> normalised frames (B, T, C, *space)."""


class BasisNetwork(nn.Module):
    """FNO (t, x) -> N basis functions; ``w`` is trained only by the soft constraint."""

    def __init__(self, n_basis: int, width: int, n_modes: int, n_layers: int, soft: bool) -> None:
        super().__init__()
        self.fno = FNO(n_modes=(n_modes, n_modes), in_channels=1, out_channels=n_basis, hidden_channels=width,
                       n_layers=n_layers, domain_padding=0.125)
        self.w = nn.Parameter(torch.full((n_basis,), 1.0 / n_basis)) if soft else None

    def forward(self, ic: Tensor, n_t: int) -> Tensor:
        """Normalised initial states (B, X) -> basis (B, N, T, X)."""
        return self.fno(ic[:, None, None, :].expand(-1, 1, n_t, -1).contiguous())


class DiffusionSorptionProblem(ExpertProblem):
    """Diffusion-sorption on x in [0, 1] (:mod:`.constraint`): K equal blocks along x,
    time tau = t / t_end, boundary values extrapolated from the grid."""

    def __init__(self, pde: PDE, config: Any) -> None:
        super().__init__(pde, config)
        self.system = DiffusionSorptionResidual(pde, config.ic_weight, config.bc_weight)

    def bind(self, data: TrajectorySet) -> None:
        cfg = self.config
        if data.fields != ("u",) or data.space_dims != ("x",):
            raise ConfigError(f"hard-constraint-moe needs a 1D dataset with field 'u', got fields {data.fields} on "
                              f"{data.space_dims}")
        n_x = len(data.coords["x"])
        if n_x % cfg.experts or n_x // cfg.experts < 3:
            raise ConfigError(f"{n_x} grid points do not split into {cfg.experts} experts of >= 3 points each "
                              f"(change data.x_stride or n_experts)")
        if data.n_frames < 3:
            raise ConfigError(f"hard-constraint-moe needs at least 3 frames, got {data.n_frames}")
        t_end = float(data.t[-1] - data.t[0])
        if not math.isclose(t_end, self.pde.t_end, rel_tol=1e-6) or data.t[0] != 0:
            raise ConfigError(f"the data's frames span t in [{data.t[0]}, {data.t[-1]}], the PDE [0, {self.pde.t_end}]")
        self.data = data
        self.dt = float(data.t[1] - data.t[0]) / t_end  # tau = t / t_end
        x = data.coords["x"]
        self.x0, self.x1, self.dx = float(x[0]), float(x[-1]), float(x[1] - x[0])

    def network(self) -> nn.Module:
        cfg = self.config
        return BasisNetwork(cfg.n_basis, cfg.width, cfg.n_modes, cfg.n_layers, cfg.constraint == "soft")

    def initial_state(self, first: Tensor) -> tuple[Tensor, Tensor]:
        """Normalised (B, X) and physical per-sample constant u0 (B,) initial states."""
        return first[:, 0, 0], self.data.denormalise(first)[:, 0, 0].mean(-1)

    def grids(self, model: nn.Module, ic: Tensor, n_t: int) -> dict[str, Tensor]:
        """Basis and derivatives on the grid, each (B, K, T, Xk, N), and boundary values (B, T, N)."""
        b = model(ic, n_t)  # (B, N, T, X)
        B, N, T, X = b.shape
        K = self.config.experts

        def blocks(a: Tensor) -> Tensor:
            return a.reshape(B, N, T, K, X // K).permute(0, 3, 2, 4, 1)

        b_x1 = (b[..., -1] - b[..., -2]) / self.dx
        return {"b": blocks(b), "b_t": blocks(time_derivative(b, self.dt)), "b_xx": blocks(second_x_derivative(b, self.dx)),
                "left": (b[..., 0] - self.x0 * (b[..., 1] - b[..., 0]) / self.dx).transpose(1, 2),
                "right": (b[..., -1] + (1 - self.x1) * b_x1).transpose(1, 2), "right_x": b_x1.transpose(1, 2)}

    def constraint(self, g: dict[str, Tensor], target: Tensor, nodes: Tensor | None) -> Constraint:
        """The P = B K problems at ``nodes`` (None: every node), ``target`` u0 (B,) physical."""
        b = g["b"]
        B, K, T, Xk, N = b.shape

        def per_problem(a: Tensor) -> Tensor:
            return a.reshape(B * K, *a.shape[2:])

        def boundary(a: Tensor) -> Tensor:  # (B, T, N) -> (B K, T, N)
            return a[:, None].expand(B, K, T, N).reshape(B * K, T, N)

        if self.config.expert_conditions == "global":  # every expert: the whole t = 0 row, both boundaries
            left = right = torch.ones(K, dtype=b.dtype, device=b.device)
            ic = b[:, :, 0].reshape(B, 1, K * Xk, N).expand(B, K, K * Xk, N)
        else:  # each expert: its block's t = 0 nodes, the boundaries its block touches
            left, right = torch.zeros(K, dtype=b.dtype, device=b.device), torch.zeros(K, dtype=b.dtype, device=b.device)
            left[0], right[-1] = 1.0, 1.0
            ic = b[:, :, 0]
        return Constraint(
            basis=per_problem(at_nodes(g["b"], nodes)), basis_t=per_problem(at_nodes(g["b_t"], nodes)),
            basis_xx=per_problem(at_nodes(g["b_xx"], nodes)), basis_ic=per_problem(ic),
            u0=target[:, None, None].expand(B, K, ic.shape[2]).reshape(B * K, ic.shape[2]),
            basis_left=boundary(g["left"]), basis_right=boundary(g["right"]), basis_right_x=boundary(g["right_x"]),
            left=left.repeat(B), right=right.repeat(B))

    def pde_rows(self, w: Tensor, g: dict[str, Tensor], nodes: Tensor) -> Tensor:
        flat = lambda a: at_nodes(a, nodes).reshape(-1, nodes.shape[1], a.shape[-1])
        return self.system.pde_rows(w, flat(g["b"]), flat(g["b_t"]), flat(g["b_xx"]))

    def unblock(self, u: Tensor) -> Tensor:
        B, K, T, Xk = u.shape
        return self.data.normalise(u.permute(0, 2, 1, 3).reshape(B, T, 1, K * Xk))
