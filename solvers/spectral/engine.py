"""The shared engine of the pseudo-spectral references (one small class per integrator).

A PDE is solvable when its domain is periodic in every dim and it defines the hooks
``spectral_linear`` (diagonal symbol per field) and ``spectral_nonlinear`` (see
:mod:`sciml_core.pdes.base`).  The engine builds the Fourier grid, the dealiased nonlinear
term and the integrator, and offers both faces of :class:`~sciml_core.solver.ReferenceSolver`:

* ``integrate(initial, t_out, t0=0.0)`` -- batched arrays: ``initial[field]`` of shape
  ``(batch, *space)`` (dims order ``(y, x)``) -> ``out[field]`` of shape
  ``(batch, len(t_out), *space)``, float64 numpy.  Example, the Allen-Cahn reference on 512
  points used to grade PINNs::

      from sciml_core.config import build_config
      from sciml_core.registry import get_pde, get_solver
      from sciml_core.solver import RunContext

      pde = get_pde("allen-cahn").from_params(preset="d1e-4")
      cls = get_solver("spectral-etdrk4")
      solver = cls(pde, build_config(cls.Config, {"n": 512, "dt": 1e-5}), RunContext())
      x = solver.grid()["x"]                                   # (512,) periodic points
      u0 = pde.initial_condition(x=x)["u"][None]              # (1, 512)
      u = solver.integrate({"u": u0}, t_out=np.linspace(0, 1, 101))["u"][0]   # (101, 512)

* ``run()`` -- the PDE's own initial condition on the solver grid, frames at the PDE's
  reference times, an ``xarray.Dataset`` with dims ``(t, [y,] x)`` (plus ``<field>_ref``
  when the PDE has an exact solution), per-frame statistics and, for spiral waves, the
  regime; with a run directory: checkpoints every ``checkpoint_every`` frames (``--resume``
  continues bit-for-bit); a solution that turns non-finite stops the run with a
  :class:`~sciml_core.errors.DivergenceError` (exit 3); with ``error_estimate`` the metrics
  carry the run's own accuracy (see :meth:`SpectralSolver.error_estimate`).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import torch
import xarray as xr

from sciml_core.config import to_dict
from sciml_core.device import require_memory
from sciml_core.errors import CheckpointError, ConfigError, DivergenceError, NotImplementedForError
from sciml_core.metrics import rel_l2
from sciml_core.pdes.base import PDE
from sciml_core.progress import Progress
from sciml_core.solver import ReferenceSolver, RunContext, SolverOutput

from . import spirals
from .fourier import SpectralOps, field_stack, linear_symbol, split_fields
from .integrators import Integrator


@dataclass
class SpectralConfig:
    """Options shared by every pseudo-spectral integrator.

    n: points per dim (None: the PDE's reference grid); frames: output frames of ``run()``
    over [0, t_end] (None: the PDE's reference times); dealias: 2/3 rule on the nonlinear
    term (None: the PDE's default); backend: ``numpy`` (scipy.fft), ``torch`` (torch.fft on
    the run's device) or ``auto`` (torch on a GPU, numpy on CPU).  On a 2-core CPU ``torch``
    ran large states (n = 256, or batches) 1.6-2.5x faster than numpy, but its OpenMP
    threads stalled badly (40x) when other processes held the cores, so CPU runs default to
    numpy; precision: float64 or
    float32; workers: scipy.fft threads (-1: all cores); complex_form: evolve a PDE's complex
    pair of fields as one complex field when it offers one (see ``spectral_complex_pair``);
    checkpoint_every: frames between checkpoints in a run directory; plots: let ``solve()``
    write ``plots/`` (off for bulk runs such as dataset generation); error_estimate: after
    ``run()``, estimate the run's own time and space error from two reruns (at twice the
    step, and on 2n points in 1D / n/2 in 2D: measured 1.3-1.7x the plain run's cost in 1D,
    0.84x in 2D; see :meth:`SpectralSolver.error_estimate`).
    """

    n: int | None = None
    frames: int | None = None
    dealias: bool | None = None
    backend: Literal["auto", "numpy", "torch"] = "auto"
    precision: Literal["float64", "float32"] = "float64"
    workers: int = -1
    complex_form: bool = True
    checkpoint_every: int = 10
    error_estimate: bool = True
    plots: bool = True

    def validate(self) -> None:
        if self.n is not None and self.n < 4:
            raise ConfigError(f"n must be at least 4, got {self.n}")
        if self.frames is not None and self.frames < 2:
            raise ConfigError(f"frames must be at least 2, got {self.frames}")
        if self.checkpoint_every < 1:
            raise ConfigError(f"checkpoint_every must be at least 1, got {self.checkpoint_every}")
        if self.workers == 0:
            raise ConfigError("workers must be positive or -1 (all cores)")


@dataclass
class FixedStepConfig(SpectralConfig):
    """Options of the fixed-step integrators: ``dt`` (None: the PDE's ``spectral_dt``)."""

    dt: float | None = None

    def validate(self) -> None:
        super().validate()
        if self.dt is not None and not self.dt > 0:
            raise ConfigError(f"dt must be positive, got {self.dt}")


class SpectralSolver(ReferenceSolver):
    """Fourier pseudo-spectral reference; subclasses only build their :class:`Integrator`."""

    Config: ClassVar[type] = SpectralConfig
    pdes: ClassVar[tuple[str, ...]] = ()
    smoke_presets: ClassVar[tuple[str, ...]] = ()  # "quick" saves fewer frames, at the same accuracy

    @classmethod
    def supports(cls, pde: PDE) -> bool:
        dom = pde.domain()
        return type(pde).spectral_linear is not PDE.spectral_linear and set(dom.dims) == set(dom.periodic)

    def __init__(self, pde: PDE, config: Any, context: Any = None) -> None:
        super().__init__(pde, config, context)
        if not self.supports(pde):
            raise NotImplementedForError(
                f"{self.name} needs a PDE periodic in every dim with a pseudo-spectral form; "
                f"{pde.name!r} has none (try a finite-volume or PINN solver)"
            )
        self.config = self._resolve(config)
        self._ops: SpectralOps | None = None
        self.last_stats: dict[str, Any] = {}  # integrator counters of the last integrate()

    def _resolve(self, config: Any) -> Any:
        """Fill the automatic choices: ``n`` (the PDE's grid, when one size fits every dim),
        ``dealias`` (the PDE's choice), ``frames`` (when the reference times are evenly
        spaced) and, for fixed-step integrators, ``dt`` (the PDE's ``spectral_dt``)."""
        ref, changes = self.pde.reference_grid(), {}
        sizes = {len(ref[d]) for d in self.pde.domain().dims}
        if config.n is None and len(sizes) == 1:
            changes["n"] = sizes.pop()
        if config.dealias is None:
            changes["dealias"] = bool(self.pde.spectral_dealias)
        frames = self.even_frames(ref["t"]) if config.frames is None else None
        if frames is not None:
            changes["frames"] = frames
        if getattr(config, "dt", 0.0) is None:
            changes["dt"] = float(self.pde.spectral_dt)
        return dataclasses.replace(config, **changes) if changes else config

    def resolved_config(self) -> Any:
        """The resolved config (see :meth:`_resolve`); refuses a run that cannot fit in memory."""
        self.check_memory()
        return self.config

    def check_memory(self, batch: int = 1, frames: int | None = None) -> None:
        """Refuse (ConfigError naming the size) a run whose arrays cannot fit in memory: the
        saved frames and about 40 state-sized work arrays of the integrator."""
        dom, ref = self.pde.domain(), self.pde.reference_grid()
        points = 1
        for d in dom.dims:
            points *= int(self.config.n or len(ref[d]))
        n_frames = frames if frames is not None else (self.config.frames or len(ref["t"]))
        fields = len(self.pde.fields)
        need = 8 * points * fields * batch * (2 * n_frames + 40)
        require_memory(need, f"{self.name} on {points} grid points ({' x '.join([str(self.config.n or '?')] * len(dom.dims))})"
                       f" x {n_frames} frames")

    # ---- building blocks -----------------------------------------------------------------
    def fixed_dt(self) -> float:
        """The step of a fixed-step integrator: ``config.dt``, else the PDE's ``spectral_dt``."""
        return self.config.dt if self.config.dt is not None else self.pde.spectral_dt

    def make_integrator(self, L: np.ndarray, nonlinear: Any, ops: SpectralOps) -> Integrator:
        raise NotImplementedError

    @property
    def ops(self) -> SpectralOps:
        if self._ops is None:
            dom, ref = self.pde.domain(), self.pde.reference_grid()
            n = {d: self.config.n or len(ref[d]) for d in dom.dims}
            backend = self.config.backend
            if backend == "auto":
                backend = "torch" if self.context.device.type != "cpu" else "numpy"
            pair = self.pde.spectral_complex_pair() if self.config.complex_form else None
            self._ops = SpectralOps(dom.bounds, n, backend, self.config.precision,
                                    self.context.device, self.config.workers, pair)
        return self._ops

    @property
    def dealias(self) -> bool:
        return self.pde.spectral_dealias if self.config.dealias is None else self.config.dealias

    def nonlinear(self) -> Any:
        """The nonlinear term ``U -> mask * N(U)`` (mask only when dealiasing)."""
        ops, pde = self.ops, self.pde
        if not self.dealias:
            return lambda U: pde.spectral_nonlinear(U, ops)
        mask = ops.mask
        return lambda U: pde.spectral_nonlinear(U, ops) * mask

    def to_state(self, initial: dict[str, Any]) -> Any:
        """Fields ``(batch, *space)`` -> spectral state; with dealiasing the truncated modes are
        zeroed too, so they stay zero (else a growing linear symbol there would blow up)."""
        U = self.ops.fft(self.ops.asarray(field_stack(initial, self.pde.fields, self.ops)))
        return U * self.ops.mask if self.dealias else U

    def build_integrator(self) -> Integrator:
        return self.make_integrator(linear_symbol(self.pde, self.ops), self.nonlinear(), self.ops)

    def physical(self, U: Any) -> np.ndarray:
        """State ``(batch, n_components, *spectral)`` -> fields ``(batch, n_fields, *space)`` numpy."""
        parts = split_fields(self.ops.to_numpy(self.ops.ifft(U)), self.pde.fields, self.ops)
        return np.stack([parts[f] for f in self.pde.fields], axis=1)

    def grid(self) -> dict[str, np.ndarray]:
        return {d: self.ops.coords[d].copy() for d in self.ops.dims}

    # ---- batched array interface ---------------------------------------------------------
    def integrate(self, initial: dict[str, Any], t_out: Any, t0: float = 0.0) -> dict[str, np.ndarray]:
        """Advance a batch of initial states; see the module docstring (shapes, example)."""
        ops, fields = self.ops, self.pde.fields
        t_out = np.asarray(t_out, dtype=np.float64).reshape(-1)
        if t_out.size and (t_out[0] < t0 or np.any(np.diff(t_out) < 0)):
            raise ConfigError("t_out must be non-decreasing and start at or after t0")
        U = self.to_state(initial)
        out = np.empty((U.shape[0], t_out.size, len(fields), *ops.shape))
        integ = self.build_integrator()
        t = t0
        for i, t_next in enumerate(t_out):
            U = integ.advance(U, t, float(t_next))
            t = float(t_next)
            out[:, i] = self.physical(U)
        self.last_stats = integ.state_dict()
        return {f: out[:, :, j] for j, f in enumerate(fields)}

    # ---- run(): the PDE's own problem, with checkpoints -----------------------------------
    def times(self) -> np.ndarray:
        ref = self.pde.reference_grid()["t"]
        if self.config.frames is None:
            return np.asarray(ref, dtype=np.float64)
        return np.linspace(ref[0], ref[-1], self.config.frames)

    def _initial_state(self) -> dict[str, np.ndarray]:
        ic = self.pde.initial_condition(**self.ops.meshgrid())
        return {f: np.broadcast_to(ic[f], self.ops.shape)[None] for f in self.pde.fields}

    def _load_checkpoint(self, path: Any) -> dict[str, Any]:
        from sciml_core.train.checkpoint import load_checkpoint

        state = load_checkpoint(path)
        expect = {"pde": self.pde.params(), "config": to_dict(self.config), "solver": self.name}
        for key, value in expect.items():
            if state.get(key) != value:
                raise CheckpointError(f"checkpoint {str(path)!r} belongs to a different run ({key} differs)")
        return state

    def run(self) -> SolverOutput:
        self.check_memory()
        with np.errstate(all="ignore"):  # a blow-up is caught below, as a DivergenceError
            return self._run()

    def _run(self) -> SolverOutput:
        ops, fields, run_dir = self.ops, self.pde.fields, self.context.run
        t_out = self.times()
        integ = self.build_integrator()
        frames = np.empty((t_out.size, len(fields), *ops.shape))
        start, t = 0, float(t_out[0])
        U = self.to_state(self._initial_state())
        ckpt = run_dir.checkpoint if run_dir is not None else None
        if self.context.resume and ckpt is not None and ckpt.exists():
            state = self._load_checkpoint(ckpt)
            start, t = state["done"], float(t_out[state["done"] - 1])
            frames[:start] = state["frames"].numpy()
            U = ops.asarray(torch.view_as_complex(state["U"]).numpy())
            integ.load_state_dict(state["integrator"])
        t_start, status, message = time.perf_counter(), "success", ""
        progress = Progress(f"{self.name} {self.pde.name}", t_out.size, initial=start, noun="frame",
                            enabled=self.context.progress)
        done, saved = start, (start if start > 0 else None)
        for i in range(start, t_out.size):
            U = integ.advance(U, t, float(t_out[i]))
            t = float(t_out[i])
            frames[i] = self.physical(U)[0]
            if not np.isfinite(frames[i]).all():
                progress.close()
                where = (f"the last good checkpoint is {str(ckpt)!r} (frame {saved})" if saved is not None
                         else "no checkpoint had been written yet")
                raise DivergenceError(f"{self.name}: the solution became non-finite at t = {t:.6g} (frame {i + 1} "
                                      f"of {t_out.size}; unstable step or parameters?); {where}")
            done = i + 1
            progress.update(done)
            over_budget = self.context.budget_s is not None and time.perf_counter() - t_start > self.context.budget_s
            if ckpt is not None and (done % self.config.checkpoint_every == 0 or over_budget) and done < t_out.size:
                self._save_checkpoint(ckpt, done, frames, U, integ)
                saved = done
            if over_budget and done < t_out.size:
                status = "budget_exhausted"
                message = f"stopped at t = {t:.6g} after {done} of {t_out.size} frames; rerun with --resume"
                break
        progress.close()
        output = self._output(t_out[:done], frames[:done], integ, status, message)
        if self.config.error_estimate and status == "success":
            output.metrics.update(self.error_estimate(t_out, frames, integ.order, integ.steps))
        return output

    # ---- the run's own accuracy -----------------------------------------------------------
    def coarse_config(self) -> dict[str, Any]:
        """Config changes of the rerun that estimates the time error: twice the step (fixed-step
        integrators; Dormand-Prince overrides this with 32x looser tolerances)."""
        return {"dt": 2 * self.fixed_dt()}

    def step_ratio(self, fine_steps: int, coarse_steps: int) -> float:
        """How much longer the coarse rerun's steps were: fixed-step integrators split every
        output interval into equal steps, so the ratio of the step counts (2 unless rounding)."""
        return fine_steps / max(coarse_steps, 1)

    def error_estimate(self, t_out: np.ndarray, frames: np.ndarray, order: int, fine_steps: int) -> dict[str, Any]:
        """The run's own accuracy, as relative L2 errors over every saved frame:

        * ``time_error_estimate`` -- Richardson: ``||u - u_c|| / ||u|| / (r^p - 1)`` with
          ``u_c`` the rerun of :meth:`coarse_config` (steps r = 2 times longer, so the error of
          an order-p method grows r^p-fold; for the adaptive solver 32x looser tolerances, whose
          error grows about 32-fold = 2^5 under tolerance proportionality);
        * 1D: ``space_error_estimate`` -- ``||u - u_2n|| / ||u||`` on the common points, with
          ``u_2n`` the same run on twice the points (about the cost of the run): the
          error of ``u`` itself, to within the (much smaller) error of ``u_2n``;
        * 2D/3D: ``space_error_bound`` -- the same against the grid of n/2 points per dim (a
          quarter of the cost in 2D): an upper bound of the spatial error whenever halving n at
          least doubles it, pessimistic for smooth solutions, whose error falls much faster.
        """
        start = time.perf_counter()
        out: dict[str, Any] = {}
        fine = frames.transpose(1, 0, *range(2, frames.ndim))  # (fields, t, *space)
        context = RunContext(device=self.context.device, dtype=self.context.dtype, progress=False)

        def rerun(**changes: Any) -> tuple[np.ndarray | None, int]:
            config = dataclasses.replace(self.config, error_estimate=False, **changes)
            solver = type(self)(self.pde, config, context)
            try:
                result = solver.integrate(solver._initial_state(), t_out)
            except (FloatingPointError, RuntimeError):  # the rerun failed: no estimate
                return None, 0
            values = np.stack([result[f][0] for f in self.pde.fields])
            return (values if np.isfinite(values).all() else None), int(solver.last_stats.get("steps", 0))

        coarse, coarse_steps = rerun(**self.coarse_config())
        if coarse is not None:
            ratio = self.step_ratio(fine_steps, coarse_steps)
            out["time_error_estimate"] = rel_l2(fine, coarse) / (ratio**order - 1) if ratio > 1 else None
        else:
            out["time_error_estimate"] = None
        n, every_other = self.ops.shape, (slice(None), slice(None), *[slice(None, None, 2)] * len(self.ops.shape))
        if len(n) == 1:
            double = rerun(n=2 * n[0])[0]
            out["space_error_estimate"] = rel_l2(fine, double[every_other]) if double is not None else None
        else:
            ok = len(set(n)) == 1 and n[0] % 2 == 0 and n[0] >= 8
            half = rerun(n=n[0] // 2)[0] if ok else None
            out["space_error_bound"] = rel_l2(fine[every_other], half) if half is not None else None
        out["error_estimate_s"] = round(time.perf_counter() - start, 3)
        return out

    def _save_checkpoint(self, path: Any, done: int, frames: np.ndarray, U: Any, integ: Integrator) -> None:
        from sciml_core.train.checkpoint import save_checkpoint

        U_np = np.ascontiguousarray(self.ops.to_numpy(U), dtype=np.complex128)
        save_checkpoint(path, {
            "solver": self.name, "pde": self.pde.params(), "config": to_dict(self.config), "done": done,
            "frames": torch.from_numpy(frames[:done].copy()), "U": torch.view_as_real(torch.from_numpy(U_np)),
            "integrator": integ.state_dict(),
        })

    def _output(self, t: np.ndarray, frames: np.ndarray, integ: Integrator, status: str, message: str) -> SolverOutput:
        ops, fields, dims = self.ops, self.pde.fields, self.ops.dims
        data = {f: (("t", *dims), frames[:, j]) for j, f in enumerate(fields)}
        exact = self.pde.exact_solution(t, **{d: ops.coords[d] for d in dims})
        for f, ref in (exact or {}).items():
            data[f"{f}_ref"] = (("t", *dims), np.asarray(ref))
        attrs = {"pde": self.pde.name, "solver": self.name, "pde_params": repr(self.pde.params()),
                 "solver_config": repr(to_dict(self.config)), "integrator_order": integ.order}
        solution = xr.Dataset(data, coords={"t": t, **{d: ops.coords[d] for d in dims}}, attrs=attrs)
        stats = spirals.frame_statistics(frames[:, 0])
        metrics: dict[str, Any] = {**integ.state_dict(), "n": list(ops.shape), "frames": int(t.size),
                                   "final_stats": {k: float(v[-1]) for k, v in stats.items()}}
        if self.pde.name == "reaction-diffusion" and t.size >= 4:
            metrics["regime"] = spirals.classify_regime(frames[:, 0], frames[:, 1])
            metrics["regime_features"] = spirals.regime_features(frames[:, 0], frames[:, 1])
        return SolverOutput(solution=solution, steps=integ.steps, metrics=metrics, status=status, message=message)
