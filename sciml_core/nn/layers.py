"""Layers that also propagate :class:`~sciml_core.nn.jet.Jet` (forward-mode derivatives).

Every module here has ``forward(x)`` on plain tensors and ``jet(j)`` on jets, so networks
built from them give the derivative engine all pure partial derivatives up to 4th order.

* :class:`Dense` -- a linear layer, optionally with random weight factorisation
  (Wang, Wang, Perdikaris 2022): W = diag(exp(s)) V, s ~ N(mean, std), V = W_glorot / exp(s).
* :class:`FourierFeatures` -- trainable Fourier features gamma(x) = [cos(B x), sin(B x)],
  B ~ N(0, sigma^2) (Tancik et al. 2020; trainable as in Wang, Wang, Perdikaris 2021).
* :class:`PeriodicEmbedding` -- exact periodicity in chosen inputs: x -> [cos(k w x), sin(k w x)],
  k = 1..K, w = 2 pi / L (Dong & Ni 2021), other inputs passed through.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from .jet import Jet, cat

Activation = Literal["tanh", "sin", "gelu", "silu"]
JET_ACTIVATIONS = ("tanh", "sin")


class Act(nn.Module):
    """An elementwise activation by name; ``tanh`` and ``sin`` also act on jets."""

    def __init__(self, name: Activation) -> None:
        super().__init__()
        self.name = name
        self.fn = {"tanh": torch.tanh, "sin": torch.sin, "gelu": nn.functional.gelu, "silu": nn.functional.silu}[name]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)

    def jet(self, j: Jet) -> Jet:
        return j.activate(self.name)


class Dense(nn.Module):
    """``y = x W^T + b`` with Glorot-normal W and zero b; ``factorize`` enables random weight
    factorisation W = diag(exp(s)) V with trainable s (one per output unit) and V."""

    def __init__(self, fan_in: int, fan_out: int, factorize: bool = False, rwf_mean: float = 1.0,
                 rwf_std: float = 0.1) -> None:
        super().__init__()
        weight = torch.empty(fan_out, fan_in)
        nn.init.xavier_normal_(weight)
        self.bias = nn.Parameter(torch.zeros(fan_out))
        self.factorize = factorize
        if factorize:
            s = rwf_mean + rwf_std * torch.randn(fan_out)
            self.log_scale = nn.Parameter(s)
            self.v = nn.Parameter(weight / torch.exp(s)[:, None])
        else:
            self.weight = nn.Parameter(weight)

    def effective_weight(self) -> torch.Tensor:
        return torch.exp(self.log_scale)[:, None] * self.v if self.factorize else self.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.effective_weight(), self.bias)

    def jet(self, j: Jet) -> Jet:
        return j.linear(self.effective_weight(), self.bias)


class FourierFeatures(nn.Module):
    """gamma(x) = [cos(x B^T), sin(x B^T)] with ``n_features`` rows of B ~ N(0, sigma^2)."""

    def __init__(self, in_features: int, n_features: int, sigma: float = 1.0, trainable: bool = True) -> None:
        super().__init__()
        self.B = nn.Parameter(sigma * torch.randn(n_features, in_features), requires_grad=trainable)
        self.out_features = 2 * n_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = x @ self.B.T
        return torch.cat([torch.cos(z), torch.sin(z)], dim=-1)

    def jet(self, j: Jet) -> Jet:
        z = j.linear(self.B, None)
        return cat([z.activate("cos"), z.activate("sin")])


class PeriodicEmbedding(nn.Module):
    """Exact periodicity: columns ``periodic`` (with periods ``periods``) map to
    ``[cos(k w x), sin(k w x)]_{k=1..modes}``; the other columns pass through unchanged."""

    def __init__(self, in_features: int, periodic: Sequence[int], periods: Sequence[float], modes: int = 1) -> None:
        super().__init__()
        self.keep = [i for i in range(in_features) if i not in periodic]
        self.periodic = list(periodic)
        freqs = torch.zeros(len(periodic) * modes, in_features, dtype=torch.float64)
        for row, (col, period) in enumerate((c, p) for c, p in zip(periodic, periods) for _ in range(modes)):
            freqs[row, col] = 2 * math.pi / period * (row % modes + 1)
        self.register_buffer("freqs", freqs)
        self.out_features = len(self.keep) + 2 * len(periodic) * modes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = x @ self.freqs.T
        return torch.cat([x[:, self.keep], torch.cos(z), torch.sin(z)], dim=-1)

    def jet(self, j: Jet) -> Jet:
        z = j.linear(self.freqs, None)
        kept = [j.narrow(i, 1) for i in self.keep]
        return cat([*kept, z.activate("cos"), z.activate("sin")])
