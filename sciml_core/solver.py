"""The solver contract shared by every method family.

Rules a :class:`Solver` subclass follows:

1. It sets ``name`` (registry key), ``kind`` (``"reference"``, ``"pinn"`` or ``"operator"``),
   ``Config`` (a dataclass, see :mod:`sciml_core.config`) and ``presets`` (at least
   ``"quick"`` and ``"default"``; each a dict of overrides of ``Config``'s defaults).
   ``pde_presets[pde_name][preset]`` optionally refines a preset for one PDE (merged on top),
   so one preset name can mean a tuned setup per problem.
2. ``supports(pde)`` says whether it can solve a PDE instance (default: ``pde.name`` in
   ``pdes``, or any PDE when ``pdes`` is empty).
3. ``run()`` does the work and returns a :class:`SolverOutput`; it writes only inside
   ``context.run`` (when given) and reports progress through ``context.progress``.
   References integrate the PDE's initial condition, PINNs train on the PDE instance,
   operators train on ``context.data`` and roll out on held-out samples.
4. The solution is an ``xarray.Dataset`` with dims ordered ``(sample, t, y, x)`` (absent ones
   left out), a variable per field and, when a reference exists, ``<field>_ref`` beside it.

:func:`sciml_core.solve` drives any solver and writes the run directory.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import torch

if TYPE_CHECKING:
    import xarray as xr

    from .pdes.base import PDE
    from .run import RunDirectory

SolverKind = Literal["reference", "pinn", "operator"]


@dataclass
class RunContext:
    """Everything about *how* to run that is not the method's own config."""

    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    dtype: torch.dtype = torch.float32
    seed: int = 0
    budget_s: float | None = None
    resume: bool = False
    data: Path | None = None
    run: "RunDirectory | None" = None
    progress: bool = True


@dataclass
class SolverOutput:
    """What :meth:`Solver.run` returns; :func:`sciml_core.solve` turns it into a Result."""

    solution: "xr.Dataset"
    steps: int = 0
    n_params: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)
    status: str = "success"
    message: str = ""


@dataclass
class Result:
    """Outcome of :func:`sciml_core.solve`.

    ``solution``: xarray Dataset (fields and ``<field>_ref``); ``metrics``: at least pde,
    solver, kind, rel_l2, wall_s, steps, device, dtype, n_params; ``run_dir``: where the
    run directory was written (None for in-memory runs); ``status`` is ``"success"`` or
    ``"budget_exhausted"``, with a human ``message``.
    """

    solution: "xr.Dataset"
    metrics: dict[str, Any]
    run_dir: Path | None
    status: str = "success"
    message: str = ""

    @property
    def success(self) -> bool:
        return self.status in ("success", "budget_exhausted")


class Solver(abc.ABC):
    """Base class of every registered method (see the module docstring for the contract)."""

    name: ClassVar[str] = ""
    kind: ClassVar[SolverKind]
    description: ClassVar[str] = ""
    pdes: ClassVar[tuple[str, ...]] = ()
    Config: ClassVar[type]
    presets: ClassVar[dict[str, dict[str, Any]]] = {"quick": {}, "default": {}}
    pde_presets: ClassVar[dict[str, dict[str, dict[str, Any]]]] = {}
    #: presets that only exercise the pipeline (few steps): metrics and the run summary say so
    smoke_presets: ClassVar[tuple[str, ...]] = ("quick",)

    @classmethod
    def preset_config(cls, preset: str, pde_name: str) -> dict[str, Any]:
        """The overrides of ``preset`` for ``pde_name`` (the generic preset, refined per PDE)."""
        from .config import deep_merge

        return deep_merge(cls.presets.get(preset, {}), cls.pde_presets.get(pde_name, {}).get(preset, {}))

    def __init__(self, pde: "PDE", config: Any, context: RunContext | None = None) -> None:
        self.pde = pde
        self.config = config
        self.context = context or RunContext()

    @classmethod
    def supports(cls, pde: "PDE") -> bool:
        return not cls.pdes or pde.name in cls.pdes

    def resolved_config(self) -> Any:
        """The config with every automatic choice made (a None default replaced by the value this
        run uses, e.g. the grid size or step), as ``config.toml`` records it; may refuse a
        config that cannot run here (a grid too large for memory).  Default: the config as is."""
        return self.config

    @abc.abstractmethod
    def run(self) -> SolverOutput:
        """Solve the problem; see the module docstring."""


class ReferenceSolver(Solver):
    """A numerical reference (``kind = "reference"``), also the engine of dataset generation.

    Besides :meth:`run` (integrate the PDE's own initial condition and return the solution),
    a reference exposes a batched, array-level interface used by ``sciml data generate``:

    * :meth:`grid` -- the 1-D spatial coordinate arrays it computes on (from its config and
      the PDE's domain), e.g. ``{"y": (ny,), "x": (nx,)}`` in dims order;
    * :meth:`integrate` -- advance a batch of initial states, ``initial[field]`` of shape
      ``(batch, *space)``, and return ``out[field]`` of shape ``(batch, len(t_out), *space)``
      at the requested output times (``t_out[0]`` may equal the start time ``t0``).

    A reference with ``batched_params = True`` also takes ``integrate(..., params=...)``:
    ``{name: (batch,) array}`` of per-sample PDE parameters and initial-condition draws, so
    that samples with different parameters (or a per-sample forcing) form one batch.
    """

    kind: ClassVar[SolverKind] = "reference"
    batched_params: ClassVar[bool] = False

    @staticmethod
    def even_frames(t: Any) -> int | None:
        """``len(t)`` when the times ``t`` are evenly spaced from ``t[0]`` to ``t[-1]`` (so that a
        ``frames`` setting reproduces them, as ``config.toml`` records it), else None."""
        import numpy as np

        t = np.asarray(t, dtype=np.float64)
        return int(t.size) if t.size >= 2 and np.array_equal(np.linspace(t[0], t[-1], t.size), t) else None

    @abc.abstractmethod
    def grid(self) -> dict[str, Any]:
        """Spatial coordinates (1-D numpy arrays), in dims order."""

    @abc.abstractmethod
    def integrate(self, initial: dict[str, Any], t_out: Any, t0: float = 0.0) -> dict[str, Any]:
        """Integrate a batch of initial states; see the class docstring for shapes."""
