"""Causal PINN (Wang, Sankaran & Perdikaris 2022) on Burgers, u_t + u u_x = (0.01/pi) u_xx, x in [-1, 1], u(+-1) = 0, u0 = -sin(pi x), graded against the exact Cole-Hopf solution.

    python recipes/burgers_causal_pinn.py [--preset quick|default|paper] [--out DIR] [--budget-s S]

The same as ``sciml solve burgers --solver causal-pinn --preset PRESET --out DIR``; the
presets are listed in ``solvers/pinn/causal.py`` and documented in ``docs/pinn.md``.
default = a CPU setup (the causal-PINN paper has no Burgers case): modified MLP 4 x 32, exact IC and
Dirichlet walls, 8192 Sobol points resampled every Adam step, 16 causal chunks, eps 1 -> 100, Adam 500
then L-BFGS 1000: rel L2 about 8e-4 in 2 min on a 2-core CPU.
paper = the generic large setup (modified MLP 4 x 128, 10 periodic modes unused, eps = 100, 300k Adam steps),
not a published Burgers run.
"""

from solvers.pinn.recipe import main

if __name__ == "__main__":
    main("burgers", __file__, __doc__)
