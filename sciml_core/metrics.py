"""Error metrics.

``rel_l2`` is the project's headline figure: ||pred - ref||_2 / ||ref||_2 over every grid
point (and sample / field) of a solution.
"""

from __future__ import annotations

from typing import Any

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
    """Relative L2 error ||prediction - reference|| / ||reference|| over all entries."""
    pred = np.asarray(prediction, dtype=np.float64)
    ref = np.asarray(reference, dtype=np.float64)
    if pred.shape != ref.shape:
        raise ValueError(f"rel_l2: shapes differ, prediction {pred.shape} vs reference {ref.shape}")
    denom = np.linalg.norm(ref.ravel())
    return float(np.linalg.norm((pred - ref).ravel()) / denom) if denom > 0 else float(np.linalg.norm(pred.ravel()))


# ---- PDEBench metrics (Takamoto et al. 2022) ------------------------------------------------
# Arrays are one field, shaped (batch, t, *space); e = prediction - reference.  As in PDEBench,
# every metric is computed per time step and then averaged over t (multi-field data: call per
# field and average, which is what :func:`pdebench_metrics` does for a dict of fields).


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


def frmse(prediction: Any, reference: Any, bands: tuple[int, int] = (4, 12), length: float = 1.0) -> dict[str, float]:
    """fRMSE in Fourier bands: low k < 4, mid 4 <= k < 12, high k >= 12 (integer wavenumbers).

    E(k) = sqrt(mean_b |FFT(e)_k|^2) / N_x * L (rFFT over space, L = domain length/volume);
    E is summed over shells |k| in [s, s + 1) for s = 0 .. min(n // 2) - 1 (non-negative
    first-axis indices, as PDEBench); a band is the mean over its shells, then the mean over t.
    """
    pred, ref = _pair(prediction, reference, "frmse")
    axes = _space_axes(pred)
    n_x = int(np.prod([pred.shape[a] for a in axes]))
    spec = np.fft.rfftn(pred - ref, axes=axes)
    err = np.sqrt((np.abs(spec) ** 2).mean(axis=0)) / n_x * length  # (t, *k)
    n_shells = min(pred.shape[a] // 2 for a in axes)
    ks = np.meshgrid(*[np.arange(n) for n in err.shape[1:]], indexing="ij")
    # negative frequencies of the leading (full-FFT) axes are not counted, as in PDEBench
    radius = np.floor(np.sqrt(sum(k.astype(np.float64) ** 2 for k in ks))).astype(int)
    shells = np.zeros((err.shape[0], n_shells))
    for s in range(n_shells):
        mask = radius == s
        shells[:, s] = err[:, mask].sum(axis=-1)
    low, high = bands
    out = {}
    for name, (a, b) in (("low", (0, low)), ("mid", (low, high)), ("high", (high, n_shells))):
        out[name] = float(shells[:, a:b].mean(axis=1).mean()) if b > a else float("nan")
    return out


def max_error(prediction: Any, reference: Any) -> float:
    """Max error = max over all entries of |e|."""
    pred, ref = _pair(prediction, reference, "max_error")
    return float(np.abs(pred - ref).max())


def accumulated_error(prediction: Any, reference: Any) -> float:
    """Accumulated rollout error of Brandstetter et al. (2022): mean_b sum_t sum_x e^2 / N_x."""
    pred, ref = _pair(prediction, reference, "accumulated_error")
    axes = _space_axes(pred)
    n_x = int(np.prod([pred.shape[a] for a in axes]))
    return float(((pred - ref) ** 2).sum(axis=(1, *axes)).mean() / n_x)


def pdebench_metrics(prediction: Any, reference: Any, initial_step: int = 0, length: float = 1.0) -> dict[str, float]:
    """Every PDEBench metric, averaged over fields when given dicts of ``(batch, t, *space)`` arrays.

    ``initial_step`` drops the first frames before scoring (PDEBench's code drops 10).
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
    out = {k: float(np.mean([row[k] for row in rows])) for k in rows[0]}
    out["max_error"] = float(max(row["max_error"] for row in rows))
    return out
