"""Metric formulas against hand-computed values (PDEBench definitions, MP-PDE accumulated error)."""

from __future__ import annotations

import numpy as np
import pytest

from sciml_core.metrics import (accumulated_error, brmse, crmse, frmse, max_abs_error, max_error, nrmse,
                                pdebench_metrics, rel_l2, rmse)


def test_rel_l2_unchanged() -> None:
    assert rel_l2([3.0, 4.0], [0.0, 5.0]) == pytest.approx(np.sqrt(9 + 1) / 5)


def test_rel_l2_of_a_non_finite_reference_is_nan() -> None:
    # it used to return ||prediction|| (a plausible wrong number) when the denominator was NaN
    assert np.isnan(rel_l2([3.0, 4.0], [np.nan, 5.0]))
    assert np.isnan(rel_l2([np.inf, 4.0], [1.0, 5.0]))


def test_pointwise_metrics_by_hand() -> None:
    # batch 2, t 2, x 4; errors chosen so every formula is easy to do on paper
    ref = np.array([[[1, 1, 1, 1], [2, 2, 2, 2]], [[1, 1, 1, 1], [0, 0, 0, 2]]], dtype=float)
    err = np.array([[[1, 1, 1, 1], [0, 0, 0, 0]], [[2, 0, 0, 0], [0, 0, 0, 4]]], dtype=float)
    pred = ref + err
    # sqrt(mean_x e^2): b0 -> (1, 0); b1 -> (sqrt(1), sqrt(4)) = (1, 2); mean over b -> (1, 1); mean over t -> 1
    assert rmse(pred, ref) == pytest.approx(1.0)
    # ||e|| / ||ref||: b0 -> (2/2, 0/4); b1 -> (2/2, 4/2); mean_b -> (1, 1); mean_t -> 1
    assert nrmse(pred, ref) == pytest.approx(1.0)
    # sum_x e: b0 -> (4, 0), b1 -> (2, 4); sqrt(mean_b .^2) -> (sqrt(10), sqrt(8)); / 4; mean_t
    assert crmse(pred, ref) == pytest.approx((np.sqrt(10) + np.sqrt(8)) / 4 / 2)
    # ends: b0 -> sqrt((1+1)/2)=1, 0; b1 -> sqrt((4+0)/2)=sqrt2, sqrt((0+16)/2)=sqrt8
    assert brmse(pred, ref) == pytest.approx(((1 + np.sqrt(2)) / 2 + (0 + np.sqrt(8)) / 2) / 2)
    # PDEBench's max error: worst |e| over batch and space per t -> (2, 4), then the mean over t
    assert max_error(pred, ref) == pytest.approx(3.0)
    assert max_abs_error(pred, ref) == 4.0
    # sum_t sum_x e^2 / nx: b0 -> 4/4 = 1; b1 -> (4 + 16)/4 = 5; mean -> 3
    assert accumulated_error(pred, ref) == pytest.approx(3.0)


def test_brmse_2d_counts_edges() -> None:
    err = np.zeros((1, 1, 4, 4))
    err[0, 0, 0, 0] = 2.0  # a corner lies on two edges: counted twice out of 2*4 + 2*4 = 16 face points
    assert brmse(err, np.zeros_like(err)) == pytest.approx(np.sqrt(2 * 4 / 16))
    err[0, 0, 1:3, 1:3] = 5.0  # interior errors do not count
    assert brmse(err, np.zeros_like(err)) == pytest.approx(np.sqrt(2 * 4 / 16))


def test_frmse_bands_by_hand() -> None:
    nx = 64
    x = np.arange(nx) / nx
    for k, band in ((2, "low"), (7, "mid"), (20, "high")):
        err = np.sin(2 * np.pi * k * x)[None, None]  # |rFFT| = nx / 2 at k: E(k) = (nx/2) / nx * L = 0.5
        out = frmse(err, np.zeros_like(err))
        width = {"low": 4, "mid": 8, "high": nx // 2 + 1 - 12}[band]  # 1D high band: k = 12 .. nx/2 (Nyquist)
        assert out[band] == pytest.approx(0.5 / width)
        assert all(abs(v) < 1e-14 for b, v in out.items() if b != band)
    # 2D: a mode with wavenumber vector (3, 4) lies on shell |k| = 5 (mid band); rfft2 -> |F| = n^2 / 2
    n = 32
    y, xx = np.meshgrid(np.arange(n) / n, np.arange(n) / n, indexing="ij")
    err = np.cos(2 * np.pi * (3 * y + 4 * xx))[None, None]
    out = frmse(err, np.zeros_like(err), length=2.0)
    assert out["mid"] == pytest.approx(0.5 * 2.0 / 8) and abs(out["low"]) < 1e-14


def test_pdebench_metrics_multi_field_and_initial_step() -> None:
    rng = np.random.default_rng(0)
    ref = {"u": rng.normal(size=(2, 5, 16)), "v": rng.normal(size=(2, 5, 16))}
    pred = {"u": ref["u"] * 1.1, "v": ref["v"].copy()}
    pred["v"][:, :2] += 100.0  # only in the dropped frames
    out = pdebench_metrics(pred, ref, initial_step=2)
    assert out["nrmse"] == pytest.approx((0.1 + 0.0) / 2)
    # mean over fields of PDEBench's max error (v has none in the scored frames)
    assert out["max_error"] == pytest.approx(np.abs(0.1 * ref["u"][:, 2:]).max(axis=(0, 2)).mean() / 2)
    assert set(out) == {"rmse", "nrmse", "crmse", "brmse", "frmse_low", "frmse_mid", "frmse_high", "max_error"}
    with pytest.raises(ValueError, match="shapes differ"):
        rmse(np.zeros((1, 2, 3)), np.zeros((1, 2, 4)))
