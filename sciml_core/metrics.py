"""Error metrics.

``rel_l2`` is the project's headline figure: ||pred - ref||_2 / ||ref||_2 over every grid
point (and sample / field) of a solution.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def solution_rel_l2(solution: Any) -> float | None:
    """rel L2 over every field of a solution dataset that has a ``<field>_ref`` beside it
    (all such fields concatenated), or None when none has."""
    fields = [n for n in solution.data_vars if f"{n}_ref" in solution.data_vars]
    if not fields:
        return None
    pred = np.concatenate([np.asarray(solution[f]).ravel() for f in fields])
    ref = np.concatenate([np.asarray(solution[f"{f}_ref"]).ravel() for f in fields])
    return rel_l2(pred, ref)


def rel_l2(prediction: Any, reference: Any) -> float:
    """Relative L2 error ||prediction - reference|| / ||reference|| over all entries.

    NaN when either array holds a non-finite value (a NaN reference must not yield a
    plausible number); ``||prediction||`` when the reference is identically zero.
    """
    pred = np.asarray(prediction, dtype=np.float64)
    ref = np.asarray(reference, dtype=np.float64)
    if pred.shape != ref.shape:
        raise ValueError(f"rel_l2: shapes differ, prediction {pred.shape} vs reference {ref.shape}")
    num, denom = np.linalg.norm((pred - ref).ravel()), np.linalg.norm(ref.ravel())
    if not (np.isfinite(num) and np.isfinite(denom)):
        return float("nan")
    return float(num / denom) if denom > 0 else float(np.linalg.norm(pred.ravel()))


# ---- PDEBench metrics (Takamoto et al. 2022) ------------------------------------------------
# Arrays are one field, shaped (batch, t, *space); e = prediction - reference.  The formulas are
# those of PDEBench's own ``metric_func`` (pdebench/models/metrics.py), reimplemented here and
# tested against a transcription of that code's arithmetic (tests/test_metrics_pdebench.py):
# every metric is computed per time step (and per field) and then averaged over t.


def _pair(prediction: Any, reference: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(prediction, dtype=np.float64)
    ref = np.asarray(reference, dtype=np.float64)
    if pred.shape != ref.shape:
        raise ValueError(f"{name}: shapes differ, prediction {pred.shape} vs reference {ref.shape}")
    if pred.ndim < 3:
        raise ValueError(f"{name}: expected (batch, t, *space), got shape {pred.shape}")
    return pred, ref


def _space_axes(a: np.ndarray) -> tuple[int, ...]:
    return tuple(range(2, a.ndim))


def rmse(prediction: Any, reference: Any) -> float:
    """RMSE = mean_t mean_b sqrt(mean_x e^2)."""
    pred, ref = _pair(prediction, reference, "rmse")
    return float(np.sqrt(((pred - ref) ** 2).mean(axis=_space_axes(pred))).mean())


def nrmse(prediction: Any, reference: Any) -> float:
    """nRMSE = mean_t mean_b ||e||_x / ||reference||_x (2-norms over space)."""
    pred, ref = _pair(prediction, reference, "nrmse")
    axes = _space_axes(pred)
    return float((np.sqrt(((pred - ref) ** 2).sum(axis=axes)) / np.sqrt((ref**2).sum(axis=axes))).mean())


def crmse(prediction: Any, reference: Any) -> float:
    """cRMSE (conserved quantity) = mean_t sqrt(mean_b (sum_x e)^2) / N_x, N_x = spatial points."""
    pred, ref = _pair(prediction, reference, "crmse")
    axes = _space_axes(pred)
    n_x = int(np.prod([pred.shape[a] for a in axes]))
    return float((np.sqrt(((pred - ref).sum(axis=axes) ** 2).mean(axis=0)) / n_x).mean())


def brmse(prediction: Any, reference: Any) -> float:
    """bRMSE (boundary) = mean_t mean_b sqrt(sum_{x on faces} e^2 / n_faces).

    The faces are the first and last slice along every spatial axis (1D: the two end points,
    n_faces = 2; 2D: the four edges, n_faces = 2 nx + 2 ny, corners counted twice).
    """
    pred, ref = _pair(prediction, reference, "brmse")
    err2 = (pred - ref) ** 2
    total = np.zeros(pred.shape[:2])
    count = 0
    for axis in _space_axes(pred):
        for index in (0, -1):
            face = np.take(err2, index, axis=axis)
            total += face.reshape(*pred.shape[:2], -1).sum(axis=-1)
            count += face[0, 0].size
    return float(np.sqrt(total / count).mean())


def fourier_error_spectrum(prediction: Any, reference: Any, length: float | Sequence[float] = 1.0) -> np.ndarray:
    """PDEBench's error spectrum E(t, s), shape ``(t, shells)``, from which fRMSE is banded.

    1D: E(t, k) = sqrt(mean_b |rFFT(e)_k|^2) / N_x * L for every rFFT mode k = 0 .. nx // 2
    (Nyquist included).  2D/3D: the squared magnitudes of the FFT modes with non-negative
    indices i < n_d // 2 on every axis are summed over shells s = floor(|(i, j, ...)|) for
    s < min_d(n_d // 2), then E(t, s) = sqrt(mean_b sum_shell |FFT(e)|^2) / N_x * prod L_d.
    ``length``: the domain length (1D) or the product / sequence of side lengths.
    """
    pred, ref = _pair(prediction, reference, "frmse")
    axes = _space_axes(pred)
    n_x = int(np.prod([pred.shape[a] for a in axes]))
    volume = float(np.prod(length))
    spec = np.fft.rfftn(pred - ref, axes=axes)  # full FFT on leading axes, half on the last
    power = np.abs(spec) ** 2  # (b, t, *k)
    if len(axes) == 1:
        return np.sqrt(power.mean(axis=0)) / n_x * volume
    halves = [pred.shape[a] // 2 for a in axes]
    quadrant = power[(slice(None), slice(None), *(slice(0, h) for h in halves))]
    index = np.meshgrid(*[np.arange(h, dtype=np.float64) for h in halves], indexing="ij")
    shell = np.floor(np.sqrt(sum(i**2 for i in index))).astype(int).ravel()
    n_shells = min(halves)
    keep = shell < n_shells
    flat = quadrant.reshape(*quadrant.shape[:2], -1)[..., keep]
    summed = np.zeros((*flat.shape[:2], n_shells))
    np.add.at(summed, (slice(None), slice(None), shell[keep]), flat)  # summed[b, t, s] += |F|^2
    return np.sqrt(summed.mean(axis=0)) / n_x * volume


def frmse(prediction: Any, reference: Any, bands: tuple[int, int] = (4, 12),
          length: float | Sequence[float] = 1.0) -> dict[str, float]:
    """fRMSE in Fourier bands, as PDEBench: low = shells [0, 4), mid = [4, 12), high = [12, end).

    Each band is the mean of :func:`fourier_error_spectrum` over its shells, then the mean
    over t; a band with no shells (a grid too coarse for it) is NaN.
    """
    err = fourier_error_spectrum(prediction, reference, length)
    low, high = bands
    out = {}
    for name, (a, b) in (("low", (0, low)), ("mid", (low, high)), ("high", (high, err.shape[1]))):
        out[name] = float(err[:, a:b].mean(axis=1).mean()) if b > a else float("nan")
    return out


def max_error(prediction: Any, reference: Any) -> float:
    """Max error as PDEBench defines it: mean_t of the worst |e| over batch and space at t."""
    pred, ref = _pair(prediction, reference, "max_error")
    return float(np.abs(pred - ref).max(axis=(0, *_space_axes(pred))).mean())


def max_abs_error(prediction: Any, reference: Any) -> float:
    """The worst |e| over every entry (not PDEBench's ``max_error``, which averages over t)."""
    pred, ref = _pair(prediction, reference, "max_abs_error")
    return float(np.abs(pred - ref).max())


def accumulated_error(prediction: Any, reference: Any) -> float:
    """Accumulated rollout error of Brandstetter et al. (2022): mean_b sum_t sum_x e^2 / N_x."""
    pred, ref = _pair(prediction, reference, "accumulated_error")
    axes = _space_axes(pred)
    n_x = int(np.prod([pred.shape[a] for a in axes]))
    return float(((pred - ref) ** 2).sum(axis=(1, *axes)).mean() / n_x)


def pdebench_metrics(prediction: Any, reference: Any, initial_step: int = 0,
                     length: float | Sequence[float] = 1.0) -> dict[str, float]:
    """Every PDEBench metric, averaged over fields (as PDEBench averages over channels) when
    given dicts of ``(batch, t, *space)`` arrays.

    ``initial_step`` drops the first frames before scoring.  PDEBench itself does not drop
    them: its rollout copies its ``initial_step`` input frames from the truth into the
    prediction and averages over every frame, so to reproduce its numbers pass such a
    prediction with ``initial_step=0``.
    """
    preds = prediction if isinstance(prediction, dict) else {"u": prediction}
    refs = reference if isinstance(reference, dict) else {"u": reference}
    rows = []
    for name in preds:
        p, r = np.asarray(preds[name])[:, initial_step:], np.asarray(refs[name])[:, initial_step:]
        f = frmse(p, r, length=length)
        rows.append({"rmse": rmse(p, r), "nrmse": nrmse(p, r), "crmse": crmse(p, r), "brmse": brmse(p, r),
                     "frmse_low": f["low"], "frmse_mid": f["mid"], "frmse_high": f["high"],
                     "max_error": max_error(p, r)})
    return {k: float(np.mean([row[k] for row in rows])) for k in rows[0]}
