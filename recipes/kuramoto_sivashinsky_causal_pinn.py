"""Causal PINN (Wang, Sankaran & Perdikaris 2022) on Kuramoto-Sivashinsky (regular), u_t + 5 u u_x + 0.5 u_xx + 0.005 u_xxxx = 0, x in [-1, 1] periodic, u0 = -sin(pi x), t in [0, 1].

    python recipes/kuramoto_sivashinsky_causal_pinn.py [--preset quick|default|paper] [--out DIR] [--budget-s S]

The same as ``sciml solve kuramoto-sivashinsky --solver causal-pinn --preset PRESET --out DIR``; the
presets are listed in ``solvers/pinn/causal.py`` and documented in ``docs/pinn.md``.
default = modified MLP 3 x 64 with random weight factorisation on [t, cos(pi x), sin(pi x)], 10 time-marching windows
of 0.1 (2000 Adam steps each, lr 1e-3 x 0.9 every 2000), 2048 random points/step.
paper = modified MLP 3 x 256 with 10 spatial Fourier modes, 10 time-marching windows of 0.1, 200k Adam steps: a GPU run.
"""

from solvers.pinn.recipe import main

if __name__ == "__main__":
    main("kuramoto-sivashinsky", __file__, __doc__)
