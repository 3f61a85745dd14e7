"""The Cole-Hopf solution of Burgers against an independent high-accuracy numerical solution."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.fft import irfft, rfft, rfftfreq
from scipy.integrate import solve_ivp

from sciml_core.pdes.burgers import Burgers, cole_hopf_burgers

NU = 0.01 / np.pi


def spectral_burgers(times: np.ndarray, n: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Fourier pseudo-spectral method of lines (period 2) with DOP853 at tight tolerances.

    -sin(pi x) is odd and 2-periodic, so the periodic solution satisfies u(+-1, t) = 0: the
    same solution as the Dirichlet problem.
    """
    x = -1.0 + 2.0 * np.arange(n) / n
    k = np.pi * rfftfreq(n, d=1.0 / n)  # wavenumbers for period 2

    def rhs(_t: float, u: np.ndarray) -> np.ndarray:
        u_hat = rfft(u)
        u_x = irfft(1j * k * u_hat, n)
        u_xx = irfft(-(k**2) * u_hat, n)
        return -u * u_x + NU * u_xx

    sol = solve_ivp(rhs, (0.0, times[-1]), -np.sin(np.pi * x), method="DOP853", t_eval=times, rtol=1e-11, atol=1e-12)
    assert sol.success
    return x, sol.y.T


def test_cole_hopf_matches_spectral_solution_before_shock() -> None:
    times = np.array([0.05, 0.15, 0.25])
    x, numerical = spectral_burgers(times)
    exact = cole_hopf_burgers(times, x, NU)
    assert np.abs(exact - numerical).max() < 1e-8


def test_cole_hopf_is_converged_in_quadrature_and_meets_ic_bc() -> None:
    t = np.array([0.0, 0.3, 0.6, 0.99])
    x = np.linspace(-1, 1, 257)
    coarse = cole_hopf_burgers(t, x, NU, n_quadrature=128)
    fine = cole_hopf_burgers(t, x, NU, n_quadrature=1024)
    assert np.abs(coarse - fine).max() < 1e-12
    np.testing.assert_allclose(coarse[0], -np.sin(np.pi * x), atol=1e-14)
    np.testing.assert_allclose(coarse[:, [0, -1]], 0.0, atol=1e-12)
    # Basdevant et al. (1986), Comput. Fluids 14, table of methods: the steepest slope of the
    # exact solution is |u_x| = 152.00516 at x = 0, t = 1.6037 / pi.
    h = 1e-7
    u = cole_hopf_burgers(np.array([1.6037 / np.pi]), np.array([-h, h]), NU, n_quadrature=512)[0]
    assert (u[1] - u[0]) / (2 * h) == pytest.approx(-152.00516, abs=2e-4)


def test_burgers_reference_grid_is_256_by_100() -> None:
    grid = Burgers().reference_grid()
    assert grid["x"].shape == (256,) and grid["t"].shape == (100,)
    assert grid["t"][0] == 0.0 and grid["t"][-1] == pytest.approx(0.99)
