"""Physics-informed neural networks; importing this package registers them (``pinn``, ``causal-pinn``)."""

from . import causal, vanilla  # noqa: F401
