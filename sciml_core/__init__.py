"""sciml_core: the shared core of the sciml framework (registry, PDEs, training, data, runs)."""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import (  # noqa: E402
    CheckpointError,
    ConfigError,
    DataError,
    DivergenceError,
    OutputError,
    SciMLError,
    UnknownNameError,
)
from .registry import get_pde, get_solver, list_pdes, list_solvers, register_pde, register_solver  # noqa: E402
from .solver import ReferenceSolver, Result, RunContext, Solver, SolverOutput  # noqa: E402
from .api import solve  # noqa: E402


__all__ = [
    "CheckpointError", "ConfigError", "DataError", "DivergenceError", "OutputError", "SciMLError",
    "UnknownNameError", "ReferenceSolver", "Result", "RunContext", "Solver", "SolverOutput",
    "get_pde", "get_solver", "list_pdes", "list_solvers", "register_pde", "register_solver", "solve", "__version__",
]
