"""Pseudo-spectral references: convergence orders and exact solutions.

Measured slopes: spectral (geometric) convergence in n, 4th order in dt for ETDRK4 and
IF-RK4, 5th for the Dormand-Prince tableau; agreement with exact solutions of the heat,
advection-diffusion, periodic Burgers (Cole-Hopf) and Taylor-Green problems.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pytest

import solvers.spectral  # noqa: F401
from sciml_core.config import build_config
from sciml_core.pdes.base import PDE, Domain
from sciml_core.registry import get_pde, get_solver
from sciml_core.solver import RunContext
from solvers.spectral.integrators import DOPRI5_TABLEAU, IFRungeKutta

INTEGRATORS = ["spectral-etdrk4", "spectral-rk4", "spectral-dopri"]


def make(pde: PDE, name: str, **cfg: Any):  # type: ignore[no-untyped-def]
    cls = get_solver(name)
    return cls(pde, build_config(cls.Config, cfg), RunContext(progress=False))


def rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@dataclass
class AdvectionDiffusion(PDE):
    """u_t + c u_x = nu u_xx on [0, 2 pi): u = sum_k a_k exp(-nu k^2 t) sin(k (x - c t))."""

    name: ClassVar[str] = "test-advection-diffusion"
    nu: float = 0.1
    c: float = 1.0

    def domain(self) -> Domain:
        return Domain(bounds={"x": (0.0, 2 * np.pi)}, t=(0.0, 1.0), periodic=("x",))

    def initial_condition(self, x: Any) -> dict[str, Any]:
        return {"u": self.exact_solution(np.zeros(1), x)["u"][0]}

    def exact_solution(self, t: np.ndarray, x: np.ndarray) -> dict[str, np.ndarray]:
        t, x = np.asarray(t)[:, None], np.asarray(x)[None, :]
        return {"u": sum(a * np.exp(-self.nu * k**2 * t) * np.sin(k * (x - self.c * t)) for k, a in ((1, 1.0), (3, 0.5)))}

    def spectral_linear(self, k: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"u": -self.nu * k["x"] ** 2 - 1j * self.c * k["x"]}

    def spectral_nonlinear(self, u_hat: Any, ops: Any) -> Any:
        return 0 * u_hat


@dataclass
class Heat2D(PDE):
    """u_t = nu Lap u on [0, 2 pi)^2: u = exp(-5 nu t) sin(x) cos(2 y)."""

    name: ClassVar[str] = "test-heat-2d"
    nu: float = 0.3

    def domain(self) -> Domain:
        return Domain(bounds={"y": (0.0, 2 * np.pi), "x": (0.0, 2 * np.pi)}, t=(0.0, 1.0), periodic=("y", "x"))

    def reference_grid(self) -> dict[str, np.ndarray]:
        pts = 2 * np.pi * np.arange(16) / 16
        return {"t": np.linspace(0, 1, 5), "y": pts, "x": pts}

    def initial_condition(self, y: Any, x: Any) -> dict[str, Any]:
        return {"u": np.sin(x) * np.cos(2 * y)}

    def exact_solution(self, t: np.ndarray, y: np.ndarray, x: np.ndarray) -> dict[str, np.ndarray]:
        return {"u": np.exp(-5 * self.nu * t)[:, None, None] * (np.sin(x)[None, None, :] * np.cos(2 * y)[None, :, None])}

    def spectral_linear(self, k: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"u": -self.nu * (k["x"] ** 2 + k["y"] ** 2)}

    def spectral_nonlinear(self, u_hat: Any, ops: Any) -> Any:
        return 0 * u_hat


@pytest.mark.parametrize("name", INTEGRATORS)
def test_linear_problems_exact(name: str) -> None:
    """Linear parts are integrated exactly: advection-diffusion (complex symbol) and 2D heat."""
    pde = AdvectionDiffusion()
    s = make(pde, name, n=32, dt=0.25) if name != "spectral-dopri" else make(pde, name, n=32)
    x, t = s.grid()["x"], np.linspace(0, 1, 5)
    out = s.integrate({"u": pde.initial_condition(x)["u"][None]}, t)["u"][0]
    assert rel(out, pde.exact_solution(t, x)["u"]) < 1e-12
    result = make(Heat2D(), name, frames=5).run().solution
    assert result.u.dims == ("t", "y", "x")
    assert rel(result.u.values, result.u_ref.values) < 1e-12


def test_spectral_convergence_in_n() -> None:
    """Periodic Burgers before the front steepens (nu = 0.1/pi, t = 0.3) against Cole-Hopf:
    the error falls geometrically in n (a straight line on a log scale) down to round-off."""
    pde = get_pde("burgers-periodic").from_params(preset="smooth", params={"t_end": 0.3})
    ns, errs = [16, 32, 48, 64, 96, 128], []
    for n in ns:
        sol = make(pde, "spectral-dopri", n=n, frames=2, rtol=1e-13, atol=1e-15, dealias=False).run().solution
        errs.append(rel(sol.u.values[-1], sol.u_ref.values[-1]))
    rates = -np.diff(np.log10(errs)) / np.diff(ns)  # decades gained per extra grid point
    # geometric: a constant rate (straight line in log(err) vs n), not the slowing of a power law
    assert np.all(rates[:4] > 0.08) and rates[:4].max() < 1.5 * rates[:4].min(), (errs, rates)
    assert errs[0] > 1e-3 and errs[-1] < 1e-11, errs


def _dt_errors(integrator: str) -> tuple[list[float], list[float]]:
    pde = get_pde("allen-cahn").from_params({"d": 1e-2})
    t_end = 0.5
    ref_solver = make(pde, "spectral-dopri", n=64, rtol=1e-13, atol=1e-15)
    x = ref_solver.grid()["x"]
    ic = {"u": pde.initial_condition(x)["u"][None]}
    ref = ref_solver.integrate(ic, [t_end])["u"]
    dts, errs = [t_end / 10, t_end / 20, t_end / 40, t_end / 80], []
    for dt in dts:
        if integrator == "dopri5-fixed":
            s = make(pde, "spectral-rk4", n=64, dt=dt)
            s.make_integrator = lambda L, N, ops, dt=dt: IFRungeKutta(L, N, ops, dt, DOPRI5_TABLEAU)
        else:
            s = make(pde, integrator, n=64, dt=dt)
        errs.append(rel(s.integrate(ic, [t_end])["u"], ref))
    return dts, errs


@pytest.mark.parametrize("integrator, order", [("spectral-etdrk4", 4), ("spectral-rk4", 4), ("dopri5-fixed", 5)])
def test_time_order(integrator: str, order: int) -> None:
    """Observed order from a log-log fit of the error at t = 0.5 over four step sizes."""
    dts, errs = _dt_errors(integrator)
    slope = np.polyfit(np.log(dts), np.log(errs), 1)[0]
    assert abs(slope - order) < 0.15, (errs, slope)


def test_adaptive_dopri_meets_tolerance() -> None:
    """Tightening rtol by 1000x cuts the error by at least 100x; steps grow like rtol^(-1/5)."""
    pde = get_pde("allen-cahn").from_params({"d": 1e-2})
    ref_solver = make(pde, "spectral-dopri", n=64, rtol=1e-13, atol=1e-15)
    x = ref_solver.grid()["x"]
    ic = {"u": pde.initial_condition(x)["u"][None]}
    t = np.linspace(0, 1, 11)
    ref = ref_solver.integrate(ic, t)["u"]
    errs, steps = [], []
    for rtol in (1e-5, 1e-8):
        s = make(pde, "spectral-dopri", n=64, rtol=rtol, atol=1e-12)
        errs.append(rel(s.integrate(ic, t)["u"], ref))
        steps.append(s.last_stats["steps"])
    assert errs[0] < 1e-4 and errs[1] < errs[0] / 100, errs
    assert 2.0 < steps[1] / steps[0] < 6.0, steps  # 1000^(1/5) = 3.98


def test_burgers_cole_hopf_and_taylor_green() -> None:
    """run() adds <field>_ref from the exact solution; both references agree with it."""
    burgers = get_pde("burgers-periodic").from_params(preset="smooth", params={"t_end": 0.25})
    sol = make(burgers, "spectral-etdrk4", n=128, dt=1e-3, frames=6).run().solution
    assert rel(sol.u.values, sol.u_ref.values) < 1e-9
    tg = get_pde("navier-stokes-2d").from_params(preset="taylor-green", params={"n": 16, "t_end": 1.0, "frames": 3})
    sol = make(tg, "spectral-dopri").run().solution
    assert sol.w.dims == ("t", "y", "x")
    assert rel(sol.w.values, sol.w_ref.values) < 1e-12


def test_batch_backends_and_complex_form_agree() -> None:
    """A batch equals its members run alone; torch equals numpy; the complex form of the
    lambda-omega system equals the real (u, v) form."""
    pde = get_pde("reaction-diffusion").from_params(preset="stable-spiral", params={"n": 32, "length": 10.0})
    s = make(pde, "spectral-etdrk4", dt=0.05, backend="numpy")
    y, x = np.meshgrid(*s.grid().values(), indexing="ij")
    from sciml_core.pdes.reaction_diffusion import spiral_initial_condition

    ics = [spiral_initial_condition(x, y, 1), spiral_initial_condition(x, y, 2, 1.0, -0.5, 0.3)]
    batch = {f: np.stack([ic[f] for ic in ics]) for f in ("u", "v")}
    t = [0.5, 1.0]
    out = s.integrate(batch, t)
    assert out["u"].shape == (2, 2, 32, 32)
    single = s.integrate({f: batch[f][1:] for f in batch}, t)
    assert np.allclose(out["v"][1:], single["v"], rtol=0, atol=1e-13)
    torch_out = make(pde, "spectral-etdrk4", dt=0.05, backend="torch").integrate(batch, t)
    assert np.allclose(torch_out["u"], out["u"], rtol=0, atol=1e-11)
    real = make(pde, "spectral-dopri", rtol=1e-11, atol=1e-13, complex_form=False).integrate(batch, t)
    cplx = make(pde, "spectral-dopri", rtol=1e-11, atol=1e-13).integrate(batch, t)
    assert rel(cplx["u"], real["u"]) < 1e-8
    # the torch path of the Lawson stages (fused addcmul_ sums, phased real factors)
    cplx_torch = make(pde, "spectral-dopri", rtol=1e-11, atol=1e-13, backend="torch").integrate(batch, t)
    assert np.allclose(cplx_torch["v"], cplx["v"], rtol=0, atol=1e-11)


def test_dealiasing_switch() -> None:
    """2/3 rule on by default: the truncated modes of the state stay exactly zero."""
    pde = get_pde("kuramoto-sivashinsky").from_params(preset="chaotic", params={"t_end": 0.05})
    s = make(pde, "spectral-etdrk4", n=48, frames=2)
    u = s.run().solution.u.values[-1]
    spectrum = np.abs(np.fft.rfft(u))
    assert spectrum[17:].max() < 1e-12 * spectrum.max()
    u_alias = make(pde, "spectral-etdrk4", n=48, frames=2, dealias=False).run().solution.u.values[-1]
    assert np.abs(np.fft.rfft(u_alias))[17:].max() > 1e-8 * spectrum.max()


def test_output_times_do_not_disturb_step_control() -> None:
    """Saving 101 frames costs only the clipped steps: the controller keeps its step size."""
    pde = get_pde("allen-cahn").from_params({"d": 1e-2})
    x = make(pde, "spectral-dopri", n=64).grid()["x"]
    ic = {"u": pde.initial_condition(x)["u"][None]}
    runs = {}
    for frames in (2, 101):
        s = make(pde, "spectral-dopri", n=64, rtol=1e-7, atol=1e-10)
        u = s.integrate(ic, np.linspace(0, 1, frames))["u"][0, -1]
        runs[frames] = (u, s.last_stats["steps"], s.last_stats["rejected"])
    (u_few, steps_few, _), (u_many, steps_many, rejected_many) = runs[2], runs[101]
    assert steps_many <= steps_few + 100 and rejected_many <= 2, (steps_few, steps_many, rejected_many)
    assert rel(u_many, u_few) < 1e-6
