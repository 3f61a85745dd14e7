"""Truncated Taylor jets: forward-mode derivatives of any order in one pass.

A :class:`Jet` carries a value ``f`` (shape ``(n, k)``) and, per input direction ``c``, the
pure partial derivatives ``[f_c, f_cc, ..., f_c^(m)]`` up to the order requested for ``c``
(``None`` stands for an exactly-zero derivative, which keeps the first layer cheap).
Networks push jets through their layers with the rules below, so a PINN residual needing
``u_t, u_x, u_xx, u_xxxx`` costs one forward pass over ``1 + 1 + 4`` stacked tensors plus
one reverse pass for the parameter gradient, instead of nested reverse-mode graphs.

Rules (n <= 4, derivative index in one direction, z the pre-activation):

* linear:   (W f + b)^(n) = W f^(n)
* product:  (a b)^(n) = sum_k C(n, k) a^(k) b^(n-k)                     (Leibniz)
* sigma(z): Faa di Bruno with Bell polynomials,
  d1 = s1 z1,  d2 = s2 z1^2 + s1 z2,  d3 = s3 z1^3 + 3 s2 z1 z2 + s1 z3,
  d4 = s4 z1^4 + 6 s3 z1^2 z2 + s2 (3 z2^2 + 4 z1 z3) + s1 z4,
  where s_k is the k-th derivative of sigma at z (:func:`activation_derivatives`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from math import comb

import torch

Derivs = list["torch.Tensor | None"]
MAX_ORDER = 4


def _add(a: torch.Tensor | None, b: torch.Tensor | None) -> torch.Tensor | None:
    if a is None:
        return b
    return a if b is None else a + b


def _mul(a: torch.Tensor | None, b: torch.Tensor | None) -> torch.Tensor | None:
    return None if a is None or b is None else a * b


@dataclass
class Jet:
    """A value and its pure directional derivatives: ``derivs[c][k-1]`` is d^k f / dc^k."""

    value: torch.Tensor
    derivs: dict[str, Derivs]

    def map_derivs(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> Jet:
        """Apply a linear map (matmul, slicing, scaling) to the value and every derivative."""
        return Jet(fn(self.value), {c: [None if d is None else fn(d) for d in ds] for c, ds in self.derivs.items()})

    def linear(self, weight: torch.Tensor, bias: torch.Tensor | None) -> Jet:
        """``x W^T + b``: the bias enters the value only."""
        out = self.map_derivs(lambda v: v @ weight.T)
        if bias is not None:
            out.value = out.value + bias
        return out

    def __add__(self, other: Jet | float | torch.Tensor) -> Jet:
        if not isinstance(other, Jet):
            return Jet(self.value + other, dict(self.derivs))
        keys = set(self.derivs) | set(other.derivs)
        derivs = {}
        for c in keys:
            a, b = self.derivs.get(c, []), other.derivs.get(c, [])
            n = max(len(a), len(b))
            derivs[c] = [_add(a[k] if k < len(a) else None, b[k] if k < len(b) else None) for k in range(n)]
        return Jet(self.value + other.value, derivs)

    def __neg__(self) -> Jet:
        return self.map_derivs(lambda v: -v)

    def __sub__(self, other: Jet | float | torch.Tensor) -> Jet:
        return self + (-other)

    def __mul__(self, other: Jet | float | torch.Tensor) -> Jet:
        if not isinstance(other, Jet):
            return self.map_derivs(lambda v: v * other)
        derivs = {}
        for c in set(self.derivs) | set(other.derivs):
            a = [self.value, *self.derivs.get(c, [])]
            b = [other.value, *other.derivs.get(c, [])]
            n = max(len(a), len(b)) - 1
            a += [None] * (n + 1 - len(a))
            b += [None] * (n + 1 - len(b))
            out: Derivs = []
            for order in range(1, n + 1):
                term = None
                for k in range(order + 1):
                    piece = _mul(a[k], b[order - k])
                    term = _add(term, None if piece is None else comb(order, k) * piece if 0 < k < order else piece)
                out.append(term)
            derivs[c] = out
        return Jet(self.value * other.value, derivs)

    __rmul__ = __mul__
    __radd__ = __add__

    def apply(self, sigma: Sequence[torch.Tensor]) -> Jet:
        """Compose with an elementwise function given ``sigma = [s0, s1, ..., s_m]`` at the value."""
        derivs = {c: compose_derivatives(sigma, ds) for c, ds in self.derivs.items()}
        return Jet(sigma[0], derivs)

    def narrow(self, start: int, length: int) -> Jet:
        return self.map_derivs(lambda v: v.narrow(-1, start, length))


def cat(jets: Sequence[Jet]) -> Jet:
    """Concatenate jets along the feature axis (zeros fill missing derivatives)."""
    keys = sorted({c for j in jets for c in j.derivs})
    derivs: dict[str, Derivs] = {}
    for c in keys:
        n = max(len(j.derivs.get(c, [])) for j in jets)
        derivs[c] = []
        for k in range(n):
            parts = [j.derivs.get(c, [])[k] if k < len(j.derivs.get(c, [])) else None for j in jets]
            if all(p is None for p in parts):
                derivs[c].append(None)
            else:
                derivs[c].append(torch.cat([torch.zeros_like(j.value) if p is None else p.expand_as(j.value)
                                            for p, j in zip(parts, jets)], dim=-1))
    return Jet(torch.cat([j.value for j in jets], dim=-1), derivs)


def compose_derivatives(sigma: Sequence[torch.Tensor], z: Derivs) -> Derivs:
    """Faa di Bruno for orders 1..len(z) (<= 4); ``sigma[k]`` is the k-th derivative at z0."""
    n = len(z)
    if n > MAX_ORDER:
        raise ValueError(f"jets support derivatives up to order {MAX_ORDER}, asked for {n}")
    z1, z2, z3, z4 = (list(z) + [None] * 4)[:4]
    s = list(sigma) + [None] * (5 - len(sigma))
    out: Derivs = []
    if n >= 1:
        out.append(_mul(s[1], z1))
    if n >= 2:
        out.append(_add(_mul(s[2], _mul(z1, z1)), _mul(s[1], z2)))
    if n >= 3:
        t3 = _mul(s[3], _mul(z1, _mul(z1, z1)))
        m = _mul(z1, z2)
        out.append(_add(_add(t3, None if m is None else 3 * s[2] * m), _mul(s[1], z3)))
    if n >= 4:
        z1sq = _mul(z1, z1)
        t4 = _mul(s[4], _mul(z1sq, z1sq))
        m6 = _mul(z1sq, z2)
        inner = _add(None if z2 is None else 3 * z2 * z2, None if _mul(z1, z3) is None else 4 * z1 * z3)
        out.append(_add(_add(_add(t4, None if m6 is None else 6 * s[3] * m6), _mul(s[2], inner)), _mul(s[1], z4)))
    return out


def activation_derivatives(name: str, z: torch.Tensor, order: int) -> list[torch.Tensor]:
    """``[sigma(z), sigma'(z), ..., sigma^(order)(z)]`` for ``tanh``, ``sin``, ``cos``."""
    if name == "tanh":
        s = torch.tanh(z)
        if order == 0:
            return [s]
        s1 = 1 - s * s
        out = [s, s1]
        if order >= 2:
            out.append(-2 * s * s1)
        if order >= 3:
            out.append(-2 * s1 * (1 - 3 * s * s))
        if order >= 4:
            out.append(8 * s * s1 * (2 - 3 * s * s))
        return out
    if name in ("sin", "cos"):
        sin, cos = torch.sin(z), torch.cos(z)
        cycle = [sin, cos, -sin, -cos] if name == "sin" else [cos, -sin, -cos, sin]
        return [cycle[k % 4] for k in range(order + 1)]
    raise ValueError(f"no jet rule for activation {name!r} (jets support tanh, sin)")


def max_order(jet: Jet) -> int:
    return max((len(ds) for ds in jet.derivs.values()), default=0)


def input_jet(coords: Mapping[str, torch.Tensor], dims: Sequence[str], orders: Mapping[str, int]) -> Jet:
    """The jet of the stacked inputs ``[coords[d] for d in dims]``: unit first derivatives."""
    value = torch.cat([coords[d] for d in dims], dim=-1)
    derivs: dict[str, Derivs] = {}
    for c, m in orders.items():
        if m < 1:
            continue
        unit = torch.zeros(1, len(dims), dtype=value.dtype, device=value.device)
        unit[0, dims.index(c)] = 1.0
        derivs[c] = [unit] + [None] * (m - 1)
    return Jet(value, derivs)
