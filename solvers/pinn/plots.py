"""The causal-training diagnostic plot: causal weights over time chunks and steps, eps, min w."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def plot_causal(history: Sequence[dict[str, Any]], path: Path) -> Path | None:
    """``causal_weights.png``: a (step, chunk) image of w_i and the curves of eps and min_i w_i."""
    rows = [r for r in history if "causal_w" in r]
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = np.array([r["step"] for r in rows])
    weights = np.array([r["causal_w"] for r in rows])
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(12, 4.5))
    mesh = ax0.pcolormesh(steps, np.arange(weights.shape[1]), weights.T, shading="auto", vmin=0, vmax=1, cmap="viridis")
    ax0.set(xlabel="step", ylabel="time chunk (within window)", title="causal weights w_i")
    fig.colorbar(mesh, ax=ax0, label="causal weight w_i = exp(-eps sum_{k<i} L_k)")
    ax1.semilogy(steps, [r["eps"] for r in rows], label="eps")
    ax1.semilogy(steps, np.maximum([r["min_w"] for r in rows], 1e-12), label="min_i w_i")
    if any(r.get("window", 0) for r in rows):
        ax1.plot(steps, [1 + r["window"] for r in rows], label="window + 1")
    ax1.set(xlabel="step", title="eps schedule and convergence (min w -> 1)")
    ax1.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
