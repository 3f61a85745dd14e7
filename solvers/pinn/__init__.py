"""Physics-informed neural networks; importing this package registers them (``pinn``, ``causal-pinn``,
``lagrangian-pinn``, ``hard-bc-pinn``)."""

from . import causal, hard_bc, lagrangian, vanilla  # noqa: F401
