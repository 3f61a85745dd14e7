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


# ---- Autoregressive rollouts (McCabe et al. 2023; issue 21) ---------------------------------
# Rollouts and their truth are arrays (batch, t, *frame): batch = initial conditions, frame =
# (channels, *space) or just (*space).  Steps are numbered from 1 (the first predicted frame).


def per_step_rel_l2(rollout: Any, truth: Any) -> np.ndarray:
    """rel L2 of every frame, ``||rollout - truth|| / ||truth||`` over the frame -> (batch, t);
    a non-finite frame gives inf."""
    pred = np.asarray(rollout, dtype=np.float64)
    ref = np.asarray(truth, dtype=np.float64)
    if pred.shape != ref.shape or pred.ndim < 3:
        raise ValueError(f"per_step_rel_l2: expected equal (batch, t, *frame) shapes, got {pred.shape} vs {ref.shape}")
    axes = tuple(range(2, pred.ndim))
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.sqrt(((pred - ref) ** 2).sum(axis=axes)) / np.sqrt((ref**2).sum(axis=axes))
    return np.where(np.isfinite(err), err, np.inf)


def one_step_rel_l2(prediction: Any, target: Any) -> float:
    """Mean over (input, next frame) pairs of ``||prediction - target|| / ||target||``;
    arrays ``(pairs, *frame)``."""
    pred = np.asarray(prediction, dtype=np.float64)
    return float(per_step_rel_l2(pred[:, None], np.asarray(target)[:, None]).mean())


def valid_steps(rollout: Any, truth: Any, threshold: float = 0.5) -> np.ndarray:
    """Per initial condition, the number of steps before rel L2 against the truth first exceeds
    ``threshold`` (a non-finite frame exceeds it); ``t`` when it never does (censored)."""
    bad = per_step_rel_l2(rollout, truth) > threshold
    return np.where(bad.any(axis=1), bad.argmax(axis=1), bad.shape[1])


def phase_randomised(frames: Any, rel_size: float, seed: int = 0) -> np.ndarray:
    """A random perturbation with each frame's own spectrum: the frame's Fourier coefficients
    with uniformly random phases (those of a white-noise field, so the result is real; the
    mean mode dropped), rescaled so that
    ``||delta|| = rel_size ||frame||`` per frame.  ``frames`` ``(batch, channels, *space)``."""
    u = np.asarray(frames, dtype=np.float64)
    axes = tuple(range(2, u.ndim))
    spec = np.fft.rfftn(u, axes=axes)
    noise = np.fft.rfftn(np.random.default_rng(seed).normal(size=u.shape), axes=axes)
    spec = spec * np.exp(1j * np.angle(noise))  # phases of a real field: Hermitian symmetry kept
    spec[(slice(None), slice(None)) + (0,) * len(axes)] = 0.0
    delta = np.fft.irfftn(spec, s=u.shape[2:], axes=axes)
    flat = lambda a: np.sqrt((a.reshape(a.shape[0], -1) ** 2).sum(1))  # noqa: E731
    scale = rel_size * flat(u) / np.maximum(flat(delta), 1e-300)
    return delta * scale.reshape(-1, *([1] * (u.ndim - 1)))


def chaos_valid_steps(reference: Any, initial: Any, truth: Any, rel_size: float, threshold: float = 0.5,
                      seed: int = 0) -> np.ndarray:
    """The predictability limit of a model whose one-step rel L2 is ``rel_size``: the
    :func:`valid_steps` of the reference stepper itself, rolled out (with
    :func:`sciml_core.autoregressive.rollout`) from the truth's initial history plus a
    :func:`phase_randomised` perturbation of rel L2 ``rel_size`` on its last frame.

    ``initial`` ``(batch, K, C, *space)`` and ``truth`` ``(batch, t, C, *space)`` (torch or numpy).
    """
    import torch

    from .autoregressive import rollout

    start = torch.as_tensor(np.asarray(initial), dtype=torch.float64).clone()
    start[:, -1] += torch.from_numpy(phase_randomised(start[:, -1].numpy(), rel_size, seed))
    truth = np.asarray(truth)
    return valid_steps(rollout(reference, start, truth.shape[1]).cpu().numpy(), truth, threshold)


def blowup_step(rollout: Any, max_norm: float, factor: float = 3.0) -> int | None:
    """The first step (from 1) at which some initial condition's frame is non-finite or its
    RMS norm exceeds ``factor * max_norm`` (``max_norm``: the largest RMS frame norm in the
    training data); None when that never happens."""
    u = np.asarray(rollout, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        norm = np.sqrt((u.reshape(*u.shape[:2], -1) ** 2).mean(axis=2))
    bad = ~(norm <= factor * max_norm)  # NaN compares False, so it counts as blown up
    steps = np.flatnonzero(bad.any(axis=0))
    return int(steps[0]) + 1 if steps.size else None


def energy_spectrum(frames: Any, n_space: int) -> np.ndarray:
    """Energy per integer wavenumber shell of ``frames`` ``(..., *space)`` (``n_space``
    trailing spatial dims), averaged over every leading index (samples, times, channels):
    ``E(s) = sum_{s - 1/2 <= |k| < s + 1/2} |u_k|^2 / N^2`` (N grid points, ``s = 0 .. n/2``),
    so that ``sum_s E(s)`` is the mean of ``u^2`` up to the corner modes beyond ``n/2`` (Parseval)."""
    u = np.asarray(frames, dtype=np.float64)
    axes = tuple(range(u.ndim - n_space, u.ndim))
    shape = u.shape[u.ndim - n_space:]
    power = np.abs(np.fft.fftn(u, axes=axes)) ** 2 / float(np.prod(shape)) ** 2
    power = power.reshape(-1, *shape).mean(axis=0)
    k = np.meshgrid(*(np.fft.fftfreq(n, 1.0 / n) for n in shape), indexing="ij")
    shell = np.rint(np.sqrt(sum(g**2 for g in k))).astype(int)
    return np.bincount(shell.ravel(), weights=power.ravel())[: min(shape) // 2 + 1]


def spectrum_log_err(model_spectrum: Any, true_spectrum: Any, rel_floor: float = 1e-8) -> float:
    """Mean over wavenumbers of ``|log10(E_model(k) / E_true(k))|``, over the ``k`` where
    ``E_true(k) >= rel_floor * max E_true``; inf when the model's spectrum is not finite."""
    e_model = np.asarray(model_spectrum, dtype=np.float64)
    e_true = np.asarray(true_spectrum, dtype=np.float64)
    if e_model.shape != e_true.shape:
        raise ValueError(f"spectrum_log_err: shapes differ, {e_model.shape} vs {e_true.shape}")
    if not np.isfinite(e_model).all():
        return float("inf")
    keep = e_true >= rel_floor * e_true.max()
    tiny = np.finfo(np.float64).tiny
    return float(np.abs(np.log10(np.maximum(e_model[keep], tiny) / e_true[keep])).mean())
