"""Loss balancing by gradient norms (Wang, Wang, Perdikaris 2023, "An expert's guide to
training PINNs", following Wang, Teng, Perdikaris 2021):

    lambda_i_hat = (sum_j ||grad_theta L_j||) / ||grad_theta L_i||,
    lambda_i <- alpha lambda_i + (1 - alpha) lambda_i_hat     every ``every`` steps,

so every term pulls on the parameters with the same strength; the weights carry no gradient.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch

from sciml_core.errors import ConfigError
from sciml_core.train.distributed import average_


@dataclass
class BalancingConfig:
    """``method = "gradnorm"`` updates the weights every ``every`` steps with moving average ``alpha``."""

    method: Literal["none", "gradnorm"] = "none"
    every: int = 100
    alpha: float = 0.9

    def validate(self) -> None:
        if self.every < 1:
            raise ConfigError(f"balancing.every must be >= 1, got {self.every}")
        if not 0 <= self.alpha < 1:
            raise ConfigError(f"balancing.alpha must be in [0, 1), got {self.alpha}")


class GradNormBalancer:
    """Weights per named loss term (initially the configured static weights)."""

    def __init__(self, config: BalancingConfig, initial: dict[str, float]) -> None:
        self.config = config
        self.weights = dict(initial)
        self._updated_at = -1

    def update(self, terms: dict[str, torch.Tensor], params: Sequence[torch.Tensor], step: int) -> None:
        if self.config.method == "none" or step % self.config.every or len(terms) < 2 or step == self._updated_at:
            return
        self._updated_at = step
        norms = {}
        for name, term in terms.items():
            grads = torch.autograd.grad(term, params, retain_graph=True, allow_unused=True)
            average_(grads)  # several ranks: each holds its points' share of the gradient
            norms[name] = torch.sqrt(sum(g.pow(2).sum() for g in grads if g is not None)).item()
        total = sum(norms.values())
        a = self.config.alpha
        for name, norm in norms.items():
            self.weights[name] = a * self.weights[name] + (1 - a) * total / max(norm, 1e-12)

    def state_dict(self) -> dict[str, Any]:
        return {"weights": dict(self.weights)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.weights = dict(state["weights"])
