"""Rollout metrics (issue 21) on hand-made sequences: each fails if its rule is changed."""

from __future__ import annotations

import numpy as np
import pytest

from sciml_core.metrics import (blowup_step, energy_spectrum, one_step_rel_l2, per_step_rel_l2, phase_randomised,
                                spectrum_log_err, valid_steps)


def _drifting(n_steps: int, rate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """truth = ones, rollout = ones * (1 + rate * step): rel L2 at step s is rate * s."""
    truth = np.ones((len(rate), n_steps, 2, 8))
    steps = np.arange(1, n_steps + 1)
    return truth * (1 + rate[:, None, None, None] * steps[None, :, None, None]), truth


def test_one_step_rel_l2_is_the_mean_over_pairs() -> None:
    target = np.ones((2, 4))
    pred = target.copy()
    pred[0] *= 1.5  # rel L2 0.5
    assert one_step_rel_l2(pred, target) == pytest.approx(0.25)  # not the pooled 0.5 / sqrt(2)


def test_valid_steps_known_crossing() -> None:
    rollout, truth = _drifting(20, np.array([0.1, 0.05, 0.01]))
    # rel L2 = 0.1 s: 0.5 at s = 5 (not above), 0.6 at s = 6 -> 5 valid steps; 0.05 s: 10; 0.01 s never
    np.testing.assert_array_equal(valid_steps(rollout, truth), [5, 10, 20])
    np.testing.assert_array_equal(valid_steps(rollout, truth, threshold=0.25), [2, 5, 20])


def test_valid_steps_counts_nan_as_invalid() -> None:
    rollout, truth = _drifting(10, np.array([0.0]))
    rollout[0, 3] = np.nan
    assert valid_steps(rollout, truth)[0] == 3
    assert np.isinf(per_step_rel_l2(rollout, truth)[0, 3])


def test_blowup_detector_stops_at_the_right_step() -> None:
    u = np.ones((3, 12, 16))  # RMS norm 1 everywhere
    assert blowup_step(u, max_norm=1.0) is None
    u[1, 7:] = 3.5  # RMS 3.5 > 3 * 1 from step 8 on
    u[2, 9] = np.inf
    assert blowup_step(u, max_norm=1.0) == 8
    assert blowup_step(u, max_norm=1.2) == 10  # 3.5 < 3.6: only the inf at step 10 counts
    u[0, 2, 0] = np.nan
    assert blowup_step(u, max_norm=1.2) == 3


def test_energy_spectrum_by_hand() -> None:
    n = 32
    x = 2 * np.pi * np.arange(n) / n
    u = 2.0 + 3.0 * np.cos(5 * x)  # mean^2 = 4 at k = 0; a cosine of amplitude 3 carries 9 / 2
    e = energy_spectrum(u[None, None], 1)
    assert e.shape == (n // 2 + 1,)
    assert e[0] == pytest.approx(4.0) and e[5] == pytest.approx(4.5)
    assert e.sum() == pytest.approx((u**2).mean())
    y = x[:, None]
    w = np.cos(3 * x[None, :] + 4 * y)  # |k| = 5 in 2D
    e2 = energy_spectrum(w[None], 2)
    assert e2[5] == pytest.approx(0.5) and e2.sum() == pytest.approx(0.5)


def test_spectrum_log_err_zero_and_one() -> None:
    e = np.array([1.0, 0.5, 1e-3, 1e-6, 1e-12])
    assert spectrum_log_err(e, e) == 0.0
    assert spectrum_log_err(10 * e, e) == pytest.approx(1.0)
    assert spectrum_log_err(e / 10, e) == pytest.approx(1.0)
    # the k with E_true < 1e-8 max are ignored, whatever the model puts there
    wrong_tail = e.copy()
    wrong_tail[-1] = 1.0
    assert spectrum_log_err(wrong_tail, e) == 0.0
    assert spectrum_log_err(np.full(5, np.nan), e) == float("inf")


def test_phase_randomised_keeps_spectrum_and_size() -> None:
    rng = np.random.default_rng(1)
    u = np.cumsum(rng.normal(size=(3, 1, 64)), axis=-1)
    u -= u.mean(-1, keepdims=True)
    delta = phase_randomised(u, 1e-3, seed=4)
    ratio = np.linalg.norm(delta.reshape(3, -1), axis=1) / np.linalg.norm(u.reshape(3, -1), axis=1)
    np.testing.assert_allclose(ratio, 1e-3, rtol=1e-12)
    spec_u, spec_d = energy_spectrum(u, 1), energy_spectrum(delta, 1)
    np.testing.assert_allclose(spec_d[1:-1] / spec_u[1:-1], 1e-6, rtol=1e-6)  # same shape, 1e-3 squared
    assert not np.allclose(delta / 1e-3, u)  # the phases did change
    np.testing.assert_array_equal(delta, phase_randomised(u, 1e-3, seed=4))
