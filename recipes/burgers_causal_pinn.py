"""Causal PINN (Wang, Sankaran & Perdikaris 2022) on Burgers, u_t + u u_x = (0.01/pi) u_xx, x in [-1, 1], u(+-1) = 0, u0 = -sin(pi x), graded against the exact Cole-Hopf solution.

    python recipes/burgers_causal_pinn.py [--preset quick|default|paper] [--out DIR] [--budget-s S]

The same as ``sciml solve burgers --solver causal-pinn --preset PRESET --out DIR``; the
presets are listed in ``solvers/pinn/causal.py`` and documented in ``docs/pinn.md``.
paper = the network and iterations of the causal-PINN paper's setup scaled for a GPU.
"""

from solvers.pinn.recipe import main

if __name__ == "__main__":
    main("burgers", __file__, __doc__)
