"""Shared neural-network blocks and the derivative engine for PINNs."""

from .derivatives import AutogradDerivatives
from .mlp import MLP

__all__ = ["AutogradDerivatives", "MLP"]
