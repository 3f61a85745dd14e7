"""Autoregressive neural operators on dataset files: ``fno`` and ``stable-fno``.

:mod:`.layers` holds the stabilising components, :mod:`.models` the two models.
"""
