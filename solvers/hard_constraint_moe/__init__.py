"""Hard-constraint mixture of experts (Chalapathi, Du & Krishnapriyan, ICLR 2024): ``hard-constraint-moe``."""

from __future__ import annotations

from .solver import BasisNetwork, HardConstraintMoE, MoEConfig

__all__ = ["BasisNetwork", "HardConstraintMoE", "MoEConfig"]
