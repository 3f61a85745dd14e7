"""Shared test settings: small thread counts keep the suite predictable on 2 cores."""

from __future__ import annotations

import os

import pytest
import torch

torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture
def tiny_pinn_overrides() -> list[str]:
    """A Burgers PINN small enough to train in a second or two."""
    return [
        "model.width=8", "model.depth=2", "sampling.n_residual=128", "sampling.n_initial=32",
        "sampling.n_boundary=32", "train.adam_steps=30", "train.lbfgs_steps=10", "train.log_every=1",
        "train.checkpoint_every=10",
    ]
