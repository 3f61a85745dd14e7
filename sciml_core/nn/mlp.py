"""Fully connected networks that act on tensors and on jets.

* :class:`MLP` -- ``depth`` hidden layers of ``width`` units.
* :class:`ModifiedMLP` -- the gated architecture of Wang, Teng, Perdikaris (2021):
  U = act(X W_u + b_u), V = act(X W_v + b_v), H_0 = X,
  Z_l = act(H_{l-1} W_l + b_l), H_l = (1 - Z_l) * U + Z_l * V (l = 1..depth), output H_depth W + b.

Both accept ``factorize=True`` for random weight factorisation (see :class:`Dense`).
"""

from __future__ import annotations

import torch
from torch import nn

from .jet import Jet
from .layers import Act, Activation, Dense


class MLP(nn.Module):
    """``depth`` hidden layers of ``width`` units, Glorot-normal weights, zero biases."""

    def __init__(self, in_features: int, out_features: int, width: int = 32, depth: int = 4,
                 activation: Activation = "tanh", factorize: bool = False) -> None:
        super().__init__()
        sizes = [in_features] + [width] * depth
        self.hidden = nn.ModuleList(Dense(a, b, factorize) for a, b in zip(sizes[:-1], sizes[1:]))
        self.out = Dense(sizes[-1], out_features, factorize)
        self.act = Act(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.hidden:
            x = self.act(layer(x))
        return self.out(x)

    def jet(self, j: Jet) -> Jet:
        for layer in self.hidden:
            j = self.act.jet(layer.jet(j))
        return self.out.jet(j)


class ModifiedMLP(nn.Module):
    """Gated MLP (module docstring); ``depth`` gated hidden layers of ``width`` units."""

    def __init__(self, in_features: int, out_features: int, width: int = 128, depth: int = 4,
                 activation: Activation = "tanh", factorize: bool = False) -> None:
        super().__init__()
        self.encode_u = Dense(in_features, width, factorize)
        self.encode_v = Dense(in_features, width, factorize)
        self.hidden = nn.ModuleList([Dense(in_features, width, factorize)]
                                    + [Dense(width, width, factorize) for _ in range(depth - 1)])
        self.out = Dense(width, out_features, factorize)
        self.act = Act(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u, v = self.act(self.encode_u(x)), self.act(self.encode_v(x))
        h = x
        for layer in self.hidden:
            z = self.act(layer(h))
            h = u + z * (v - u)
        return self.out(h)

    def jet(self, j: Jet) -> Jet:
        u, v = self.act.jet(self.encode_u.jet(j)), self.act.jet(self.encode_v.jet(j))
        diff = v - u
        h = j
        for layer in self.hidden:
            z = self.act.jet(layer.jet(h))
            h = u + z * diff
        return self.out.jet(h)
