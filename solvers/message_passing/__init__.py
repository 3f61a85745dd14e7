"""Message-passing neural PDE solvers: ``message-passing`` (MP-PDE, Brandstetter et al. 2022).

:mod:`.graph` (radius / kNN graphs on 1-D point sets, mean aggregation in plain torch),
:mod:`.model` (encoder, processor, bundling decoder), :mod:`.solver` (the operator),
:mod:`.evaluation` (the coarse WENO5 baseline and rollout timing against the reference).
"""

from __future__ import annotations

from .solver import MessagePassingConfig, MessagePassingSolver

__all__ = ["MessagePassingConfig", "MessagePassingSolver"]
