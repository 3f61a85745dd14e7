"""Name -> class registries for solvers and PDEs.

Solvers register with :func:`register_solver` (a class decorator); PDEs with
:func:`register_pde`.  Built-in solvers live in the ``solvers`` package and are found, like
third-party ones, through the entry-point group ``sciml.solvers``: an entry point may name a
module (importing it registers its solvers) or a :class:`~sciml_core.solver.Solver` subclass
(registered under the entry point's name).  Lookups accept a name or a class; an unknown
name raises :class:`UnknownNameError` listing the closest registered names.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import warnings
from typing import TYPE_CHECKING, Callable, TypeVar

from .errors import UnknownNameError

if TYPE_CHECKING:
    from .pdes.base import PDE
    from .solver import Solver

ENTRY_POINT_GROUP = "sciml.solvers"
T = TypeVar("T", bound=type)

_SOLVERS: dict[str, type] = {}
_PDES: dict[str, type] = {}
_plugins_loaded = False
_pdes_loaded = False


def unknown_name_error(kind: str, name: str, known: list[str]) -> UnknownNameError:
    """Build the error for an unknown ``name``, naming close matches and all known names."""
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return UnknownNameError(
        f"unknown {kind} {name!r}{hint} (available: {', '.join(sorted(known)) or 'none'})"
    )


def _register(table: dict[str, type], kind: str, name: str, cls: type) -> None:
    existing = table.get(name)
    if existing is not None and existing is not cls:
        if f"{existing.__module__}.{existing.__qualname__}" != f"{cls.__module__}.{cls.__qualname__}":
            raise ValueError(f"{kind} name {name!r} is already registered by {existing!r}")
    table[name] = cls


def register_solver(name: str | None = None) -> Callable[[T], T]:
    """Class decorator registering a :class:`Solver` subclass under ``name`` (default: ``cls.name``)."""

    def decorate(cls: T) -> T:
        key = name or getattr(cls, "name", None)
        if not key:
            raise ValueError(f"solver {cls!r} has no name")
        cls.name = key  # type: ignore[attr-defined]
        _register(_SOLVERS, "solver", key, cls)
        return cls

    return decorate


def register_pde(name: str | None = None) -> Callable[[T], T]:
    """Class decorator registering a :class:`PDE` subclass under ``name`` (default: ``cls.name``)."""

    def decorate(cls: T) -> T:
        key = name or getattr(cls, "name", None)
        if not key:
            raise ValueError(f"PDE {cls!r} has no name")
        cls.name = key  # type: ignore[attr-defined]
        _register(_PDES, "PDE", key, cls)
        return cls

    return decorate


def load_plugins(force: bool = False) -> None:
    """Import every entry point of the ``sciml.solvers`` group (once)."""
    global _plugins_loaded
    if _plugins_loaded and not force:
        return
    _plugins_loaded = True
    from .solver import Solver

    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
        except Exception as exc:  # a broken plugin must not break the built-ins
            warnings.warn(f"could not load sciml solver plugin {ep.name!r} ({ep.value}): {exc}")
            continue
        if isinstance(obj, type) and issubclass(obj, Solver):
            register_solver(ep.name)(obj)
    # Built-ins are importable even when the distribution is not installed (e.g. a source tree).
    try:
        importlib.import_module("solvers")
    except ImportError:
        pass


def _load_pdes() -> None:
    global _pdes_loaded
    if not _pdes_loaded:
        _pdes_loaded = True
        importlib.import_module("sciml_core.pdes")


def get_solver(name: "str | type[Solver]") -> "type[Solver]":
    """Return the solver class registered as ``name`` (a class is returned unchanged)."""
    if isinstance(name, type):
        return name
    if name not in _SOLVERS:
        load_plugins()
    try:
        return _SOLVERS[name]
    except KeyError:
        raise unknown_name_error("solver", name, list(_SOLVERS)) from None


def list_solvers() -> "dict[str, type[Solver]]":
    """All registered solvers, by name."""
    load_plugins()
    return dict(sorted(_SOLVERS.items()))


def get_pde(name: "str | type[PDE]") -> "type[PDE]":
    """Return the PDE class registered as ``name`` (a class is returned unchanged)."""
    if isinstance(name, type):
        return name
    _load_pdes()
    try:
        return _PDES[name]
    except KeyError:
        raise unknown_name_error("PDE", name, list(_PDES)) from None


def list_pdes() -> "dict[str, type[PDE]]":
    """All registered PDEs, by name."""
    _load_pdes()
    return dict(sorted(_PDES.items()))
