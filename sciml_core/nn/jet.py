"""Truncated Taylor jets: forward-mode derivatives of any order (<= 4) in one pass.

A :class:`Jet` stacks a value and its pure directional derivatives in *one* tensor
``coeffs`` of shape ``(C, n, k)``: slot 0 is the value, then a block per derivative order.
The :class:`JetLayout` orders the directions by decreasing order, so the directions that
carry order ``m`` are a prefix of those carrying order ``m - 1``; every rule
(:mod:`.jet_rules`) then acts on whole blocks.  A PINN residual needing ``u_t, u_x, u_xx``
(or ``u_xxxx``) costs one forward pass over a ``(4, n, k)`` (or ``(6, n, k)``) stack -- one
matmul per linear layer -- plus one reverse pass for the parameter gradient, instead of
nested reverse-mode graphs.

The rules run as tensor operations (:mod:`.jet_rules`, every device) or as compiled CPU
kernels (:mod:`.jet_kernels`, with numba); the choice is made once, where the input jet is
made (:func:`input_jet`'s ``engine``, decided by :func:`use_compiled`), and every jet
computed from it carries it on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

from typing import Literal

import torch

from ..errors import ConfigError
from . import jet_kernels, jet_rules

MAX_ORDER = 4
#: ``auto``: the compiled kernels where they can run (numba installed, CPU, float32/float64),
#: else the tensor rules; ``compiled``: the kernels or an error; ``tensor``: the tensor rules.
Engine = Literal["auto", "compiled", "tensor"]


def use_compiled(engine: Engine, like: torch.Tensor) -> bool:
    """Whether jets of tensors like ``like`` run the compiled kernels: the one place the engine is chosen."""
    if engine not in ("auto", "compiled", "tensor"):
        raise ConfigError(f"jet engine must be 'auto', 'compiled' or 'tensor', got {engine!r}")
    available = jet_kernels.available(like)
    if engine == "compiled" and not available:
        reason = "numba is not installed (pip install sciml[fast])" if jet_kernels.numba is None else \
            f"they take CPU float32/float64 tensors, not {like.device.type} {like.dtype}"
        raise ConfigError(f"jet engine 'compiled' cannot run here: {reason}; use 'auto' or 'tensor'")
    return available and engine != "tensor"


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
    def counts(self) -> tuple[int, ...]:
        """``counts[m-1]``: how many directions carry order m."""
        return tuple(sum(o >= m for o in self.orders) for m in range(1, max(self.orders, default=0) + 1))

    @property
    def size(self) -> int:
        return 1 + sum(self.counts)

    def order(self, c: str) -> int:
        return self.orders[self.dims.index(c)] if c in self.dims else 0

    def slot(self, c: str, m: int) -> int | None:
        """Slot of d^m/dc^m, or None when the layout does not carry it."""
        if not 1 <= m <= self.order(c):
            return None
        return 1 + sum(self.counts[: m - 1]) + self.dims.index(c)

    def union(self, other: JetLayout) -> JetLayout:
        orders = dict(zip(self.dims, self.orders))
        for c, m in zip(other.dims, other.orders):
            orders[c] = max(orders.get(c, 0), m)
        return JetLayout.of(orders)


class Jet:
    """A value and its pure directional derivatives stacked as ``coeffs`` ``(C, n, k)``;
    ``compiled``: whether the rules run as the compiled kernels (see :func:`input_jet`)."""

    __slots__ = ("coeffs", "layout", "compiled")

    def __init__(self, coeffs: torch.Tensor, layout: JetLayout, compiled: bool = False) -> None:
        if coeffs.shape[0] != layout.size:
            raise ValueError(f"jet coefficients have {coeffs.shape[0]} slots, layout needs {layout.size}")
        self.coeffs, self.layout, self.compiled = coeffs, layout, compiled

    @classmethod
    def from_parts(cls, value: torch.Tensor, derivs: Mapping[str, Sequence[torch.Tensor | None]],
                   layout: JetLayout | None = None, compiled: bool = False) -> Jet:
        """Build a jet from ``derivs[c][m-1] = d^m f / dc^m`` (None: zero)."""
        layout = layout or JetLayout.of({c: len(ds) for c, ds in derivs.items()})
        slots = [value] + [torch.zeros_like(value)] * (layout.size - 1)
        for c, ds in derivs.items():
            for m, d in enumerate(ds, start=1):
                s = layout.slot(c, m)
                if d is not None and s is not None:
                    slots[s] = d.expand_as(value)
        return cls(torch.stack(slots), layout, compiled)

    def _new(self, coeffs: torch.Tensor) -> Jet:
        return Jet(coeffs, self.layout, self.compiled)

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
    def detach(self) -> Jet:
        return self._new(self.coeffs.detach())

    def linear(self, weight: torch.Tensor, bias: torch.Tensor | None) -> Jet:
        """``x W^T + b`` on every slot as one matmul; the bias enters the value only."""
        return self._new(jet_rules.linear(self.coeffs, weight, bias))

    def narrow(self, start: int, length: int) -> Jet:
        return self._new(self.coeffs.narrow(-1, start, length))

    def to_layout(self, layout: JetLayout) -> Jet:
        """The same jet in a wider layout (zeros in the slots this one lacks)."""
        if layout == self.layout:
            return self
        return Jet.from_parts(self.value, self.derivs, layout, self.compiled)

    def _aligned(self, other: Jet) -> tuple[Jet, Jet]:
        if other.layout == self.layout:
            return self, other
        layout = self.layout.union(other.layout)
        return self.to_layout(layout), other.to_layout(layout)

    # ---- arithmetic (plain tensors and numbers are constants: no derivatives) --------------
    def __add__(self, other: Jet | float | torch.Tensor) -> Jet:
        if isinstance(other, Jet):
            a, b = self._aligned(other)
            return a._new(a.coeffs + b.coeffs)
        return self._new(jet_rules.add_to_value(self.coeffs, other))

    def __neg__(self) -> Jet:
        return self._new(-self.coeffs)

    def __sub__(self, other: Jet | float | torch.Tensor) -> Jet:
        if isinstance(other, Jet):
            a, b = self._aligned(other)
            return a._new(a.coeffs - b.coeffs)
        return self + (-other)

    def __mul__(self, other: Jet | float | torch.Tensor) -> Jet:
        if not isinstance(other, Jet):
            return self._new(self.coeffs * other)
        a, b = self._aligned(other)
        rules = jet_kernels if a.compiled and b.compiled else jet_rules
        return a._new(rules.product(a.coeffs, b.coeffs, a.layout.counts))

    __rmul__ = __mul__
    __radd__ = __add__

    def activate(self, name: str) -> Jet:
        """sigma(f) for a named activation (``tanh``, ``sin``, ``cos``)."""
        rules = jet_kernels if self.compiled else jet_rules
        return self._new(rules.activation(self.coeffs, self.layout.counts, name))


def cat(jets: Sequence[Jet]) -> Jet:
    """Concatenate jets along the feature axis (zeros fill missing derivatives)."""
    layout = jets[0].layout
    for j in jets[1:]:
        layout = layout.union(j.layout)
    return Jet(torch.cat([j.to_layout(layout).coeffs for j in jets], dim=-1), layout, jets[0].compiled)


def input_jet(coords: Mapping[str, torch.Tensor], dims: Sequence[str], orders: Mapping[str, int],
              engine: Engine = "auto") -> Jet:
    """The jet of the stacked inputs ``[coords[d] for d in dims]``: unit first derivatives;
    ``engine`` (``auto``, ``compiled`` or ``tensor``) runs the rules on every jet computed from it."""
    value = torch.cat([coords[d] for d in dims], dim=-1)
    layout = JetLayout.of({c: m for c, m in orders.items() if c in dims})
    compiled = use_compiled(engine, value)
    if layout.size == 1:
        return Jet(value[None], layout, compiled)
    units = torch.zeros(layout.size - 1, 1, len(dims), dtype=value.dtype, device=value.device)
    for c in layout.dims:
        units[layout.slot(c, 1) - 1, 0, list(dims).index(c)] = 1.0
    return Jet(torch.cat([value[None], units.expand(-1, value.shape[0], -1)]), layout, compiled)

