"""``pinn``: the vanilla physics-informed neural network (Raissi, Perdikaris, Karniadakis 2019).

Minimise  w_r mean(r(u_theta)^2) + w_i mean((u_theta(0, x) - u0)^2) + w_b (BC misfit)  over
an MLP u_theta(t, x) with soft initial and boundary conditions: Adam, then L-BFGS.
"""

from __future__ import annotations

from sciml_core.registry import register_solver

from .base import PINNSolver


@register_solver()
class VanillaPINN(PINNSolver):
    """Vanilla PINN: tanh MLP, soft IC/BC, Sobol collocation, Adam then L-BFGS."""

    name = "pinn"
    description = "vanilla PINN (soft IC/BC, Adam then L-BFGS)"
    presets = {
        "quick": {"model": {"width": 20, "depth": 4},
                  "sampling": {"n_residual": 2048, "n_initial": 256, "n_boundary": 256},
                  "train": {"adam_steps": 500, "lbfgs_steps": 1500, "log_every": 10, "checkpoint_every": 250}},
        "default": {"model": {"width": 32, "depth": 4},
                    "sampling": {"n_residual": 8192, "n_initial": 512, "n_boundary": 512},
                    "train": {"adam_steps": 2000, "lbfgs_steps": 4000, "log_every": 20, "checkpoint_every": 500}},
        "paper": {"model": {"width": 20, "depth": 8},
                  "sampling": {"n_residual": 10000, "n_initial": 100, "n_boundary": 100},
                  "train": {"adam_steps": 0, "lbfgs_steps": 50000, "checkpoint_every": 1000}},
    }
