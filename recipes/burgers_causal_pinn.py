"""Causal PINN (Wang, Sankaran & Perdikaris 2022) on Burgers, u_t + u u_x = (0.01/pi) u_xx, x in [-1, 1], u(+-1) = 0, u0 = -sin(pi x), graded against the exact Cole-Hopf solution.

    python recipes/burgers_causal_pinn.py [--preset quick|default|paper] [--out DIR] [--budget-s S]

The same as ``sciml solve burgers --solver causal-pinn --preset PRESET --out DIR``; the
presets are listed in ``solvers/pinn/causal.py`` and documented in ``docs/pinn.md``.
default = modified MLP 4 x 32, exact IC and Dirichlet walls, 8192 Sobol points resampled every Adam step, 16 causal
chunks, Adam 500 then L-BFGS 1000: rel L2 8.0e-4 in 109 s on a 2-core CPU.
paper = modified MLP 4 x 128 with 300k Adam steps (the causal-PINN paper's scale): a GPU run.
"""

from solvers.pinn.recipe import main

if __name__ == "__main__":
    main("burgers", __file__, __doc__)
