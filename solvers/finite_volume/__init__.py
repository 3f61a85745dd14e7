"""Finite-volume references: ``fv-weno5`` (WENO5 + Godunov flux, adaptive Dormand-Prince).

Shared pieces: :mod:`.weno` (reconstruction, numerical fluxes, central differences),
:mod:`.dopri5` (batched adaptive Dormand-Prince in torch), :mod:`.engine` (the ReferenceSolver).
"""

from __future__ import annotations

from .engine import WenoConfig, WenoSolver

__all__ = ["WenoConfig", "WenoSolver"]
