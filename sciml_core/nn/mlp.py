"""Fully connected networks."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

Activation = Literal["tanh", "sin", "gelu", "silu"]


class Sine(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(x)


def make_activation(name: Activation) -> nn.Module:
    """The activation module for a config name."""
    return {"tanh": nn.Tanh, "sin": Sine, "gelu": nn.GELU, "silu": nn.SiLU}[name]()


class MLP(nn.Module):
    """``depth`` hidden layers of ``width`` units, Glorot-normal weights, zero biases."""

    def __init__(self, in_features: int, out_features: int, width: int = 32, depth: int = 4,
                 activation: Activation = "tanh") -> None:
        super().__init__()
        sizes = [in_features] + [width] * depth
        layers: list[nn.Module] = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(fan_in, fan_out), make_activation(activation)]
        layers.append(nn.Linear(sizes[-1], out_features))
        self.net = nn.Sequential(*layers)
        for module in self.net:
            if isinstance(module, nn.Linear):
                nn.init.xavier_normal_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
