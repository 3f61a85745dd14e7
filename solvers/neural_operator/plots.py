"""Plots of the long-rollout evaluation: rel L2 along the rollout, and the energy spectra."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def plot_spectra(ax: Any, spectra: dict[str, Any], true_spectrum: Any, title: str) -> None:
    """Energy spectra (log scale) of several models against the truth's on one axis."""
    k = np.arange(len(true_spectrum))
    ax.semilogy(k[1:], np.asarray(true_spectrum)[1:], "k-", lw=2.5, label="truth")
    for label, e in spectra.items():
        e = np.asarray(e, dtype=float)
        if np.isfinite(e).all():
            ax.semilogy(k[1:], e[1:], lw=1.5, label=label)
        else:
            ax.plot([], [], label=f"{label} (blew up)")
    ax.set(xlabel="wavenumber shell |k|", ylabel="E(k), late-rollout mean", title=title)
    ax.legend()


def plot_long_rollout(long: dict[str, Any], plots: Path, title: str) -> list[Path]:
    """``rollout_rel_l2.png`` (mean rel L2 per step, the 0.5 line, valid steps) and
    ``spectrum.png`` (late-rollout spectrum against the truth's)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sciml_core.run import atomic_path

    written = []
    fig, ax = plt.subplots(figsize=(6, 4))
    err = np.array([np.nan if v is None else v for v in long["rel_l2_per_step"]], dtype=float)
    ax.semilogy(np.arange(1, len(err) + 1), err, label="model")
    ax.axhline(0.5, color="grey", ls="--", label="rel L2 = 0.5")
    ax.axvline(long["valid_steps"], color="C0", ls=":", label=f"valid steps {long['valid_steps']:.0f}")
    if "chaos_valid_steps" in long:
        ax.axvline(long["chaos_valid_steps"], color="C3", ls=":",
                   label=f"chaos limit {long['chaos_valid_steps']:.0f}")
    ax.set(xlabel="step", ylabel="mean rel L2 vs truth", title=title)
    ax.legend()
    fig.tight_layout()
    path = plots / "rollout_rel_l2.png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    written.append(path)
    fig, ax = plt.subplots(figsize=(6, 4))
    plot_spectra(ax, {"model": long["spectrum_model"]}, long["spectrum_true"], title)
    fig.tight_layout()
    path = plots / "spectrum.png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    written.append(path)
    return written
