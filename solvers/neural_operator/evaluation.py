"""Long-rollout evaluation of an autoregressive operator: stability, statistics, valid time.

On a chaotic system pointwise accuracy is lost after a few Lyapunov times by any model,
even the exact solver from a slightly perturbed state, so "rel L2 > 1" measures chaos, not
instability.  This module separates the two (McCabe et al. 2023; issue 21), with the metrics
of :mod:`sciml_core.metrics`, from the held-out initial conditions of a dataset file:

* ``blowup_step`` -- non-finite, or an RMS frame norm above 3x the training data's largest;
* ``spectrum_log_err`` -- the energy spectrum over the second half of a long rollout
  (``steps`` frames) against the truth's over every stored frame of the file;
* ``valid_steps`` (rel L2 <= 0.5) against the truth, and ``chaos_valid_steps``: the same for
  the file's own reference solver started from the truth plus a perturbation of the model's
  one-step size.  The truth is the stored held-out trajectory continued, when ``truth_steps``
  asks for more frames, by that reference solver.

Both rollouts go through :func:`sciml_core.autoregressive.rollout`: the reference is wrapped
by :func:`~sciml_core.autoregressive.reference_stepper`, rebuilt from the file's provenance
attributes (``pde``, ``pde_params``, ``solver``, ``solver_config``).  Long rollouts run in
chunks, so memory holds one chunk, the truth and the accumulated spectrum, not 10^4 frames.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from sciml_core.autoregressive import Stepper, reference_stepper, rollout
from sciml_core.data.trajectories import TrajectorySet
from sciml_core.errors import ConfigError
from sciml_core.metrics import blowup_step, chaos_valid_steps, energy_spectrum, spectrum_log_err, valid_steps


@dataclass
class LongRolloutConfig:
    """``steps``: frames rolled out from each held-out initial condition (0: no long
    evaluation); ``truth_steps``: frames of truth for ``valid_steps`` (0: the stored ones;
    more: continued by the reference solver); ``chaos``: also ``chaos_valid_steps``;
    ``chunk``: frames per rollout call; ``lyapunov_exponent``: per unit time, to report
    valid times in Lyapunov times (0: unknown); ``seed``: of the chaos perturbation."""

    steps: int = 0
    truth_steps: int = 0
    chaos: bool = True
    chunk: int = 500
    threshold: float = 0.5
    blowup_factor: float = 3.0
    lyapunov_exponent: float = 0.0
    seed: int = 0

    def validate(self) -> None:
        if min(self.steps, self.truth_steps) < 0 or self.chunk < 1:
            raise ConfigError("long.steps and long.truth_steps must be >= 0 and long.chunk >= 1")
        if not (self.threshold > 0 and self.blowup_factor > 0 and self.lyapunov_exponent >= 0):
            raise ConfigError("long.threshold and long.blowup_factor must be positive, long.lyapunov_exponent >= 0")


def file_reference(data: TrajectorySet, n_frames: int, horizon: int) -> tuple[Stepper, Any]:
    """The dataset file's reference solver as a stepper over ``n_frames`` uniformly spaced
    frames continuing the file's times, and the solver object; ConfigError when the file
    cannot be reproduced that way (random per-sample parameters, subsampled grid)."""
    from sciml_core.config import build_config
    from sciml_core.registry import get_pde, get_solver
    from sciml_core.solver import RunContext

    attrs = data.attrs
    spec = json.loads(attrs.get("spec", "{}"))
    if spec.get("parameters"):
        raise ConfigError(f"{data.path}: samples have random PDE parameters; the reference cannot continue them")
    pde = get_pde(attrs["pde"]).from_params(json.loads(attrs["pde_params"]))
    cls = get_solver(attrs["solver"])
    solver = cls(pde, build_config(cls.Config, json.loads(attrs["solver_config"])), RunContext(progress=False))
    grid = solver.grid()
    if any(len(grid[d]) != len(c) for d, c in data.coords.items()):
        raise ConfigError(f"{data.path}: the trajectories are subsampled (data.x_stride); the reference runs on "
                          "the file's own grid, so truth extension and chaos_valid_steps need data.x_stride = 1")
    dt = float(data.t[1] - data.t[0])
    times = data.t[0] + dt * np.arange(n_frames + horizon)
    return reference_stepper(solver.integrate, times, data.fields, horizon), solver


def _rms_norms(u: torch.Tensor) -> torch.Tensor:
    """(B, T, C, *space) -> (B, T) RMS frame norms."""
    return u.flatten(2).double().pow(2).mean(-1).sqrt()


def long_rollout_metrics(stepper: Stepper, data: TrajectorySet, cfg: LongRolloutConfig, window: int,
                         one_step: float) -> dict[str, Any]:
    """The long-rollout metrics of a physical-units ``stepper`` (module docstring).

    ``one_step`` is the model's one-step rel L2 (the chaos perturbation's size); rollouts start
    from the first ``window`` stored frames of every held-out trajectory.  A frame that is not
    finite stops the rollout of every initial condition (the remaining frames count as invalid).
    """
    truth_stored = data.denormalise(data.test).double().cpu()
    train = data.denormalise(data.train).double().cpu()
    max_norm = float(_rms_norms(train).max())
    start = window
    initial = truth_stored[:, :start]
    n_truth = cfg.truth_steps or (data.n_frames - start)
    reference = None
    truth = truth_stored[:, start:start + n_truth]
    if truth.shape[1] < n_truth or cfg.chaos:
        chunk = min(cfg.chunk, n_truth)
        reference, _ = file_reference(data, start + max(n_truth, cfg.steps), chunk)
    if truth.shape[1] < n_truth:  # continue the stored truth with the reference
        more = rollout(reference, truth_stored[:, -1:], n_truth - truth.shape[1], first_frame=data.n_frames)
        truth = torch.cat([truth, more], dim=1)
    truth_np = truth.numpy()
    n_space = len(data.space_dims)
    true_spectrum = energy_spectrum(torch.cat([train, truth_stored]).numpy(), n_space)

    # the model's long rollout, chunk by chunk: rel L2 on the truth's span, norms, late spectrum
    steps = max(cfg.steps, n_truth)
    history, done = initial.to(data.test.device, data.test.dtype), 0
    pred_span, norms = [], []
    spectrum_sum, spectrum_frames = np.zeros_like(true_spectrum), 0
    while done < steps:
        take = min(cfg.chunk, steps - done)
        out = rollout(stepper, history, take, first_frame=start + done, stop_on_nonfinite=True)
        out_cpu = out.double().cpu()
        norms.append(_rms_norms(out_cpu))
        if done < n_truth:
            pred_span.append(out_cpu[:, : n_truth - done])
        late_from = max(steps // 2 - done, 0)
        if late_from < take:
            late = out_cpu[:, late_from:].numpy()
            spectrum_sum += energy_spectrum(late, n_space) * late.shape[0] * late.shape[1]
            spectrum_frames += late.shape[0] * late.shape[1]
        history = out[:, -window:]
        done += take
        if not bool(torch.isfinite(out[:, -1]).all()):
            norms.append(torch.full((out.shape[0], steps - done), float("nan"), dtype=torch.float64))
            spectrum_sum[:] = np.nan
            break
    norms_all = torch.cat(norms, dim=1)
    prediction = torch.cat(pred_span, dim=1)[:, :n_truth]
    if prediction.shape[1] < n_truth:  # stopped by a blow-up: the rest counts as invalid
        pad = torch.full((prediction.shape[0], n_truth - prediction.shape[1], *prediction.shape[2:]), float("nan"),
                         dtype=prediction.dtype)
        prediction = torch.cat([prediction, pad], dim=1)
    model_spectrum = spectrum_sum / max(spectrum_frames, 1)
    valid = valid_steps(prediction.numpy(), truth_np, cfg.threshold)
    blowup = blowup_step(norms_all[:, :, None].numpy(), max_norm, cfg.blowup_factor)
    out: dict[str, Any] = {
        "rollout_steps": steps, "truth_steps": n_truth, "n_initial_conditions": int(initial.shape[0]),
        "blowup_step": blowup, "max_train_norm": max_norm,
        "spectrum_log_err": _finite_or_none(spectrum_log_err(model_spectrum, true_spectrum)),
        "valid_steps": float(valid.mean()), "valid_steps_per_ic": valid.tolist(),
        "valid_steps_censored": int((valid >= n_truth).sum()),
        "spectrum_model": model_spectrum.tolist(), "spectrum_true": true_spectrum.tolist(),
        "rel_l2_per_step": _mean_rel_l2(prediction.numpy(), truth_np),
        "rms_norm_per_step": norms_all.mean(0)[:: max(1, steps // 1000)].tolist(),
    }
    if cfg.chaos:
        chaos = chaos_valid_steps(reference, initial, truth_np, one_step, cfg.threshold, cfg.seed)
        out.update({"chaos_valid_steps": float(chaos.mean()), "chaos_valid_steps_per_ic": chaos.tolist(),
                    "chaos_perturbation_rel_l2": one_step})
    if cfg.lyapunov_exponent:
        lyapunov = cfg.lyapunov_exponent * float(data.t[1] - data.t[0])
        out["valid_lyapunov_times"] = out["valid_steps"] * lyapunov
        if cfg.chaos:
            out["chaos_valid_lyapunov_times"] = out["chaos_valid_steps"] * lyapunov
    return out


def _finite_or_none(x: float) -> float | None:
    return x if np.isfinite(x) else None


def _mean_rel_l2(prediction: np.ndarray, truth: np.ndarray) -> list[float]:
    from sciml_core.metrics import per_step_rel_l2

    err = per_step_rel_l2(prediction, truth)
    return [float(v) if np.isfinite(v) else None for v in np.mean(err, axis=0)]
