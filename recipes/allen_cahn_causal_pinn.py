"""Causal PINN (Wang, Sankaran & Perdikaris 2022) on Allen-Cahn, u_t = 1e-4 u_xx + 5 (u - u^3), x in [-1, 1] periodic, u0 = x^2 cos(pi x), t in [0, 1].

    python recipes/allen_cahn_causal_pinn.py [--preset quick|default|paper] [--out DIR] [--budget-s S]

The same as ``sciml solve allen-cahn --solver causal-pinn --preset PRESET --out DIR``; the
presets are listed in ``solvers/pinn/causal.py`` and documented in ``docs/pinn.md``.
default = a CPU setup, not the paper's: modified MLP 4 x 64 with random weight factorisation on
[t, cos(pi x), sin(pi x)], exact IC (u = u0 + t N), 2048 random points per step in 32 causal chunks,
eps 1e-2 -> 100, 30000 Adam steps (lr 1e-3 x 0.9 every 2000): rel L2 about 5e-3 in 13 min on a 2-core CPU.
paper = the published setup: tanh MLP 4 x 128 on [t, cos(k pi x), sin(k pi x)], k <= 10, the fixed
100 (t) x 256 (x) grid with one chunk per time, IC in the loss with weight 100, eps = 100,
300k Adam steps (lr 1e-3 x 0.9 every 5000): a GPU run (docs/pinn.md gives its cost).
"""

from solvers.pinn.recipe import main

if __name__ == "__main__":
    main("allen-cahn", __file__, __doc__)
