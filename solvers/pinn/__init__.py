"""Physics-informed neural networks; importing this package registers them."""

from . import vanilla  # noqa: F401
