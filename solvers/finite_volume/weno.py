"""Finite-volume building blocks on a periodic 1-D grid, batched in torch (any device).

States are cell averages ``u`` of shape ``(batch, n)``; cell ``i`` is centred at ``x_i``.

* :func:`weno5_states` -- fifth-order WENO reconstruction (Jiang & Shu, J. Comput. Phys. 126,
  1996) of the states ``u^-_{i+1/2}`` (from the left, stencil i-2..i+2) and ``u^+_{i+1/2}``
  (from the right, stencil i-1..i+3) at every interface.  The three candidate parabolas of
  cell i take the weights ``w_k = a_k / sum a``, ``a_k = d_k / (eps + b_k)^2`` with linear
  weights ``d = (1, 6, 3) / 10`` and smoothness indicators
  ``b_0 = 13/12 (u_{i-2} - 2u_{i-1} + u_i)^2 + 1/4 (u_{i-2} - 4u_{i-1} + 3u_i)^2`` (and the
  shifted ``b_1``, ``b_2``).  The right state of interface i-1/2 is the mirror image of the
  left one of i+1/2, so one set of indicators per cell serves both (with ``d`` reversed).
  Everything is written in the first differences ``g_i = u_i - u_{i-1}`` and second
  differences ``c_i = g_{i+1} - g_i``, e.g. ``u^-_{i+1/2} = u_i + (w_0 (5 g_i - 2 g_{i-1})
  + w_1 (g_i + 2 g_{i+1}) + w_2 (4 g_{i+1} - g_{i+2})) / 6``.
* :func:`godunov_flux` -- the exact Riemann flux of ``f(u) = c u + alpha u^2 / 2``;
  :func:`rusanov_flux` -- local Lax-Friedrichs.
* :func:`second_derivative`, :func:`third_derivative` -- fourth-order central differences.
"""

from __future__ import annotations

import torch
from torch import Tensor

GHOST = 3  # ghost cells per side the WENO interfaces -1/2 .. n-1/2 need


def periodic_pad(u: Tensor, width: int = GHOST) -> Tensor:
    """``(..., n)`` -> ``(..., n + 2 width)`` with periodic ghost cells."""
    return torch.cat([u[..., -width:], u, u[..., :width]], dim=-1)


def weno5_states(u: Tensor, eps: float = 1e-6) -> tuple[Tensor, Tensor]:
    """Left and right states at the ``n + 1`` interfaces ``-1/2, 1/2, ..., n - 1/2``.

    Returns ``(u_minus, u_plus)``, each ``(batch, n + 1)``: ``u_minus[k]`` is reconstructed in
    cell ``k - 1`` and ``u_plus[k]`` in cell ``k`` (both at interface ``k - 1/2``).
    """
    n = u.shape[-1]
    p = periodic_pad(u)  # p[j + 3] = u_j, j = -3 .. n + 2
    g = p[..., 1:] - p[..., :-1]  # g[j + 2] = u_j - u_{j-1}, j = -2 .. n + 2
    c = g[..., 1:] - g[..., :-1]  # c[j + 2] = u_{j-1} - 2 u_j + u_{j+1}, j = -2 .. n + 1
    # cells j = -1 .. n: views offset so that index m <-> cell j = m - 1
    uj = p[..., 2 : n + 4]
    gm1, g0, g1, g2 = (g[..., s : s + n + 2] for s in (0, 1, 2, 3))  # g_{j-1}, g_j, g_{j+1}, g_{j+2}
    cm1, c0, c1 = (c[..., s : s + n + 2] for s in (0, 1, 2))  # c_{j-1}, c_j, c_{j+1}
    b0 = (cm1 + 2 * g0).square_().add_(cm1.square(), alpha=13 / 3)  # 4 b_k: the 1/4 cancels in the weights
    b1 = (g0 + g1).square_().add_(c0.square(), alpha=13 / 3)
    b2 = torch.add(c1, g1, alpha=-2).square_().add_(c1.square(), alpha=13 / 3)
    a0, a1, a2 = (b.add_(4 * eps).pow_(-2) for b in (b0, b1, b2))
    # candidate increments over u_j (times 6) and the weights times 10: left value at j + 1/2 ...
    left = (a0 * torch.add(5 * g0, gm1, alpha=-2)).add_(a1 * torch.add(g0, g1, alpha=2), alpha=6) \
        .add_(a2 * torch.add(4 * g1, g2, alpha=-1), alpha=3).div_(torch.add(a0, a1, alpha=6).add_(a2, alpha=3))
    # ... and right value at j - 1/2 (mirrored stencils: linear weights reversed)
    right = (a0 * torch.add(gm1, g0, alpha=-4)).mul_(3).sub_(a1 * torch.add(g1, g0, alpha=2), alpha=6) \
        .add_(a2 * torch.add(2 * g2, g1, alpha=-5)).div_(torch.add(a2, a1, alpha=6).add_(a0, alpha=3))
    u_minus = uj[..., :-1] + left[..., :-1] / 6  # cells -1 .. n-1 -> interfaces -1/2 .. n-1/2
    u_plus = uj[..., 1:] + right[..., 1:] / 6  # cells 0 .. n -> interfaces -1/2 .. n-1/2
    return u_minus, u_plus


def _flux(u: Tensor, speed: Tensor, alpha: Tensor) -> Tensor:
    return u * (speed + 0.5 * alpha * u)


def flux_signs(alpha: Tensor) -> tuple[bool, bool, bool]:
    """Whether any sample has ``alpha > 0``, ``< 0``, ``== 0`` (decides the Godunov branches once)."""
    return bool((alpha > 0).any()), bool((alpha < 0).any()), bool((alpha == 0).any())


def godunov_flux(u_minus: Tensor, u_plus: Tensor, speed: Tensor, alpha: Tensor,
                 signs: tuple[bool, bool, bool] | None = None) -> Tensor:
    """Godunov flux of ``f(u) = c u + alpha u^2 / 2`` (``speed``, ``alpha``: ``(batch, 1)``).

    With ``u* = -c / alpha`` the extremum of f: ``max(f(max(u^-, u*)), f(min(u^+, u*)))`` for
    ``alpha > 0`` (convex: the minimum of f over ``[u^-, u^+]`` when ``u^- <= u^+``, its maximum
    over ``[u^+, u^-]`` otherwise), ``min(f(min(u^-, u*)), f(max(u^+, u*)))`` for ``alpha < 0``
    and upwinding ``c^+ u^- + c^- u^+`` for ``alpha = 0``.  ``signs`` (:func:`flux_signs`)
    names the branches present, so a caller can decide them once instead of per call.
    """
    positive, negative, zero = signs if signs is not None else flux_signs(alpha)
    out = None
    if positive or negative:
        star = -speed / torch.where(alpha == 0, torch.ones_like(alpha), alpha)
    if positive:
        out = torch.maximum(_flux(torch.maximum(u_minus, star), speed, alpha),
                            _flux(torch.minimum(u_plus, star), speed, alpha))
    if negative:
        concave = torch.minimum(_flux(torch.minimum(u_minus, star), speed, alpha),
                                _flux(torch.maximum(u_plus, star), speed, alpha))
        out = concave if out is None else torch.where(alpha < 0, concave, out)
    if zero:
        upwind = speed.clamp(min=0) * u_minus + speed.clamp(max=0) * u_plus
        out = upwind if out is None else torch.where(alpha == 0, upwind, out)
    assert out is not None
    return out


def rusanov_flux(u_minus: Tensor, u_plus: Tensor, speed: Tensor, alpha: Tensor,
                 signs: tuple[bool, bool, bool] | None = None) -> Tensor:
    """Local Lax-Friedrichs: ``(f(u^-) + f(u^+)) / 2 - a / 2 (u^+ - u^-)``, ``a = max |f'|`` over both states."""
    a = torch.maximum((speed + alpha * u_minus).abs(), (speed + alpha * u_plus).abs())
    return 0.5 * (_flux(u_minus, speed, alpha) + _flux(u_plus, speed, alpha) - a * (u_plus - u_minus))


FLUXES = {"godunov": godunov_flux, "lax-friedrichs": rusanov_flux}


def second_derivative(u: Tensor, dx: float) -> Tensor:
    """``u_xx`` to fourth order: ``(-u_{i-2} + 16 u_{i-1} - 30 u_i + 16 u_{i+1} - u_{i+2}) / (12 dx^2)``."""
    n = u.shape[-1]
    p = periodic_pad(u, 2)
    s = [p[..., k : k + n] for k in range(5)]
    return (16 * (s[1] + s[3]) - (s[0] + s[4]) - 30 * s[2]) / (12 * dx * dx)


def third_derivative(u: Tensor, dx: float) -> Tensor:
    """``u_xxx`` to fourth order:
    ``(u_{i-3} - 8 u_{i-2} + 13 u_{i-1} - 13 u_{i+1} + 8 u_{i+2} - u_{i+3}) / (8 dx^3)``."""
    n = u.shape[-1]
    p = periodic_pad(u, 3)
    s = [p[..., k : k + n] for k in range(7)]
    return ((s[0] - s[6]) - 8 * (s[1] - s[5]) + 13 * (s[2] - s[4])) / (8 * dx**3)
