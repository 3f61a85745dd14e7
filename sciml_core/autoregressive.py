"""Autoregressive rollout, temporal bundling and pushforward training, shared by every operator.

A *stepper* maps the last ``K`` frames of a trajectory to the next ``H`` frames::

    stepper(history, frame) -> next      history: (batch, K, C, *space), next: (batch, H, C, *space)

``frame`` is the trajectory index of the first frame the call produces, so a non-autonomous
stepper (a network with a time input, a forced numerical reference) knows its time.
``K = H = 1`` is a one-step map; ``K = H = 25`` is the temporal bundle of Brandstetter,
Worrall & Welling, "Message passing neural PDE solvers" (ICLR 2022).

* :func:`rollout` drives any stepper, learned or numerical (:func:`reference_stepper`), so
  both are graded through the same code (as in PDEArena and exponax);
* :func:`pushforward` applies unrolled steps *without* gradient: the pushforward trick of
  Brandstetter et al. trains the graded step on the model's own (perturbed) inputs while the
  gradient never flows through the unrolled steps;
* :func:`window_pairs` cuts bundled (history, target) training pairs out of stored
  trajectories, :func:`unroll_count` draws the pushforward curriculum.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import torch


class Stepper(Protocol):
    """``stepper(history, frame)``: the next ``H`` frames after ``history`` (module docstring)."""

    def __call__(self, history: torch.Tensor, frame: int) -> torch.Tensor: ...


def _advance(history: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
    """The last ``K`` frames after appending ``new`` to ``history`` (both (batch, *, C, *space))."""
    window = history.shape[1]
    if new.shape[1] >= window:
        return new[:, new.shape[1] - window:]
    return torch.cat([history[:, new.shape[1]:], new], dim=1)


def rollout(stepper: Stepper, initial: torch.Tensor, n_steps: int, *, first_frame: int | None = None,
            stop_on_nonfinite: bool = False, out_device: torch.device | str | None = None) -> torch.Tensor:
    """Roll ``stepper`` forward ``n_steps`` frames from ``initial`` (batch, K, C, *space).

    Returns the ``n_steps`` frames that follow ``initial``, shape (batch, n_steps, C, *space);
    each call yields H frames and the last call's surplus is cut.  ``first_frame`` is the
    trajectory index of the first produced frame (default K: ``initial`` is frames 0..K-1).
    ``stop_on_nonfinite``: once a produced frame holds NaN/inf, stop and fill the rest with NaN
    (a blown-up rollout costs nothing more).  ``out_device``: where the frames are collected
    (e.g. ``"cpu"`` for a long GPU rollout).  Runs without gradient.
    """
    if initial.ndim < 3:
        raise ValueError(f"rollout: initial must be (batch, K, C, *space), got shape {tuple(initial.shape)}")
    if n_steps < 0:
        raise ValueError(f"rollout: n_steps must be >= 0, got {n_steps}")
    frame = initial.shape[1] if first_frame is None else int(first_frame)
    device = initial.device if out_device is None else torch.device(out_device)
    out = torch.full((initial.shape[0], n_steps, *initial.shape[2:]), float("nan"), dtype=initial.dtype, device=device)
    history, done = initial, 0
    with torch.no_grad():
        while done < n_steps:
            new = stepper(history, frame + done)
            if new.ndim != initial.ndim or new.shape[0] != initial.shape[0] or new.shape[2:] != initial.shape[2:]:
                raise ValueError(f"rollout: the stepper returned shape {tuple(new.shape)} for history "
                                 f"{tuple(history.shape)}; expected (batch, H, C, *space) = "
                                 f"({initial.shape[0]}, H, {', '.join(map(str, initial.shape[2:]))})")
            take = min(new.shape[1], n_steps - done)
            out[:, done:done + take] = new[:, :take].to(device)
            done += take
            if stop_on_nonfinite and not bool(torch.isfinite(new[:, :take]).all()):
                break
            history = _advance(history, new)
    return out


def pushforward(stepper: Stepper, history: torch.Tensor, n_unroll: int, first_frame: int) -> torch.Tensor:
    """``n_unroll`` stepper calls without gradient from ``history``; the history they end on.

    ``first_frame`` is the trajectory index of the first frame the first call produces.  The
    result is detached: a loss on the next step never backpropagates into the unrolled ones.
    """
    frame = first_frame
    with torch.no_grad():
        for _ in range(n_unroll):
            new = stepper(history, frame)
            frame += new.shape[1]
            history = _advance(history, new)
    return history.detach()


def window_pairs(trajectories: torch.Tensor, samples: torch.Tensor, starts: torch.Tensor, window: int,
                 horizon: int, n_unroll: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Bundled training pairs from stored trajectories (N, T, C, *space).

    For batch entry b: the history is frames ``starts[b] .. starts[b] + window - 1`` of
    trajectory ``samples[b]``; the target is the ``horizon`` frames that follow ``n_unroll``
    further bundles of ``horizon`` (the frames the graded step must produce after a
    pushforward of ``n_unroll`` steps).  Returns (history (B, window, ...), target
    (B, horizon, ...), target_frame (B,)), target_frame being the index of the target's first frame.
    """
    n_frames = trajectories.shape[1]
    target_frame = starts + window + n_unroll * horizon
    if bool((starts < 0).any()) or bool((target_frame + horizon > n_frames).any()):
        raise ValueError(f"window_pairs: a window of {window} + {n_unroll + 1} x {horizon} frames from start "
                         f"{int(starts.max())} does not fit in {n_frames} frames")
    offsets = torch.arange(window, device=starts.device)
    history = trajectories[samples[:, None], starts[:, None] + offsets]
    offsets = torch.arange(horizon, device=starts.device)
    target = trajectories[samples[:, None], target_frame[:, None] + offsets]
    return history, target, target_frame


def max_start(n_frames: int, window: int, horizon: int, n_unroll: int = 0) -> int:
    """The largest start frame for which :func:`window_pairs` fits (``-1``: none fits)."""
    return n_frames - window - (n_unroll + 1) * horizon


def unroll_count(generator: torch.Generator, epoch: int, max_unroll: int) -> int:
    """The pushforward curriculum: uniform on {0, ..., min(epoch, max_unroll)}."""
    return int(torch.randint(0, min(epoch, max_unroll) + 1, (), generator=generator))


def reference_stepper(integrate: Callable[..., Mapping[str, Any]], times: Sequence[float], fields: Sequence[str],
                      horizon: int = 1) -> Stepper:
    """A numerical reference as a stepper: integrates the last frame ``horizon`` frames forward.

    ``integrate(initial, t_out, t0)`` is a reference solver's batched
    :meth:`~sciml_core.solver.ReferenceSolver.integrate` (``initial[field]`` of shape
    (batch, *space)); ``times`` the trajectory's frame times, so ``frame`` maps to t and a
    non-autonomous reference (forcing) integrates from the right time.  Frames travel as
    float64 numpy arrays and come back in the history's dtype and device.
    """
    times = np.asarray(times, dtype=np.float64)

    def step(history: torch.Tensor, frame: int) -> torch.Tensor:
        if frame < 1 or frame + horizon > len(times):
            raise ValueError(f"reference_stepper: frames {frame}..{frame + horizon - 1} are outside the "
                             f"{len(times)} frame times")
        last = history[:, -1].detach().to("cpu", torch.float64).numpy()
        initial = {f: last[:, c] for c, f in enumerate(fields)}
        out = integrate(initial, times[frame:frame + horizon], t0=float(times[frame - 1]))
        new = np.stack([np.asarray(out[f]) for f in fields], axis=2)  # (batch, horizon, C, *space)
        return torch.as_tensor(new, dtype=history.dtype, device=history.device)

    return step
