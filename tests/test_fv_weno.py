"""fv-weno5: WENO5 order, non-oscillation on shocks, the Godunov flux, mass balance, batching."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pytest
import torch

from sciml_core.config import build_config
from sciml_core.errors import ConfigError, DataError, NotImplementedForError
from sciml_core.pdes.base import PDE, Domain, FluxForm
from sciml_core.registry import get_pde
from solvers.finite_volume.dopri5 import DormandPrince
from solvers.finite_volume.engine import WenoSolver, cell_averages
from solvers.finite_volume.weno import godunov_flux, rusanov_flux, second_derivative, third_derivative

L = 16.0


@dataclass
class Advection(PDE):
    """Test-only: u_t + c u_x = 0 on [0, 16) periodic."""

    name: ClassVar[str] = "test-advection"
    speed: float = 1.0

    def domain(self) -> Domain:
        return Domain(bounds={"x": (0.0, L)}, t=(0.0, self.t_end), periodic=("x",))

    def flux_form(self, samples: Any = None, batch: int = 1) -> FluxForm:
        zero, none = np.zeros(batch), np.zeros((batch, 0))
        return FluxForm(speed=np.full(batch, self.speed), alpha=zero, beta=zero, gamma=zero,
                        amplitude=none, omega=none, wavenumber=none, phase=none)


def solver(pde: PDE, **config: Any) -> WenoSolver:
    return WenoSolver(pde, build_config(WenoSolver.Config, config))


def unforced(**params: Any) -> PDE:
    empty = {f"forcing_{k}": [] for k in ("amplitude", "omega", "wavenumber", "phase")}
    return get_pde("combined-equation").from_params({**empty, **params})


def total_variation(u: np.ndarray) -> np.ndarray:
    return np.abs(u - np.roll(u, 1, axis=-1)).sum(-1)


def test_fifth_order_on_smooth_advection() -> None:
    f = lambda x: np.sin(2 * np.pi * x / L)  # noqa: E731
    errors = []
    for n in (20, 40, 80):
        s = solver(Advection(), n=n, rtol=1e-11, atol=1e-13)
        x = s.grid()["x"]
        u = s.integrate({"u": cell_averages(f, x, s.dx)[None]}, [0.0, 4.0])["u"][0, -1]
        errors.append(np.abs(u - cell_averages(lambda y: f(y - 4.0), x, s.dx)).mean())
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert orders.min() > 4.8, (errors, orders)


def test_no_total_variation_growth_on_shocks() -> None:
    pde = unforced()  # inviscid Burgers, alpha = 1
    x = solver(pde, n=100).grid()["x"]
    smooth = np.sin(2 * np.pi * x / L) + 0.5  # steepens into a shock near t = 16 / (2 pi)
    step = np.where(x < 8, 1.0, -0.5)  # a shock and a transonic rarefaction
    for flux in ("godunov", "lax-friedrichs"):
        u = solver(pde, n=100, flux=flux).integrate({"u": np.stack([smooth, step])}, np.linspace(0, 6, 31))["u"]
        tv = total_variation(u)
        assert tv[0, -1] < 0.9 * tv[0, 0]  # the shock formed and dissipates variation
        assert (tv[0] <= tv[0, 0] + 1e-10).all(), flux
        assert (tv[1] <= tv[1, 0] * (1 + 1e-3)).all(), flux  # essentially: WENO is not strictly TVD
    # linear weights (eps >> smoothness indicators) are the unlimited 5th-order scheme: it oscillates
    u = solver(pde, n=100, weno_eps=1e3).integrate({"u": step[None]}, np.linspace(0, 6, 31))["u"]
    assert total_variation(u)[0].max() > 1.05 * total_variation(step[None])[0]


def _exact_godunov(ul: float, ur: float, c: float, a: float) -> float:
    u = np.linspace(min(ul, ur), max(ul, ur), 20001)
    f = c * u + 0.5 * a * u * u
    return float(f.min() if ul <= ur else f.max())


@pytest.mark.parametrize("c, a", [(0.0, 1.0), (0.7, 2.0), (0.0, -1.5), (1.2, 0.0), (-0.8, 0.0)])
def test_godunov_flux_is_the_riemann_flux(c: float, a: float) -> None:
    rng = np.random.default_rng(1)
    ul, ur = rng.uniform(-2, 2, (2, 400))
    ul[:3], ur[:3] = (-1.0, 1.0, 0.5), (1.0, -1.0, 0.5)  # transonic rarefaction, shock, equal
    speed, alpha = torch.full((1, 1), c, dtype=torch.float64), torch.full((1, 1), a, dtype=torch.float64)
    got = godunov_flux(torch.as_tensor(ul)[None], torch.as_tensor(ur)[None], speed, alpha)[0].numpy()
    expect = np.array([_exact_godunov(l_, r_, c, a) for l_, r_ in zip(ul, ur)])
    np.testing.assert_allclose(got, expect, atol=2e-8)
    lf = rusanov_flux(torch.as_tensor(ul)[None], torch.as_tensor(ur)[None], speed, alpha)[0].numpy()
    f = lambda u: c * u + 0.5 * a * u * u  # noqa: E731
    np.testing.assert_allclose(lf[2], f(0.5))  # consistent, and an E-flux, more dissipative than Godunov's
    rising = ul <= ur
    assert np.all(lf[rising] <= got[rising] + 1e-12) and np.all(lf[~rising] >= got[~rising] - 1e-12)
    assert np.abs(lf - got).max() > 0.1 or a == 0  # (linear flux: both are upwinding)


def test_fourth_order_differences() -> None:
    errors = []
    for n in (32, 64):
        x = torch.arange(n, dtype=torch.float64) * (L / n)
        u = torch.sin(2 * np.pi * x / L)[None]
        k = 2 * np.pi / L
        e2 = (second_derivative(u, L / n) + k**2 * u).abs().max()
        e3 = (third_derivative(u, L / n) + k**3 * torch.cos(k * x)).abs().max()
        errors.append((float(e2), float(e3)))
    for i in range(2):
        assert np.log2(errors[0][i] / errors[1][i]) > 3.9


def test_mass_changes_only_by_the_forcing_integral() -> None:
    # E1 with the default forcing plus a spatially uniform wave (l = 0), whose integral is not zero:
    # d/dt int u dx = L A sin(omega t + phi)  ->  M(t) = M(0) + L A (cos phi - cos(omega t + phi)) / omega
    base = get_pde("combined-equation").from_params(preset="E1")
    A, w, phi = 0.3, 0.25, 0.4
    pde = base.replace(forcing_amplitude=(*base.forcing_amplitude, A), forcing_omega=(*base.forcing_omega, w),
                       forcing_wavenumber=(*base.forcing_wavenumber, 0.0), forcing_phase=(*base.forcing_phase, phi))
    out = solver(pde, n=64, frames=41).run()
    u, t = out.solution["u"].values, out.solution["t"].values
    mass = u.sum(-1) * (L / 64)
    expect = mass[0] + L * A * (np.cos(phi) - np.cos(w * t + phi)) / w
    np.testing.assert_allclose(mass, expect, atol=1e-7)
    assert np.ptp(expect) > 1.0  # the check is not trivially satisfied
    assert np.abs(u[-1] - u[0]).max() > 0.1  # and the solution did evolve


def test_batch_with_per_sample_parameters_equals_one_at_a_time() -> None:
    pde = get_pde("combined-equation").from_params({"t_end": 1.0})
    s = solver(pde, n=40)
    x = s.grid()["x"]
    rng = np.random.default_rng(0)
    params = {"alpha": rng.uniform(0, 3, 3), "beta": np.array([0.0, 0.1, 0.3]), "gamma": np.array([0.0, 0.5, 0.2])}
    for key in ("A", "omega", "l", "phi"):
        for j in range(2):
            params[f"{key}{j}"] = rng.integers(1, 3, 3).astype(float) if key == "l" else rng.uniform(-0.5, 0.5, 3)
    u0 = np.stack([np.sin(2 * np.pi * x / L + p) for p in range(3)])
    t_out = np.linspace(0, 1.0, 11)
    batch = s.integrate({"u": u0}, t_out, params=params)["u"]
    alone = [s.integrate({"u": u0[i : i + 1]}, t_out, params={k: v[i : i + 1] for k, v in params.items()})["u"][0]
             for i in range(3)]
    np.testing.assert_allclose(batch, np.stack(alone), rtol=0, atol=1e-12)
    assert s.last_stats["steps_max"] > 0
    # a sample's own PDE instance gives the same trajectory as its row of params
    own = pde.replace(alpha=float(params["alpha"][1]), beta=0.1, gamma=0.5,
                      forcing_amplitude=tuple(params[f"A{j}"][1] for j in range(2)),
                      forcing_omega=tuple(params[f"omega{j}"][1] for j in range(2)),
                      forcing_wavenumber=tuple(params[f"l{j}"][1] for j in range(2)),
                      forcing_phase=tuple(params[f"phi{j}"][1] for j in range(2)))
    np.testing.assert_allclose(solver(own, n=40).integrate({"u": u0[1:2]}, t_out)["u"][0], batch[1], atol=1e-12)


def test_dense_output_is_accurate_between_steps() -> None:
    class Decay:  # u' = -r_b (1 + cos t) u: samples with different rates take different steps
        def __init__(self, rate: torch.Tensor) -> None:
            self.rate = rate

        def __call__(self, t: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
            return -u * (self.rate * (1 + torch.cos(t)))[:, None]

        def select(self, rows: torch.Tensor) -> "Decay":
            return Decay(self.rate[rows])

    t_out = np.linspace(0.0, 3.0, 301)  # far more frames than steps
    rate = torch.tensor([1.0, 2.5, 0.3], dtype=torch.float64)
    integ = DormandPrince(rtol=1e-9, atol=1e-12)
    u = integ.solve(Decay(rate), torch.ones(3, 2, dtype=torch.float64), 0.0, t_out)
    exact = np.exp(-rate.numpy()[:, None] * (t_out + np.sin(t_out)))
    np.testing.assert_allclose(u[:, :, 1].numpy(), exact, rtol=1e-7, atol=1e-12)
    assert integ.stats["steps_max"] < 301 and integ.stats["steps_mean"] < integ.stats["steps_max"]


def test_grid_run_and_errors() -> None:
    pde = get_pde("combined-equation").from_params({})
    s = solver(pde)
    assert s.grid()["x"].shape == (200,) and s.grid()["x"][1] == pytest.approx(0.08)
    with pytest.raises(DataError, match=r"expected \(batch, 200\)"):
        s.integrate({"u": np.zeros((1, 50))}, [0.0, 1.0])
    with pytest.raises(ConfigError, match="non-decreasing"):
        s.integrate({"u": np.zeros((1, 200))}, [1.0, 0.5])
    with pytest.raises(ConfigError, match="n must be at least 7"):
        build_config(WenoSolver.Config, {"n": 4})
    with pytest.raises(NotImplementedForError, match="finite-volume form"):
        WenoSolver(get_pde("allen-cahn").from_params({}), build_config(WenoSolver.Config, {}))
    out = solver(pde, n=32, frames=5).run()
    assert out.solution["u"].dims == ("t", "x") and out.solution["u"].shape == (5, 32)
    assert out.metrics["mass_end"] == pytest.approx(out.metrics["mass_start"], abs=1e-12)
