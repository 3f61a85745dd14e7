"""Stabilised FNO (McCabe et al. 2023) on rotating spiral waves of the lambda-omega reaction-diffusion system, 32 x 32.

    python recipes/reaction_diffusion_stable_fno.py [--preset quick|default|paper] [--solver stable-fno|fno]

Data: datasets/rd-spiral-rollout.toml (stable-spiral regime, dt_save 0.25 after a burn-in
of 50, 32^2 on L = 10; 32 training and 16 held-out trajectories of 101 frames, random centre,
1-3 arms, phase),
generated on first use; paper: rd-spiral-rollout-paper (128^2, 512 x 401).  default: 2000 AdamW
steps, then 2,000-step rollouts from the held-out states; fno width 8 and stable-fno width 7
(8 modes, 21k parameters each, as in benchmarks/stable_vs_vanilla_fno.py).
"""

from solvers.neural_operator.recipe import main

if __name__ == "__main__":
    main("reaction-diffusion", "rd-spiral-rollout", __doc__,
         quick_data={"times": {"t_start": 10.0, "t_end": 17.5, "n_t": 31}, "solver": {"config": {"n": 32}}},
         models={"fno": ("model.width=8", "model.n_modes=8"), "stable-fno": ("model.width=7", "model.n_modes=8")})
