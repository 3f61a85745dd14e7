"""Derivative engines for PINN residuals, both implementing :class:`sciml_core.pdes.Derivatives`.

* :class:`AutogradDerivatives` -- reverse mode, on demand: ``d["u_xx"]`` differentiates
  ``d["u_x"]`` again (one backward pass per order, nested graphs for the parameter gradient).
* :class:`JetDerivatives` -- forward mode through Taylor jets (:mod:`.jet`): the network
  pushes every pure derivative the residual needs through one forward pass (orders found by
  :func:`required_orders`); mixed derivatives such as ``u_tx`` fall back to reverse mode on
  top of the jet.  On the PINN problems here it is several times faster per training step
  (see ``docs/pinn.md`` and ``tests/test_nn_derivatives.py`` for the agreement check).

Mixed derivatives commute, so the letters are sorted into one cache key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch


def _key(name: str) -> tuple[str, str]:
    field, _, letters = name.partition("_")
    return field, "".join(sorted(letters))


class AutogradDerivatives:
    """Fields and their partial derivatives by name, reverse mode (see module docstring)."""

    def __init__(self, fields_fn: Callable[[Mapping[str, torch.Tensor]], Mapping[str, torch.Tensor]],
                 coords: Mapping[str, torch.Tensor]) -> None:
        self.coords = {k: v if v.requires_grad else v.detach().requires_grad_(True) for k, v in coords.items()}
        self._cache: dict[str, torch.Tensor] = dict(fields_fn(self.coords))

    def __getitem__(self, name: str) -> torch.Tensor:
        field, letters = _key(name)
        key = f"{field}_{letters}" if letters else field
        if key in self._cache:
            return self._cache[key]
        if field not in self._cache:
            raise KeyError(f"unknown field {field!r} (fields: {', '.join(k for k in self._cache if '_' not in k)})")
        for letter in letters:
            if letter not in self.coords:
                raise KeyError(f"cannot differentiate {name!r}: no coordinate {letter!r} (have {', '.join(self.coords)})")
        parent = self[f"{field}_{letters[:-1]}" if len(letters) > 1 else field]
        (grad,) = torch.autograd.grad(parent, self.coords[letters[-1]], torch.ones_like(parent), create_graph=True)
        self._cache[key] = grad
        return grad


class JetDerivatives(AutogradDerivatives):
    """Forward-mode engine: ``jet_fn(coords, orders)`` returns ``{field: Jet}``.

    ``orders[c]`` is the highest pure derivative in coordinate ``c`` to propagate; asking for
    a higher pure or a mixed derivative differentiates the jet's outputs in reverse mode.
    """

    def __init__(self, jet_fn: Callable[[Mapping[str, torch.Tensor], Mapping[str, int]], Mapping[str, Any]],
                 coords: Mapping[str, torch.Tensor], orders: Mapping[str, int]) -> None:
        self.coords = dict(coords)
        self._jets = jet_fn(self.coords, orders)
        self._cache = {f: j.value for f, j in self._jets.items()}
        for f, j in self._jets.items():
            for c, ds in j.derivs.items():
                for k, d in enumerate(ds, start=1):
                    self._cache[f"{f}_{c * k}"] = d

    def __getitem__(self, name: str) -> torch.Tensor:
        field, letters = _key(name)
        key = f"{field}_{letters}" if letters else field
        if key not in self._cache and any(not self.coords[c].requires_grad for c in set(letters) if c in self.coords):
            raise KeyError(f"{name!r} was not propagated by the jet; list it in the orders (or use autograd)")
        return super().__getitem__(name)


class _Recorder:
    """Stands in for a Derivatives object and remembers which names a residual asks for."""

    def __init__(self, coords: Mapping[str, torch.Tensor]) -> None:
        self.coords = coords
        self.names: set[str] = set()

    def __getitem__(self, name: str) -> torch.Tensor:
        self.names.add(name)
        return torch.zeros(1)


def required_orders(residual: Callable[[Any], Any], dims: tuple[str, ...]) -> dict[str, int]:
    """Highest pure derivative per coordinate that ``residual`` uses (mixed ones count per letter)."""
    recorder = _Recorder({d: torch.zeros(1) for d in dims})
    residual(recorder)
    orders = {d: 0 for d in dims}
    for name in recorder.names:
        _, letters = _key(name)
        for c in set(letters):
            if c in orders:
                orders[c] = max(orders[c], letters.count(c))
    return orders
