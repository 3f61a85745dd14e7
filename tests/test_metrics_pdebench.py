"""Our PDEBench metrics against PDEBench's own ``metric_func`` formula, in 1D and 2D.

``pdebench_formula`` below is a hand-written transcription of the arithmetic of
``metric_func`` in pdebench/models/metrics.py (PDEBench, Takamoto et al. 2022), written
with explicit loops over PDEBench's own layout ``(batch, *space, t, channel)`` so that it
shares no code path with ``sciml_core.metrics`` (vectorised, layout ``(batch, t, *space)``):
RMSE, nRMSE, cRMSE, max error, bRMSE, and fRMSE with PDEBench's bands (iLow = 4,
iHigh = 12), each per channel and time step, then averaged over channels and time.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sciml_core.metrics import fourier_error_spectrum, pdebench_metrics


def pdebench_formula(pred: np.ndarray, target: np.ndarray, lengths: tuple[float, ...]) -> dict[str, float]:
    """PDEBench's metric_func on (batch, *space, t, channel) arrays, as loops (see the module docstring)."""
    nb, *space, nt, nc = target.shape
    n_pts = int(np.prod(space))
    out = {k: 0.0 for k in ("rmse", "nrmse", "crmse", "max_error", "brmse", "frmse_low", "frmse_mid", "frmse_high")}
    for c in range(nc):
        for t in range(nt):
            e = pred[..., t, c] - target[..., t, c]  # (batch, *space)
            ref = target[..., t, c]
            rms = [math.sqrt(float(np.mean(e[b] ** 2))) for b in range(nb)]
            out["rmse"] += sum(rms) / nb
            out["nrmse"] += sum(rms[b] / math.sqrt(float(np.mean(ref[b] ** 2))) for b in range(nb)) / nb
            out["crmse"] += math.sqrt(sum(float(e[b].sum()) ** 2 for b in range(nb)) / nb) / n_pts
            out["max_error"] += max(float(np.abs(e[b]).max()) for b in range(nb))
            # boundary: first and last slice along every spatial axis, over 2 (1D) or 2 nx + 2 ny (2D) points
            bd = []
            for b in range(nb):
                if len(space) == 1:
                    bd.append(math.sqrt((e[b, 0] ** 2 + e[b, -1] ** 2) / 2.0))
                else:
                    nx, ny = space
                    s = float((e[b, 0, :] ** 2).sum() + (e[b, -1, :] ** 2).sum()
                              + (e[b, :, 0] ** 2).sum() + (e[b, :, -1] ** 2).sum())
                    bd.append(math.sqrt(s / (2 * nx + 2 * ny)))
            out["brmse"] += sum(bd) / nb
            # Fourier: 1D per rFFT mode; 2D |FFT|^2 summed over floor(sqrt(i^2 + j^2)) shells of the
            # non-negative quadrant i < nx // 2, j < ny // 2, shells below min(nx, ny) // 2
            if len(space) == 1:
                F = [np.fft.rfft(e[b]) for b in range(nb)]
                spec = [math.sqrt(sum(abs(F[b][k]) ** 2 for b in range(nb)) / nb) / space[0] * lengths[0]
                        for k in range(space[0] // 2 + 1)]
            else:
                nx, ny = space
                n_shells = min(nx // 2, ny // 2)
                acc = np.zeros((nb, n_shells))
                for b in range(nb):
                    F = np.fft.fftn(e[b])
                    for i in range(nx // 2):
                        for j in range(ny // 2):
                            shell = math.floor(math.sqrt(i**2 + j**2))
                            if shell <= n_shells - 1:
                                acc[b, shell] += abs(F[i, j]) ** 2
                spec = [math.sqrt(acc[:, s].mean()) / (nx * ny) * lengths[0] * lengths[1] for s in range(n_shells)]
            for band, (lo, hi) in (("low", (0, 4)), ("mid", (4, 12)), ("high", (12, len(spec)))):
                out[f"frmse_{band}"] += float(np.mean(spec[lo:hi])) if hi > lo else math.nan  # torch: NaN
    return {k: v / (nc * nt) for k, v in out.items()}


def _ours(pred: np.ndarray, target: np.ndarray, lengths: tuple[float, ...]) -> dict[str, float]:
    """Our pdebench_metrics on the same data, moved into our layout (batch, t, *space) per field."""
    n_space = pred.ndim - 3
    order = (0, n_space + 1, *range(1, n_space + 1))
    fields = {f"c{c}": np.transpose(pred[..., c], order) for c in range(pred.shape[-1])}
    refs = {f"c{c}": np.transpose(target[..., c], order) for c in range(pred.shape[-1])}
    return pdebench_metrics(fields, refs, length=lengths)


def _smooth_data(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Random fields with a decaying spectrum, so every Fourier band carries error."""
    data = rng.normal(size=shape)
    return data + 3.0 + np.cumsum(rng.normal(size=shape), axis=1) / 10


@pytest.mark.parametrize("space, lengths", [((64,), (2.0,)), ((40,), (1.0,)), ((32, 32), (1.0, 2.0)), ((40, 28), (2.0, 1.0)), ((24, 36), (1.0, 1.0))])
def test_metrics_equal_pdebench_formula(space, lengths) -> None:
    rng = np.random.default_rng(7)
    shape = (3, *space, 5, 2)  # batch 3, 5 time steps, 2 channels (PDEBench layout)
    target = _smooth_data(rng, shape)
    pred = target + 0.3 * rng.normal(size=shape) * np.linspace(0.5, 2.0, space[0]).reshape(1, -1, *[1] * (len(space) + 1))
    expected, ours = pdebench_formula(pred, target, lengths), _ours(pred, target, lengths)
    assert set(ours) == set(expected)
    for key in expected:
        assert ours[key] == pytest.approx(expected[key], rel=1e-12, abs=1e-15, nan_ok=True), key
    if min(space[-2:]) < 26 and len(space) == 2:  # fewer than 13 shells: no high band, NaN in both
        assert np.isnan(ours["frmse_high"])


def test_2d_shells_sum_power_before_the_square_root() -> None:
    # two modes on one shell (|k| = 5: (3, 4) and (5, 0)) with amplitudes 1 and 1: PDEBench sums
    # their power, sqrt(2) * n^2 / 2, where a sum of per-mode magnitudes would give 2 * n^2 / 2
    n = 32
    y, x = np.meshgrid(np.arange(n) / n, np.arange(n) / n, indexing="ij")
    err = (np.cos(2 * np.pi * (3 * y + 4 * x)) + np.cos(2 * np.pi * 5 * y))[None, None]
    spec = fourier_error_spectrum(err, np.zeros_like(err))
    assert spec[0, 5] == pytest.approx(np.sqrt(2) * 0.5)
    assert np.abs(np.delete(spec[0], 5)).max() < 1e-12
