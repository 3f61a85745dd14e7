"""Autoregressive neural operators on dataset files: ``fno`` and ``stable-fno``.

:mod:`.layers` holds the stabilising components (McCabe et al. 2023), :mod:`.models` the
two models (built on neuraloperator), :mod:`.solver` the registered solvers,
:mod:`.evaluation` the long-rollout metrics and :mod:`.plots` their figures.
"""

from __future__ import annotations

from . import solver

__all__ = ["solver"]
