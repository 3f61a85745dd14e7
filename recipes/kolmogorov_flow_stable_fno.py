"""Stabilised FNO (McCabe et al. 2023) on 2D Kolmogorov flow at Re = 1000 (vorticity form, k_f = 4, drag 0.1), 64 x 64.

    python recipes/kolmogorov_flow_stable_fno.py [--preset quick|default|paper] [--solver stable-fno|fno]

Data: datasets/ns-kolmogorov-re1000.toml (64^2 pseudo-spectral, dt_save 0.1 after a burn-in of
50; 32 training and 16 held-out trajectories of 101 frames), generated on first use; paper:
ns-kolmogorov-re1000-paper (512 x 401).  At 64^2 and nu = 1e-3 the reference is an
under-resolved (dealiased) DNS: it defines the data, it is not Re = 1000 turbulence converged
in resolution.  default: 2000 AdamW steps, then 2,000-step rollouts from the held-out states.
The models are kept small (8 modes; fno width 8, stable-fno width 7: 21k and 23k parameters, as in
benchmarks/stable_vs_vanilla_fno.py) so that training and the 2,000-step rollouts take minutes on a CPU.
"""

from solvers.neural_operator.recipe import main

if __name__ == "__main__":
    main("navier-stokes-2d", "ns-kolmogorov-re1000", __doc__,
         quick_data={"times": {"t_start": 10.0, "t_end": 13.0, "n_t": 31}, "solver": {"config": {"n": 32}}},
         models={"fno": ("model.width=8", "model.n_modes=8"), "stable-fno": ("model.width=7", "model.n_modes=8")})
