"""Truncated Taylor jets: forward-mode derivatives of any order (<= 4) in one pass.

A :class:`Jet` stacks a value and its pure directional derivatives in *one* tensor
``coeffs`` of shape ``(C, n, k)``: slot 0 is the value, then a block per derivative order.
The :class:`JetLayout` orders the directions by decreasing order, so the directions that
carry order ``m`` are a prefix of those carrying order ``m - 1``; every rule below is then a
handful of broadcast tensor operations on whole blocks, whatever the number of directions.
A PINN residual needing ``u_t, u_x, u_xx`` (or ``u_xxxx``) costs one forward pass over a
``(4, n, k)`` (or ``(6, n, k)``) stack -- one matmul per linear layer -- plus one reverse pass
for the parameter gradient, instead of nested reverse-mode graphs.  Linear maps, activations
and products run as fused autograd nodes with hand-derived backward passes (:mod:`.jet_ops`), and
a whole MLP as a single node (:mod:`.jet_mlp`).

Rules (derivative index in one direction, z the pre-activation, blocks Z_1..Z_4):

* linear:   (W f + b)^(m) = W f^(m)                      (the bias enters the value only)
* product:  (a b)^(m) = sum_j C(m, j) a^(j) b^(m-j)       (Leibniz)
* sigma(z): Faa di Bruno with Bell polynomials,
  d1 = s1 z1,  d2 = s2 z1^2 + s1 z2,  d3 = s3 z1^3 + 3 s2 z1 z2 + s1 z3,
  d4 = s4 z1^4 + 6 s3 z1^2 z2 + s2 (3 z2^2 + 4 z1 z3) + s1 z4,
  where s_j is the j-th derivative of sigma at z (:func:`.jet_ops.activation_derivatives`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import torch

from .jet_kernels import block_starts
from .jet_ops import add_to_value, jet_activation, jet_linear, jet_product

MAX_ORDER = 4


@dataclass(frozen=True)
class JetLayout:
    """Which derivative sits in which slot: ``dims`` sorted by decreasing ``orders``.

    Slot 0 is the value; the order-m block holds d^m/dc^m for the first ``counts[m-1]``
    directions, in ``dims`` order.
    """

    dims: tuple[str, ...] = ()
    orders: tuple[int, ...] = ()

    @classmethod
    def of(cls, orders: Mapping[str, int]) -> JetLayout:
        """The layout carrying ``orders[c]`` pure derivatives in each direction ``c``."""
        for c, m in orders.items():
            if m > MAX_ORDER:
                raise ValueError(f"jets support derivatives up to order {MAX_ORDER}, asked for {m} in {c!r}")
        kept = sorted(((c, m) for c, m in orders.items() if m > 0), key=lambda cm: -cm[1])
        return cls(tuple(c for c, _ in kept), tuple(m for _, m in kept))

    @cached_property
    def max_order(self) -> int:
        return max(self.orders, default=0)

    @cached_property
    def counts(self) -> tuple[int, ...]:
        """``counts[m-1]``: how many directions carry order m."""
        return tuple(sum(o >= m for o in self.orders) for m in range(1, self.max_order + 1))

    @cached_property
    def starts(self) -> tuple[int, ...]:
        """First slot of each order block."""
        return block_starts(self.counts)

    @property
    def size(self) -> int:
        return 1 + sum(self.counts)

    def order(self, c: str) -> int:
        return self.orders[self.dims.index(c)] if c in self.dims else 0

    def slot(self, c: str, m: int) -> int | None:
        """Slot of d^m/dc^m, or None when the layout does not carry it."""
        if not 1 <= m <= self.order(c):
            return None
        return self.starts[m - 1] + self.dims.index(c)

    def union(self, other: JetLayout) -> JetLayout:
        orders = {c: m for c, m in zip(self.dims, self.orders)}
        for c, m in zip(other.dims, other.orders):
            orders[c] = max(orders.get(c, 0), m)
        return JetLayout.of(orders)


class Jet:
    """A value and its pure directional derivatives stacked as ``coeffs`` ``(C, n, k)``."""

    __slots__ = ("coeffs", "layout")

    def __init__(self, coeffs: torch.Tensor, layout: JetLayout) -> None:
        if coeffs.shape[0] != layout.size:
            raise ValueError(f"jet coefficients have {coeffs.shape[0]} slots, layout needs {layout.size}")
        self.coeffs, self.layout = coeffs, layout

    @classmethod
    def from_parts(cls, value: torch.Tensor, derivs: Mapping[str, Sequence[torch.Tensor | None]],
                   layout: JetLayout | None = None) -> Jet:
        """Build a jet from ``derivs[c][m-1] = d^m f / dc^m`` (None: zero)."""
        layout = layout or JetLayout.of({c: len(ds) for c, ds in derivs.items()})
        slots = [value] + [torch.zeros_like(value)] * (layout.size - 1)
        for c, ds in derivs.items():
            for m, d in enumerate(ds, start=1):
                s = layout.slot(c, m)
                if d is not None and s is not None:
                    slots[s] = d.expand_as(value)
        return cls(torch.stack(slots), layout)

    # ---- reading ----------------------------------------------------------------------------
    @property
    def value(self) -> torch.Tensor:
        return self.coeffs[0]

    def derivative(self, c: str, m: int) -> torch.Tensor:
        """d^m f / dc^m (zeros when the layout does not carry it)."""
        s = self.layout.slot(c, m)
        return torch.zeros_like(self.value) if s is None else self.coeffs[s]

    @property
    def derivs(self) -> dict[str, list[torch.Tensor]]:
        """``derivs[c][m-1]`` = d^m f / dc^m for every carried direction."""
        return {c: [self.derivative(c, m) for m in range(1, o + 1)] for c, o in zip(self.layout.dims, self.layout.orders)}

    # ---- linear maps ------------------------------------------------------------------------
    def map(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> Jet:
        """Apply a map acting on the last axis (slicing, scaling, detach) to every slot."""
        return Jet(fn(self.coeffs), self.layout)

    def linear(self, weight: torch.Tensor, bias: torch.Tensor | None) -> Jet:
        """``x W^T + b`` on every slot as one matmul; the bias enters the value only."""
        return Jet(jet_linear(self.coeffs, weight, bias), self.layout)

    def narrow(self, start: int, length: int) -> Jet:
        return Jet(self.coeffs.narrow(-1, start, length), self.layout)

    def to_layout(self, layout: JetLayout) -> Jet:
        """The same jet in a wider layout (zeros in the slots this one lacks)."""
        if layout == self.layout:
            return self
        return Jet.from_parts(self.value, self.derivs, layout)

    def _aligned(self, other: Jet) -> tuple[Jet, Jet]:
        if other.layout == self.layout:
            return self, other
        layout = self.layout.union(other.layout)
        return self.to_layout(layout), other.to_layout(layout)

    # ---- arithmetic (plain tensors and numbers are constants: no derivatives) --------------
    def __add__(self, other: Jet | float | torch.Tensor) -> Jet:
        if isinstance(other, Jet):
            a, b = self._aligned(other)
            return Jet(a.coeffs + b.coeffs, a.layout)
        return Jet(add_to_value(self.coeffs, other), self.layout)

    def __neg__(self) -> Jet:
        return Jet(-self.coeffs, self.layout)

    def __sub__(self, other: Jet | float | torch.Tensor) -> Jet:
        if isinstance(other, Jet):
            a, b = self._aligned(other)
            return Jet(a.coeffs - b.coeffs, a.layout)
        return self + (-other)

    def __mul__(self, other: Jet | float | torch.Tensor) -> Jet:
        if not isinstance(other, Jet):
            return Jet(self.coeffs * other, self.layout)
        a, b = self._aligned(other)
        return Jet(jet_product(a.coeffs, b.coeffs, a.layout.counts), a.layout)

    __rmul__ = __mul__
    __radd__ = __add__

    def activate(self, name: str) -> Jet:
        """sigma(f) for a named activation (``tanh``, ``sin``, ``cos``) as one fused node."""
        return Jet(jet_activation(self.coeffs, self.layout.counts, name), self.layout)


def cat(jets: Sequence[Jet]) -> Jet:
    """Concatenate jets along the feature axis (zeros fill missing derivatives)."""
    layout = jets[0].layout
    for j in jets[1:]:
        layout = layout.union(j.layout)
    return Jet(torch.cat([j.to_layout(layout).coeffs for j in jets], dim=-1), layout)


def input_jet(coords: Mapping[str, torch.Tensor], dims: Sequence[str], orders: Mapping[str, int]) -> Jet:
    """The jet of the stacked inputs ``[coords[d] for d in dims]``: unit first derivatives."""
    value = torch.cat([coords[d] for d in dims], dim=-1)
    layout = JetLayout.of({c: m for c, m in orders.items() if c in dims})
    if layout.size == 1:
        return Jet(value[None], layout)
    units = torch.zeros(layout.size - 1, 1, len(dims), dtype=value.dtype, device=value.device)
    for c in layout.dims:
        units[layout.slot(c, 1) - 1, 0, list(dims).index(c)] = 1.0
    return Jet(torch.cat([value[None], units.expand(-1, value.shape[0], -1)]), layout)
