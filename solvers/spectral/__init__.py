"""Fourier pseudo-spectral references: ``spectral-etdrk4``, ``spectral-dopri``, ``spectral-rk4``.

Shared pieces: :mod:`.fourier` (grids, transforms, dealiasing), :mod:`.integrators`
(ETDRK4, integrating-factor Runge-Kutta), :mod:`.engine` (the ReferenceSolver) and
:mod:`.spirals` (statistics, regime classification).
"""

from __future__ import annotations

from . import dopri5, etdrk4, rk4
from .engine import SpectralConfig, SpectralSolver

__all__ = ["SpectralConfig", "SpectralSolver", "dopri5", "etdrk4", "rk4"]
