"""Spiral-wave tooling: per-frame statistics, regime classification, snapshot grid and GIF.

Statistics of a field ``u`` per frame (over space): mean, std, min, max and kurtosis
(fourth standardised moment, 3 for a Gaussian, 1.5 for a pure sinusoid).

Regimes of the lambda-omega system (see :mod:`sciml_core.pdes.reaction_diffusion`), from
the late half of the frames:

* ``decay`` -- the pattern disappears: the spatial std of ``u`` is below ``DECAY_STD`` (the
  field is uniform; it may still oscillate in time), or it falls to less than ``DECAY_RATIO``
  of its value over the late half (the pattern is collapsing);
* ``turbulent`` -- spatiotemporal chaos: the spatial std of the amplitude
  ``A = sqrt(u^2 + v^2)`` fluctuates in time -- its deviation from a quadratic trend,
  relative to its mean, exceeds ``TURBULENT_FLUCTUATION`` (break-up keeps creating and
  annihilating defects, where ``A`` drops to 0).  The trend is removed so that the slow,
  smooth relaxation of a spiral still settling (short runs) does not count as chaos;
* ``stable-spiral`` -- otherwise: a rigidly rotating pattern with steady statistics.

Measured on the presets (``spectral-dopri``, 101 frames): stable spirals at t = 10 ... 200
fluctuate by 1e-4 ... 3e-3, turbulence at t = 50 ... 500 by 0.016 ... 0.064.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

DECAY_STD = 0.02
DECAY_RATIO = 0.5
TURBULENT_FLUCTUATION = 0.007


def frame_statistics(u: np.ndarray) -> dict[str, np.ndarray]:
    """``u`` ``(t, *space)`` -> ``{"mean", "std", "min", "max", "kurtosis"}`` each ``(t,)``."""
    flat = np.asarray(u, dtype=np.float64).reshape(u.shape[0], -1)
    mean = flat.mean(1)
    centred = flat - mean[:, None]
    var = (centred**2).mean(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        kurt = np.where(var > 1e-300, (centred**4).mean(1) / np.maximum(var, 1e-300) ** 2, np.nan)
    return {"mean": mean, "std": np.sqrt(var), "min": flat.min(1), "max": flat.max(1), "kurtosis": kurt}


def _relative_fluctuation(series: np.ndarray) -> float:
    """std of ``series`` about its least-squares quadratic trend (a constant below 4 points),
    over its mean."""
    x = np.linspace(-1.0, 1.0, len(series))
    trend = np.polyval(np.polyfit(x, series, 2), x) if len(series) >= 4 else np.full_like(series, series.mean())
    return float((series - trend).std() / max(abs(series.mean()), 1e-300))


def regime_features(u: np.ndarray, v: np.ndarray) -> dict[str, float]:
    """Late-half features used by :func:`classify_regime`."""
    late = slice(u.shape[0] // 2, None)
    u_std = frame_statistics(u[late])["std"]
    amp_std = frame_statistics(np.sqrt(u[late] ** 2 + v[late] ** 2))["std"]
    return {
        "u_std": float(u_std.mean()),
        "u_std_ratio": float(u_std[-1] / max(u_std[0], 1e-300)),
        "amplitude_fluctuation": _relative_fluctuation(amp_std),
    }


def classify_regime(u: np.ndarray, v: np.ndarray) -> str:
    """``stable-spiral``, ``turbulent`` or ``decay`` from frames ``u``, ``v`` ``(t, y, x)``."""
    feats = regime_features(u, v)
    if feats["u_std"] < DECAY_STD or feats["u_std_ratio"] < DECAY_RATIO:
        return "decay"
    if feats["amplitude_fluctuation"] > TURBULENT_FLUCTUATION:
        return "turbulent"
    return "stable-spiral"


def _colour(frames: np.ndarray) -> np.ndarray:
    from matplotlib import colormaps

    lo, hi = float(np.nanmin(frames)), float(np.nanmax(frames))
    scaled = (frames - lo) / (hi - lo if hi > lo else 1.0)
    return (colormaps["RdBu_r"](scaled)[..., :3] * 255).astype(np.uint8)


def save_snapshot_grid(path: Path, t: np.ndarray, frames: np.ndarray, coords: Mapping[str, np.ndarray],
                       name: str, panels: int = 8) -> None:
    """PNG: up to ``panels`` evenly spaced frames (2D) or the space-time image (1D)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sciml_core.run import atomic_path

    if frames.ndim == 2:
        fig, ax = plt.subplots(figsize=(6, 4))
        x = coords["x"]
        im = ax.imshow(frames.T, origin="lower", aspect="auto", cmap="RdBu_r",
                       extent=(t[0], t[-1], x[0], x[-1]))
        ax.set_xlabel("t")
        ax.set_ylabel("x")
        fig.colorbar(im, ax=ax, label=name)
    else:
        idx = np.unique(np.linspace(0, len(t) - 1, min(panels, len(t))).round().astype(int))
        cols = min(4, len(idx))
        rows = -(-len(idx) // cols)
        fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 3 * rows), squeeze=False)
        x, y = coords["x"], coords["y"]
        vmax = float(np.abs(frames[idx]).max()) or 1.0
        for ax, i in zip(axes.flat, idx):
            ax.imshow(frames[i], origin="lower", cmap="RdBu_r", vmin=-vmax, vmax=vmax,
                      extent=(x[0], x[-1], y[0], y[-1]))
            ax.set_title(f"{name}, t = {t[i]:.4g}")
            ax.set_xticks([])
            ax.set_yticks([])
        for ax in list(axes.flat)[len(idx):]:
            ax.axis("off")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=80)
    plt.close(fig)


def save_gif(path: Path, frames: np.ndarray, max_frames: int = 60, duration_ms: int = 80) -> None:
    """Animated GIF of 2D frames ``(t, y, x)`` (subsampled to ``max_frames``), y up."""
    from PIL import Image

    from sciml_core.run import atomic_path

    idx = np.unique(np.linspace(0, len(frames) - 1, min(max_frames, len(frames))).round().astype(int))
    rgb = _colour(frames[idx][:, ::-1])
    images = [Image.fromarray(f) for f in rgb]
    with atomic_path(path) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=duration_ms, loop=0)

