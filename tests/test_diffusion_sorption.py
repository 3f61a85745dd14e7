"""The diffusion-sorption generator against an independent solution of PDEBench's scheme."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.integrate import solve_ivp

from sciml_core.config import build_config
from sciml_core.data.generate import generate
from sciml_core.data.schema import open_dataset
from sciml_core.data.specs import load_spec
from sciml_core.errors import ConfigError, DataError
from sciml_core.registry import get_pde, get_solver
from solvers.diffusion_sorption import fv_jacobian, fv_rhs


def pdebench_rhs(n: int):
    """PDEBench's Simulator.rc_ode written out independently: scipy's sparse Laplacian (-2, 1, 1)
    / dx^2 plus the boundary vector, the retardation factor with its 1e-6."""
    D, por, rho_s, k_f, n_f, sol = 5e-4, 0.29, 2880.0, 3.5e-4, 0.874, 1.0
    dx = 1.0 / n
    lap = sp.diags([-2 * np.ones(n) / dx**2, np.ones(n - 1) / dx**2, np.ones(n - 1) / dx**2], [0, -1, 1])

    def f(t, c):
        R = 1 + ((1 - por) / por) * rho_s * k_f * n_f * (c + 1e-6) ** (n_f - 1)
        b = np.zeros(n)
        b[0] = D / R[0] / dx**2 * sol
        b[-1] = D / R[-1] / dx**2 * ((c[-2] - c[-1]) / dx * D)
        return D / R * (lap @ c) + b

    return f


@pytest.fixture
def pde():
    return get_pde("diffusion-sorption").from_params({"n": 48})


def test_rhs_and_jacobian_match_pdebench_scheme(pde):
    rng = np.random.default_rng(0)
    u = rng.uniform(0.0, 1.0, (3, 48))
    ref = np.stack([pdebench_rhs(48)(0.0, row) for row in u])
    assert np.abs(fv_rhs(pde, u) - ref).max() <= 1e-13 * np.abs(ref).max()
    J = fv_jacobian(pde, u).toarray()
    eps = 1e-7
    cols = [0, 1, 20, 46, 47, 48, 95, 143]  # both boundaries and the sample seams
    for j in cols:
        e = np.zeros(u.size)
        e[j] = eps
        fd = (fv_rhs(pde, (u.ravel() + e).reshape(u.shape)) - fv_rhs(pde, (u.ravel() - e).reshape(u.shape))) / (2 * eps)
        assert np.abs(J[:, j] - fd.ravel()).max() <= 1e-6 * np.abs(fd).max()


def test_batched_integration_matches_tight_radau_on_the_independent_scheme(pde):
    cls = get_solver("fv-diffusion-sorption")
    solver = cls(pde, build_config(cls.Config, {"rtol": 1e-9, "atol": 1e-12}))
    x = solver.grid()["x"]
    assert np.allclose(x, (np.arange(48) + 0.5) / 48)
    t = np.linspace(0.0, 500.0, 11)
    u0 = np.array([0.03, 0.17])[:, None] * np.ones(48)
    ours = solver.integrate({"u": u0}, t)["u"]
    assert ours.shape == (2, 11, 48)
    for b in range(2):
        ref = solve_ivp(pdebench_rhs(48), (0, 500), u0[b], method="Radau", t_eval=t, rtol=1e-11, atol=1e-13).y.T
        assert np.linalg.norm(ours[b] - ref) / np.linalg.norm(ref) < 1e-7
    # physics: the contaminant enters from the left and drains at the right, within [0, solubility]
    assert np.all(ours[:, -1, 0] > 0.9) and np.all(ours[:, -1, -1] < u0[:, 0]) and ours.min() >= 0 and ours.max() <= 1
    with pytest.raises(DataError, match=r"initial\['u'\] has shape \(2, 47\), expected \(batch, 48\)"):
        solver.integrate({"u": u0[:, :47]}, t)


def test_dataset_spec_generates_pdebench_draws_per_sample(tmp_path):
    spec = load_spec("diffusion-sorption", {"n_samples": 3, "block_size": 2, "times": {"n_t": 6, "t_end": 50.0},
                                            "solver": {"config": {"n": 32}}})
    out = tmp_path / "ds.h5"
    generate(spec, out, seed=7, progress=False)
    ds = open_dataset(out)
    u0 = np.array([np.random.default_rng([7, i]).uniform(0.0, 0.2) for i in range(3)])
    assert np.allclose(ds["ic_u0"].values, u0)
    assert np.allclose(ds["u"].values[:, 0], u0[:, None], atol=1e-7)  # float32 storage
    assert ds["u"].shape == (3, 6, 32) and float(ds["x"][0]) == pytest.approx(1 / 64)
    with pytest.raises(ConfigError, match="needs low < high"):
        generate(load_spec("diffusion-sorption", {"initial_condition": {"high": -1.0}}), tmp_path / "x.h5")
