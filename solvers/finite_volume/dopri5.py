"""Adaptive Dormand-Prince 5(4) for a batch of method-of-lines systems ``u' = f(t, u)`` in torch.

Dormand & Prince (1980) with FSAL (the tableau of the spectral references,
:data:`solvers.spectral.integrators.DOPRI5_TABLEAU`).  Every sample has its own time and
step size, advanced together in one batched step: sample b's embedded error is the RMS over
its points of ``e / (atol + rtol max(|u_n|, |u_{n+1}|))`` and decides its own acceptance and
next step (PI control, Gustafsson 1991, exponents 0.7/5 and 0.4/5; Hairer, Norsett & Wanner,
Solving ODEs I, II.4).  Output frames come from the method's fourth-order continuous
extension (Hairer's ``CONTD5``), so steps are not shortened to hit output times; only the
last step is clipped to land on the final time.  Samples that are done leave the batch.
A sample's trajectory depends on its batch mates only through rounding (vectorised kernels
on a larger batch may round differently in the last bit), which the accept/reject decisions
can amplify to the integration tolerance near shocks.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

import numpy as np
import torch
from torch import Tensor

from solvers.spectral.integrators import DOPRI5_TABLEAU

# weights of the dense-output polynomial (Hairer & Wanner's dopri5.f, CONTD5)
DENSE = (-12715105075 / 11282082432, 0.0, 87487479700 / 32700410799, -10690763975 / 1880347072,
         701980252875 / 199316789632, -1453857185 / 822651844, 69997945 / 29380423)


class BatchRhs(Protocol):
    """``f(t, u)`` for ``t`` ``(batch,)`` and ``u`` ``(batch, n)``; ``select(rows)`` keeps those samples."""

    def __call__(self, t: Tensor, u: Tensor) -> Tensor: ...

    def select(self, rows: Tensor) -> "BatchRhs": ...


def _combine(terms: list[tuple[float, Tensor]]) -> Tensor:
    """``sum_j c_j K_j`` over the non-zero ``c_j``."""
    acc = None
    for coef, K in terms:
        if coef:
            acc = K * coef if acc is None else acc.add_(K, alpha=coef)
    assert acc is not None
    return acc


def _rms(x: Tensor) -> Tensor:
    return x.square().mean(dim=-1).sqrt()


class DormandPrince:
    """``solve(rhs, u0, t0, t_out)``; statistics of the last solve in ``stats``; ``on_frames(done)``,
    when given, hears after every step how many output frames every sample has reached."""

    order = 5
    safety, min_factor, max_factor = 0.9, 0.2, 5.0

    def __init__(self, rtol: float = 1e-6, atol: float = 1e-8, dt0: float | None = None,
                 max_steps: int = 10_000_000, on_frames: Callable[[int], None] | None = None) -> None:
        self.rtol, self.atol, self.dt0, self.max_steps = rtol, atol, dt0, max_steps
        self.on_frames = on_frames
        self.stats: dict[str, Any] = {}

    def _initial_step(self, rhs: BatchRhs, t: Tensor, u: Tensor, K1: Tensor, span: float) -> Tensor:
        """Hairer's starting step per sample, from |u0|, |f(u0)| and f after an Euler step."""
        scale = self.atol + self.rtol * u.abs()
        d0, d1 = _rms(u / scale), _rms(K1 / scale)
        h0 = torch.where((d0 > 1e-5) & (d1 > 1e-5), 0.01 * d0 / d1.clamp(min=1e-300), 1e-6).clamp(max=0.01 * span)
        K2 = rhs(t + h0, u + h0[:, None] * K1)
        d2 = _rms((K2 - K1) / scale) / h0
        dmax = torch.maximum(d1, d2)
        h1 = torch.where(dmax > 1e-15, (0.01 / dmax.clamp(min=1e-300)) ** (1.0 / self.order),
                         (1e-3 * h0).clamp(min=1e-6))
        return torch.minimum(torch.minimum(100 * h0, h1), torch.full_like(h0, span))

    @staticmethod
    def _write_frames(out: Tensor, times: Tensor, rows: Tensor, k: Tensor, count: Tensor, t: Tensor, hs: Tensor,
                      u: Tensor, u_new: Tensor, K: list[Tensor]) -> None:
        """Frames ``k[b] .. k[b] + count[b] - 1`` of every sample b with ``count[b] > 0``, inside
        its accepted step ``(t, t + hs]``, from the continuous extension; one gather per array for
        all (sample, frame) pairs."""
        sel = torch.nonzero(count > 0).squeeze(1)
        reps = count[sel]
        h = hs[:, None]  # the polynomial on the whole batch: most samples write a frame every step
        r2 = u_new - u
        r3 = h * K[0] - r2
        r4 = r2 - h * K[6] - r3
        r5 = h * _combine(list(zip(DENSE, K)))
        pair = torch.repeat_interleave(sel, reps)  # the sample of each frame written
        first = torch.repeat_interleave(torch.cumsum(reps, 0) - reps, reps)  # its first pair's position
        frame = k[pair] + torch.arange(len(pair), device=sel.device) - first
        theta = ((times[frame] - t[pair]) / hs[pair])[:, None]
        t1 = 1 - theta
        out[rows[pair], frame] = u[pair] + theta * (r2[pair] + t1 * (r3[pair] + theta * (
            r4[pair] + t1 * r5[pair])))

    def solve(self, rhs: BatchRhs, u0: Tensor, t0: float, t_out: np.ndarray) -> Tensor:
        """Frames ``(batch, len(t_out), n)`` at the non-decreasing times ``t_out >= t0``."""
        tab = DOPRI5_TABLEAU
        a, b, c, e = tab.a, tab.b, tab.c, tab.e
        assert e is not None
        alpha, beta = 0.7 / self.order, 0.4 / self.order
        device, batch, n_out = u0.device, u0.shape[0], len(t_out)
        times = torch.as_tensor(np.asarray(t_out, dtype=np.float64), device=device)
        out = torch.empty((batch, n_out, u0.shape[1]), dtype=u0.dtype, device=device)
        t_end = float(t_out[-1]) if n_out else t0
        tiny = 1e-12 * max(1.0, abs(t_end))
        at_start = int(np.searchsorted(np.asarray(t_out), t0 + tiny, side="right"))
        out[:, :at_start] = u0[:, None]
        rows = torch.arange(batch, device=device)  # original index of each active sample
        u, t = u0, torch.full((batch,), float(t0), dtype=u0.dtype, device=device)
        k = torch.full((batch,), at_start, dtype=torch.long, device=device)  # next frame to write
        err_prev = torch.ones_like(t)
        K1 = rhs(t, u)
        evals, steps, rejected = 1, torch.zeros(batch, dtype=torch.long, device=device), 0
        if at_start < n_out:
            h = torch.full_like(t, self.dt0) if self.dt0 is not None else self._initial_step(rhs, t, u, K1, t_end - t0)
            evals += 0 if self.dt0 is not None else 1
        iterations = 0
        while at_start < n_out and rows.numel():
            iterations += 1
            if iterations > self.max_steps:
                raise RuntimeError(f"max_steps = {self.max_steps} reached at t = {float(t.min()):.6g}")
            last = t + h >= t_end - tiny
            hs = torch.where(last, t_end - t, h)
            hcol = hs[:, None]
            K = [K1]
            for i in range(1, 6):
                K.append(rhs(t + c[i] * hs, torch.addcmul(u, hcol, _combine(list(zip(a[i], K))))))
            u_new = torch.addcmul(u, hcol, _combine(list(zip(b, K))))
            K.append(rhs(t + hs, u_new))
            evals += 6
            scale = self.atol + self.rtol * torch.maximum(u.abs(), u_new.abs())
            err = _rms(hcol * _combine(list(zip(e, K))) / scale)
            err = torch.where(torch.isfinite(err), err.clamp(min=1e-10), 1e10)
            accept = err <= 1.0
            t_new = torch.where(last, t_end, t + hs)
            # frames inside (t, t_new] of the accepted samples, from the continuous extension
            k_end = torch.where(accept, torch.searchsorted(times, t_new + tiny, right=True), k)
            count = k_end - k
            if bool((count > 0).any()):
                self._write_frames(out, times, rows, k, count, t, hs, u, u_new, K)
            if bool(accept.all()):
                u, K1 = u_new, K[6]
            else:  # index copies: much cheaper than torch.where on (batch, n) arrays on CPU
                ok = torch.nonzero(accept).squeeze(1)
                u, K1 = u.clone(), K1.clone()
                u[ok], K1[ok] = u_new[ok], K[6][ok]
            t = torch.where(accept, t_new, t)
            k = k_end
            if self.on_frames is not None:
                self.on_frames(int(k.min()))
            factor_ok = (self.safety * err ** (-alpha) * err_prev**beta).clamp(self.min_factor, self.max_factor)
            factor_bad = (self.safety * err ** (-1.0 / self.order)).clamp(min=self.min_factor)
            h = hs * torch.where(accept, factor_ok, factor_bad)
            err_prev = torch.where(accept, err, err_prev)
            steps[rows] += accept.long()
            rejected += int((~accept).sum())
            if bool((h < 1e-14 * t.abs().clamp(min=1.0)).any()):
                raise FloatingPointError(f"step size underflow at t = {float(t.min()):.6g}")
            running = k < n_out
            if not bool(running.all()):
                keep = torch.nonzero(running).squeeze(1)
                rows, u, K1, t, k, h, err_prev = (x[keep] for x in (rows, u, K1, t, k, h, err_prev))
                rhs = rhs.select(keep)
        self.stats = {"steps_mean": float(steps.double().mean()), "steps_max": int(steps.max()) if batch else 0,
                      "rejected": rejected, "rhs_evals": evals, "batch_steps": iterations}
        return out
