"""Stabilised FNO (McCabe et al. 2023) on chaotic Kuramoto-Sivashinsky, u_t + u u_x + u_xx + u_xxxx = 0, x in [0, 22) periodic.

    python recipes/kuramoto_sivashinsky_stable_fno.py [--preset quick|default|paper] [--solver stable-fno|fno]

Data: datasets/ks-l22.toml (64 points, dt_save 0.25 after a burn-in of 150; 64 training and 16
held-out trajectories of 201 frames), generated on first use; paper: ks-l22-paper (1024 x 1001).
default: 2000 AdamW steps (cosine), batch 32, residual one-step target; then 10,000-step rollouts
from the 16 held-out states, valid steps against the chaos limit (Lyapunov exponent 0.043).
The same as ``sciml data generate ks-l22`` and
``sciml solve kuramoto-sivashinsky --solver stable-fno --data data/ks-l22.h5 --set long.lyapunov_exponent=0.043``.
"""

from solvers.neural_operator.recipe import main

if __name__ == "__main__":
    main("kuramoto-sivashinsky", "ks-l22", __doc__,
         quick_data={"times": {"t_start": 20.0, "t_end": 27.5, "n_t": 31}, "solver": {"config": {"n": 32}}},
         overrides=("long.lyapunov_exponent=0.043",))
