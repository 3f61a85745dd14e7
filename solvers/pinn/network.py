"""The PINN field network: inputs -> embeddings -> backbone -> hard-constraint transform.

    u(t, x) = g(x) exp(-lambda (t - t_start)) + tau(t) * phi(x) * N(t, x)   (hard IC and BC)

* inputs are mapped affinely onto [-1, 1]; periodic dims can go through an exact periodic
  embedding (``model.periodic_modes``), then optional trainable Fourier features;
* the backbone is an :class:`~sciml_core.nn.MLP` or a gated :class:`~sciml_core.nn.ModifiedMLP`,
  optionally with random weight factorisation;
* ``constraints.initial = "hard"``: g = the initial state (the PDE's u0, or the previous
  window's end state when time marching), tau = (t - t_start) / (t_end - t_start) and
  lambda = ``constraints.initial_decay`` (default 0), so u = g at t_start exactly; ``constraints.boundary = "hard"`` multiplies by the distance
  function phi = prod_d (x_d - lo)(hi - x_d) / ((hi - lo) / 2)^2 on non-periodic dims
  (exact when u0 meets the Dirichlet data, which :func:`check_compatible` verifies).

Everything runs on tensors (``forward``) and on Taylor jets (``jet``) for the forward-mode
derivative engine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn

from sciml_core.errors import ConfigError
from sciml_core.nn import MLP, FourierFeatures, Jet, ModifiedMLP, PeriodicEmbedding, input_jet
from sciml_core.nn.jet import Engine
from sciml_core.nn.layers import JET_ACTIVATIONS, Activation
from sciml_core.pdes.base import PDE

InitialFn = Callable[[Mapping[str, torch.Tensor], Mapping[str, int]], dict[str, Jet]]


@dataclass
class ModelConfig:
    """Network: ``arch`` mlp | modified; ``factorize``: random weight factorisation;
    ``fourier_features``: number of trainable Fourier features (0: none) of scale
    ``fourier_sigma``; ``periodic_modes``: K of the exact periodic embedding (0: none)."""

    width: int = 32
    depth: int = 4
    activation: Activation = "tanh"
    arch: Literal["mlp", "modified"] = "mlp"
    factorize: bool = False
    fourier_features: int = 0
    fourier_sigma: float = 1.0
    periodic_modes: int = 0

    def validate(self) -> None:
        if self.width < 1 or self.depth < 1:
            raise ConfigError(f"model.width and model.depth must be >= 1, got {self.width}, {self.depth}")
        if self.fourier_features < 0 or self.periodic_modes < 0:
            raise ConfigError("model.fourier_features and model.periodic_modes must be >= 0")


@dataclass
class ConstraintsConfig:
    """``soft``: penalised in the loss; ``hard``: built into the network's output transform.
    ``initial_decay`` (lambda >= 0) fades the initial state as g(x) exp(-lambda (t - t_start)):
    an initial state that a periodic network cannot represent (Allen-Cahn's x^2 cos(pi x) has a
    slope jump across x = +-1) then does not pin that defect to every later time."""

    initial: Literal["soft", "hard"] = "soft"
    boundary: Literal["soft", "hard"] = "soft"
    initial_decay: float = 0.0

    def validate(self) -> None:
        if self.initial_decay < 0:
            raise ConfigError(f"constraints.initial_decay must be >= 0, got {self.initial_decay}")
        if self.boundary == "hard" and self.initial != "hard":
            raise ConfigError("constraints.boundary = 'hard' needs constraints.initial = 'hard'")


def pde_initial_jets(pde: PDE) -> InitialFn:
    """u0 and its spatial derivatives (reverse mode: u0 has no parameters) as jets."""

    def initial(coords: Mapping[str, torch.Tensor], orders: Mapping[str, int]) -> dict[str, Jet]:
        dims = pde.spatial_dims
        with torch.enable_grad():
            xs = {d: coords[d].detach().requires_grad_(True) for d in dims}
            values = pde.initial_condition(**xs)
            attached = pde.initial_condition(**{d: coords[d] for d in dims})  # keeps d/dx for autograd
            jets = {}
            for f, value in values.items():
                derivs: dict[str, list[torch.Tensor | None]] = {}
                for d in dims:
                    ds, current = [], value
                    for _ in range(orders.get(d, 0)):
                        (current,) = torch.autograd.grad(current, xs[d], torch.ones_like(current), create_graph=True)
                        ds.append(current.detach())
                    derivs[d] = ds
                jets[f] = Jet.from_parts(attached[f], derivs)
        return jets

    return initial


def check_compatible(pde: PDE) -> None:
    """Hard boundaries need u0 = Dirichlet data on the boundary, constant in time."""
    dom = pde.domain()
    for dim in (d for d in dom.dims if d not in dom.periodic):
        for edge in dom.bounds[dim]:
            coords = {d: np.array([edge if d == dim else 0.5 * sum(dom.bounds[d])]) for d in dom.dims}
            u0 = pde.initial_condition(**coords)
            for t in (dom.t[0], 0.5 * sum(dom.t), dom.t[1]):
                bc = pde.boundary_value(np.array([t]), **coords)
                for f in pde.fields:
                    if abs(float(np.asarray(u0[f]).ravel()[0]) - float(np.asarray(bc[f]).ravel()[0])) > 1e-8:
                        raise ConfigError(f"constraints.boundary = 'hard' needs u0 to equal the boundary data of "
                                          f"{pde.name!r} at {dim} = {edge}; use constraints.boundary = 'soft'")


class FieldNetwork(nn.Module):
    """u(t, x, ...) for every field of ``pde`` on the time interval ``t_range`` (see module docstring)."""

    def __init__(self, pde: PDE, model: ModelConfig, constraints: ConstraintsConfig,
                 t_range: tuple[float, float] | None = None, jet_engine: Engine = "auto") -> None:
        super().__init__()
        self.jet_engine = jet_engine
        dom = pde.domain()
        self.dims = ("t", *dom.dims)
        self.fields = pde.fields
        self.t_range = t_range or dom.t
        bounds = [self.t_range, *(dom.bounds[d] for d in dom.dims)]
        lo = torch.tensor([b[0] for b in bounds], dtype=torch.float64)
        scale = 2.0 / (torch.tensor([b[1] for b in bounds], dtype=torch.float64) - lo)
        # the affine map of the inputs onto [-1, 1]: derived from the domain, so not saved
        self.register_buffer("input_weight", torch.diag(scale), persistent=False)
        self.register_buffer("input_shift", -1.0 - lo * scale, persistent=False)
        self.walls = [(i + 1, *dom.bounds[d]) for i, d in enumerate(dom.dims) if d not in dom.periodic]
        self.hard_initial, self.hard_boundary = constraints.initial == "hard", constraints.boundary == "hard"
        self.decay = constraints.initial_decay
        if self.hard_boundary:
            check_compatible(pde)
        layers: list[nn.Module] = []
        width = len(self.dims)
        periodic = [i + 1 for i, d in enumerate(dom.dims) if d in dom.periodic]
        if model.periodic_modes and periodic:
            layers.append(PeriodicEmbedding(width, periodic, [2.0] * len(periodic), model.periodic_modes))
            width = layers[-1].out_features
        if model.fourier_features:
            layers.append(FourierFeatures(width, model.fourier_features, model.fourier_sigma))
            width = layers[-1].out_features
        self.embed = nn.ModuleList(layers)
        backbone = ModifiedMLP if model.arch == "modified" else MLP
        self.backbone = backbone(width, len(self.fields), model.width, model.depth, model.activation, model.factorize)
        self.activation = model.activation
        self.initial_fn: InitialFn = pde_initial_jets(pde)

    # ---- pieces -----------------------------------------------------------------------------
    def _input_map(self, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """Weight and bias of the affine map onto [-1, 1] in ``dtype``."""
        if self.input_weight.dtype == dtype:
            return self.input_weight, self.input_shift
        return self.input_weight.to(dtype), self.input_shift.to(dtype)

    def _tau_phi(self, j: Jet) -> Jet:
        """tau(t) * phi(x) as a jet of the raw inputs ``j`` (value (n, n_dims))."""
        t0, t1 = self.t_range
        factor = (j.narrow(0, 1) - t0) * (1.0 / (t1 - t0))
        for col, lo, hi in self.walls if self.hard_boundary else ():
            x = j.narrow(col, 1)
            factor = factor * ((x - lo) * (-(x - hi)) * (4.0 / (hi - lo) ** 2))
        return factor

    def _fade(self, j: Jet) -> Jet | None:
        """exp(-lambda (t - t_start)) as a jet (None when lambda = 0)."""
        if not self.decay:
            return None
        e = torch.exp(-self.decay * (j.value[:, :1] - self.t_range[0]))
        order = j.layout.order("t")
        return Jet.from_parts(e, {"t": [e * (-self.decay) ** k for k in range(1, order + 1)]}, j.layout)

    def _raw(self, j: Jet) -> Jet:
        j = j.linear(*self._input_map(j.value.dtype))
        for layer in self.embed:
            j = layer.jet(j)
        return self.backbone.jet(j)

    # ---- public faces -----------------------------------------------------------------------
    def jet(self, coords: Mapping[str, torch.Tensor], orders: Mapping[str, int]) -> dict[str, Jet]:
        """Fields as jets carrying the pure derivatives ``orders[dim]`` deep."""
        if self.activation not in JET_ACTIVATIONS:
            raise ConfigError(f"model.activation = {self.activation!r} has no jet rule; use derivatives = 'autograd'")
        inputs = input_jet(coords, list(self.dims), orders, self.jet_engine)
        out = self._raw(inputs)
        fields = {f: out.narrow(i, 1) for i, f in enumerate(self.fields)}
        if not self.hard_initial:
            return fields
        factor = self._tau_phi(inputs)
        g = self.initial_fn({d: coords[d] for d in self.dims[1:]}, {d: orders.get(d, 0) for d in self.dims[1:]})
        fade = self._fade(inputs)
        return {f: (g[f] if fade is None else g[f] * fade) + factor * fields[f] for f in self.fields}

    def forward(self, coords: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        inputs = input_jet(coords, list(self.dims), {}, "tensor")
        x = torch.nn.functional.linear(inputs.value, *self._input_map(inputs.value.dtype))
        for layer in self.embed:
            x = layer(x)
        out = self.backbone(x)
        fields = {f: out[..., i : i + 1] for i, f in enumerate(self.fields)}
        if not self.hard_initial:
            return fields
        factor = self._tau_phi(inputs).value
        g = self.initial_fn({d: coords[d] for d in self.dims[1:]}, {})
        fade = self._fade(inputs)
        return {f: g[f].value * (1.0 if fade is None else fade.value) + factor * fields[f] for f in self.fields}
