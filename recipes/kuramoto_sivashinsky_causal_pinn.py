"""Causal PINN (Wang, Sankaran & Perdikaris 2022) on Kuramoto-Sivashinsky (regular), u_t + 5 u u_x + 0.5 u_xx + 0.005 u_xxxx = 0, x in [-1, 1] periodic, u0 = -sin(pi x), t in [0, 1].

    python recipes/kuramoto_sivashinsky_causal_pinn.py [--preset quick|default|paper] [--out DIR] [--budget-s S]

The same as ``sciml solve kuramoto-sivashinsky --solver causal-pinn --preset PRESET --out DIR``; the
presets are listed in ``solvers/pinn/causal.py`` and documented in ``docs/pinn.md``.
default = a CPU setup, not the paper's: modified MLP 3 x 64 with random weight factorisation on
[t, cos(pi x), sin(pi x)], exact IC, 10 time-marching windows of 0.1 with 2000 Adam steps each (lr 1e-3 x 0.9
every 2000 over the whole run), 2048 random points per step in 32 chunks.
paper = the published setup (KS/regular_KS.py): modified MLP 3 x 256 on 5 spatial Fourier modes, 10 windows
of 0.1, each re-initialised with its own lr schedule (1e-3 x 0.9 every 5000), eps 1e-2 -> 100 per window,
each eps until min w > 0.99 or 200k steps, soft IC with weight 1e3 (also inside the causal weights):
up to 10M Adam steps, a GPU run (docs/pinn.md gives its cost).
"""

from solvers.pinn.recipe import main

if __name__ == "__main__":
    main("kuramoto-sivashinsky", __file__, __doc__)
