"""Hard-constraint mixture of experts (Chalapathi, Du & Krishnapriyan, ICLR 2024): ``hard-constraint-moe``
on diffusion-sorption and 2D Navier-Stokes (vorticity)."""

from __future__ import annotations

from .problems import BasisNetwork
from .solver import HardConstraintMoE, MoEConfig

__all__ = ["BasisNetwork", "HardConstraintMoE", "MoEConfig"]
