"""Test-only PDE and reference solver for the data engine (exact heat equation in Fourier space).

They enter the registries only inside :func:`registered` (a test's fixture, or a subprocess
that calls :func:`register`), so no other test ever sees them in ``list_solvers()``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from sciml_core import registry
from sciml_core.pdes.base import PDE, Domain
from sciml_core.solver import ReferenceSolver, SolverOutput

TESTS = Path(__file__).resolve().parent

SPEC = """
description = "test: exact periodic heat equation, random Fourier initial states"
pde = "test-heat"
n_samples = 12
block_size = 2
dtype = "float64"

[pde_params]
kappa = 0.05

[parameters.kappa]
dist = "uniform"
low = 0.01
high = 0.1

[initial_condition]
kind = "fourier-series"
k_max = 6

[times]
t_end = 1.0
n_t = 9

[solver]
name = "test-exact-heat"
[solver.config]
nx = 32
"""


@dataclass
class HeatPDE(PDE):
    """u_t = kappa u_xx on [0, 2 pi) periodic."""

    name: ClassVar[str] = "test-heat"
    kappa: float = 0.05
    t_end: float = 1.0

    def domain(self) -> Domain:
        return Domain(bounds={"x": (0.0, 2 * np.pi)}, t=(0.0, self.t_end), periodic=("x",))


@dataclass
class HeatConfig:
    nx: int = 32
    slow_s: float = 0.0  # sleep per integrate call (lets the kill test catch a run midway)


class ExactHeat(ReferenceSolver):
    """Exact solution in Fourier space: u_hat(k, t) = u_hat(k, 0) exp(-kappa k^2 t)."""

    name: ClassVar[str] = "test-exact-heat"
    pdes: ClassVar[tuple[str, ...]] = ("test-heat",)
    Config: ClassVar[type] = HeatConfig

    def grid(self) -> dict[str, Any]:
        return {"x": 2 * np.pi * np.arange(self.config.nx) / self.config.nx}

    def integrate(self, initial: dict[str, Any], t_out: Any, t0: float = 0.0) -> dict[str, Any]:
        import time

        time.sleep(self.config.slow_s)
        u0 = np.asarray(initial["u"], dtype=np.float64)
        k = np.fft.rfftfreq(u0.shape[-1], d=1.0 / u0.shape[-1])
        with np.errstate(over="ignore", invalid="ignore"):  # kappa < 0 is the test of a blow-up
            decay = np.exp(-self.pde.kappa * k[None, :] ** 2 * (np.asarray(t_out)[:, None] - t0))
            return {"u": np.fft.irfft(np.fft.rfft(u0)[:, None, :] * decay[None], n=u0.shape[-1])}

    def run(self) -> SolverOutput:
        raise NotImplementedError


def write_spec(directory: Path, text: str = SPEC, name: str = "heat") -> Path:
    path = directory / f"{name}.toml"
    path.write_text(text)
    return path


def register() -> None:
    """Put the test PDE and solver into the registries (for a subprocess)."""
    registry.register_pde()(HeatPDE)
    registry.register_solver()(ExactHeat)


@contextmanager
def registered() -> Iterator[None]:
    """The test PDE and solver are registered inside this block only."""
    register()
    try:
        yield
    finally:
        registry._PDES.pop(HeatPDE.name, None)
        registry._SOLVERS.pop(ExactHeat.name, None)
