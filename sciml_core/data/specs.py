"""Dataset specs: one TOML file per dataset in ``datasets/``.

A spec names everything that determines the data, so that (spec, seed, sample index) fixes
every sample bit for bit::

    description = "Burgers 1D, PDEBench-style random sines"
    pde = "burgers-periodic"          # registry name; optional preset = "..."
    n_samples = 64                    # default sample count (--n-samples overrides)
    block_size = 8                    # samples integrated together (fixed blocks of indices)
    dtype = "float32"                 # storage dtype; solvers always integrate in float64

    [pde_params]                      # fixed PDE parameters
    nu = 0.01
    [parameters.nu]                   # per-sample random PDE parameters (override pde_params)
    dist = "loguniform"               # uniform | loguniform | normal | choice
    low = 1e-3
    high = 1e-1

    [initial_condition]               # kind + that kind's options (initial_conditions.py)
    kind = "sine-sum"

    [times]                           # output frames: linspace(t_start, t_end, n_t)
    t_end = 2.0                       # default: the PDE's own t_end
    n_t = 101

    [solver]
    name = "spectral-etdrk4"
    [solver.config]                   # the solver's Config (grid size, step, tolerances)

Unknown keys and out-of-range values raise :class:`ConfigError` naming the spec file.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..config import build_config, check_plain_name, deep_merge, read_toml
from ..errors import ConfigError

DATASETS_DIR = Path(__file__).resolve().parents[2] / "datasets"


@dataclass
class Distribution:
    """A per-sample random parameter: ``uniform``/``loguniform`` on [low, high), ``normal``, ``choice``."""

    dist: Literal["uniform", "loguniform", "normal", "choice"] = "uniform"
    low: float = 0.0
    high: float = 1.0
    mean: float = 0.0
    std: float = 1.0
    values: tuple[float, ...] = ()

    def validate(self) -> None:
        if self.dist in ("uniform", "loguniform") and not self.low < self.high:
            raise ConfigError(f"needs low < high, got low={self.low}, high={self.high}")
        if self.dist == "loguniform" and self.low <= 0:
            raise ConfigError(f"loguniform needs low > 0, got {self.low}")
        if self.dist == "normal" and self.std < 0:
            raise ConfigError(f"normal needs std >= 0, got {self.std}")
        if self.dist == "choice" and not self.values:
            raise ConfigError("choice needs a non-empty list of values")

    def sample(self, rng: np.random.Generator) -> float:
        """Draw one value (always consumes exactly one draw of ``rng``)."""
        if self.dist == "uniform":
            return float(rng.uniform(self.low, self.high))
        if self.dist == "loguniform":
            return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))
        if self.dist == "normal":
            return float(rng.normal(self.mean, self.std))
        return float(self.values[int(rng.integers(len(self.values)))])


@dataclass
class Times:
    """Output times ``linspace(t_start, t_end, n_t)``; integration always starts at t = 0."""

    t_end: float | None = None
    t_start: float = 0.0
    n_t: int = 101

    def validate(self) -> None:
        if self.n_t < 1:
            raise ConfigError(f"times.n_t must be >= 1, got {self.n_t}")
        if self.t_start < 0:
            raise ConfigError(f"times.t_start must be >= 0, got {self.t_start}")
        if self.t_end is not None and not self.t_end > self.t_start:
            raise ConfigError(f"times.t_end must exceed t_start, got {self.t_end} <= {self.t_start}")

    def values(self, default_t_end: float) -> np.ndarray:
        t_end = self.t_end if self.t_end is not None else default_t_end
        return np.linspace(self.t_start, t_end, self.n_t)


@dataclass
class SolverSpec:
    """Registered reference solver, its config overrides and the device it runs on."""

    name: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    device: str = "cpu"


@dataclass
class DatasetSpec:
    """A resolved dataset spec (see the module docstring)."""

    name: str = ""
    description: str = ""
    pde: str = ""
    preset: str | None = None
    n_samples: int = 16
    block_size: int = 8
    dtype: Literal["float32", "float64"] = "float32"
    pde_params: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    initial_condition: dict[str, Any] = field(default_factory=dict)
    times: Times = field(default_factory=Times)
    solver: SolverSpec = field(default_factory=SolverSpec)

    def validate(self) -> None:
        check_plain_name(self.name, "name")
        if not self.pde:
            raise ConfigError("'pde' is required")
        if not self.solver.name:
            raise ConfigError("'solver.name' is required")
        if self.n_samples < 1:
            raise ConfigError(f"n_samples must be >= 1, got {self.n_samples}")
        if self.block_size < 1:
            raise ConfigError(f"block_size must be >= 1, got {self.block_size}")
        if "kind" not in self.initial_condition:
            raise ConfigError("'initial_condition.kind' is required")
        for key, value in self.parameters.items():
            if not isinstance(value, Mapping):
                raise ConfigError(f"parameters.{key} must be a table such as {{dist = 'uniform', low = 0, high = 1}}")
            try:
                build_config(Distribution, value, prefix=f"parameters.{key}.")
            except ConfigError as exc:
                text = str(exc)
                raise ConfigError(text if f"parameters.{key}" in text else f"parameters.{key}: {text}") from None

    def distributions(self) -> dict[str, Distribution]:
        """Per-sample parameter distributions, in sorted name order (the order they are drawn)."""
        return {k: build_config(Distribution, self.parameters[k]) for k in sorted(self.parameters)}

    def as_dict(self) -> dict[str, Any]:
        """Plain data (stored in the file's ``spec`` attr)."""
        from ..config import to_dict

        return to_dict(self)


def _spec_path(spec: str | Path) -> Path:
    path = Path(spec)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise ConfigError(f"dataset spec {str(path)!r} does not exist")
        return path
    candidate = DATASETS_DIR / f"{spec}.toml"
    if not candidate.is_file():
        from ..registry import unknown_name_error

        raise unknown_name_error("dataset", str(spec), list(list_datasets()))
    return candidate


def load_spec(spec: str | Path, overrides: Mapping[str, Any] | None = None) -> DatasetSpec:
    """Load a spec by file path or by name (``datasets/<name>.toml``), with ``--set`` overrides."""
    path = _spec_path(spec)
    raw = read_toml(path)
    raw.setdefault("name", path.stem)
    raw = deep_merge(raw, overrides or {})
    try:
        return build_config(DatasetSpec, raw)
    except ConfigError as exc:
        raise ConfigError(f"dataset spec {str(path)!r}: {exc}") from None


def list_datasets() -> dict[str, str]:
    """Dataset specs shipped in ``datasets/``: name -> description (for ``sciml list``)."""
    out = {}
    for path in sorted(DATASETS_DIR.glob("*.toml")):
        try:
            out[path.stem] = str(read_toml(path).get("description", ""))
        except ConfigError as exc:
            out[path.stem] = f"(unreadable: {exc})"
    return out


def missing_generator(spec: DatasetSpec) -> str | None:
    """What a spec needs that is not registered (its PDE, solver), or None when it can be generated."""
    from ..registry import list_pdes, list_solvers

    missing = [f"PDE {spec.pde!r}"] if spec.pde not in list_pdes() else []
    if spec.solver.name not in list_solvers():
        missing.append(f"solver {spec.solver.name!r}")
    return " and ".join(missing) or None
