"""Datasets: the HDF5/xarray file schema, generation, format converters and torch loaders.

``open_dataset(path)`` gives an ``xarray.Dataset``; :class:`TrajectoryWindows`,
:class:`Snapshots` and :class:`ReferenceGrid` are torch datasets over a file; the
``sciml data`` command lives in :mod:`.cli`, the engine behind it in :mod:`.generate` and
:mod:`.merge`, the PDEBench / MP-PDE converters in :mod:`.formats`.
"""

from __future__ import annotations

from typing import Any

from .schema import SCHEMA, Header, open_dataset, read_header, validate_file, write_dataset
from .specs import DatasetSpec, list_datasets, load_spec

_LAZY = {"TrajectoryWindows": "loaders", "Snapshots": "loaders", "ReferenceGrid": "loaders",
         "normalisation_stats": "loaders",
         "read_pdebench": "formats", "write_pdebench": "formats", "read_mppde": "formats", "convert": "formats"}


def __getattr__(name: str) -> Any:
    """Import the torch loaders and converters on first use (keeps ``import`` light)."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["SCHEMA", "DatasetSpec", "Header", "ReferenceGrid", "Snapshots", "TrajectoryWindows", "convert",
           "list_datasets", "load_spec", "normalisation_stats", "open_dataset", "read_header", "read_mppde",
           "read_pdebench", "validate_file", "write_dataset", "write_pdebench"]
