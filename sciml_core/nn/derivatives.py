"""Derivative engine for PINN residuals (reverse mode, cached).

``d = AutogradDerivatives(fields_fn, coords)`` evaluates the network once; ``d["u_xx"]``
differentiates on demand, reusing ``d["u_x"]``.  Mixed derivatives commute, so the letters
are sorted into one cache key (``u_tx`` and ``u_xt`` are the same entry).
"""

from __future__ import annotations

from typing import Callable, Mapping

import torch


class AutogradDerivatives:
    """Fields and their partial derivatives by name (see :class:`sciml_core.pdes.Derivatives`)."""

    def __init__(self, fields_fn: Callable[[Mapping[str, torch.Tensor]], Mapping[str, torch.Tensor]],
                 coords: Mapping[str, torch.Tensor]) -> None:
        self.coords = {k: v if v.requires_grad else v.detach().requires_grad_(True) for k, v in coords.items()}
        self._cache: dict[str, torch.Tensor] = dict(fields_fn(self.coords))

    def __getitem__(self, name: str) -> torch.Tensor:
        field, _, letters = name.partition("_")
        key = f"{field}_{''.join(sorted(letters))}" if letters else field
        if key in self._cache:
            return self._cache[key]
        if field not in self._cache:
            raise KeyError(f"unknown field {field!r} (fields: {', '.join(k for k in self._cache if '_' not in k)})")
        for letter in letters:
            if letter not in self.coords:
                raise KeyError(f"cannot differentiate {name!r}: no coordinate {letter!r} (have {', '.join(self.coords)})")
        ordered = "".join(sorted(letters))
        parent = self[f"{field}_{ordered[:-1]}" if len(ordered) > 1 else field]
        (grad,) = torch.autograd.grad(parent, self.coords[ordered[-1]], torch.ones_like(parent), create_graph=True)
        self._cache[key] = grad
        return grad
