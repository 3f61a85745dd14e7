"""The PDE catalogue: every module in this package registers its PDE classes on import."""

from __future__ import annotations

import importlib
import pkgutil

from .base import PDE, Derivatives, Domain, FluxForm, array_module

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base" and not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["PDE", "Derivatives", "Domain", "FluxForm", "array_module"]
