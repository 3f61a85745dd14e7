"""Time marching: one field network per time window [t_k, t_{k+1}], chained through their
initial conditions (Wight & Zhao 2020; Wang, Sankaran, Perdikaris 2022, section 4).

Window k's network has the hard initial condition u_k(t_k, x) = u_{k-1}(t_k, x): its ``g``
is the previous window's end state, evaluated (with its spatial derivatives, as a jet)
without gradient, so the trained windows stay frozen.  Evaluation routes each point to the
window containing its time.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from sciml_core.nn import Jet
from sciml_core.nn.jet import Engine
from sciml_core.pdes.base import PDE

from .network import ConstraintsConfig, FieldNetwork, InitialFn, ModelConfig


def end_state(previous: FieldNetwork) -> InitialFn:
    """The previous window's fields at its end time, as detached jets (cached per coordinate tensor)."""
    cache: dict[str, object] = {}

    def initial(coords: Mapping[str, torch.Tensor], orders: Mapping[str, int]) -> dict[str, Jet]:
        first = next(iter(coords.values()))
        key = tuple(sorted(orders.items()))
        if cache.get("coords") is first and cache.get("key") == key:
            return cache["jets"]  # type: ignore[return-value]
        t = torch.full_like(first, previous.t_range[1])
        with torch.no_grad():
            jets = previous.jet({"t": t, **coords}, orders)
        jets = {f: j.detach() for f, j in jets.items()}
        cache.update(coords=first, key=key, jets=jets)
        return jets

    return initial


class MarchingNetwork(nn.Module):
    """``windows`` equal time windows, each a :class:`FieldNetwork` with a hard initial condition."""

    def __init__(self, pde: PDE, model: ModelConfig, constraints: ConstraintsConfig, windows: int,
                 jet_engine: Engine = "auto") -> None:
        super().__init__()
        t0, t1 = pde.domain().t
        edges = [t0 + (t1 - t0) * k / windows for k in range(windows + 1)]
        self.edges = edges
        self.nets = nn.ModuleList(FieldNetwork(pde, model, constraints, (a, b), jet_engine) for a, b in zip(edges[:-1], edges[1:]))
        for prev, net in zip(self.nets[:-1], self.nets[1:]):
            net.initial_fn = end_state(prev)
            net.load_state_dict(self.nets[0].state_dict())  # one set of initial weights (warm_start replaces it)
        self.fields = pde.fields
        self.dims = self.nets[0].dims

    def warm_start(self, k: int) -> None:
        """Initialise window ``k``'s parameters from window ``k - 1``'s (the time maps differ)."""
        with torch.no_grad():
            for new, old in zip(self.nets[k].parameters(), self.nets[k - 1].parameters()):
                new.copy_(old)

    def forward(self, coords: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        t = coords["t"]
        index = torch.bucketize(t, torch.tensor(self.edges[1:-1], dtype=t.dtype, device=t.device), right=True)
        out = {f: torch.zeros_like(t) for f in self.fields}
        for k, net in enumerate(self.nets):
            mask = (index == k).reshape(-1)
            if mask.any():
                pred = net({d: v[mask] for d, v in coords.items()})
                for f in self.fields:
                    out[f][mask] = pred[f]
        return out
