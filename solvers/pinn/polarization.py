"""Mixed derivatives in 2D from pure directional Taylor jets (polarization).

The jet engine (:mod:`sciml_core.nn.jet`) carries pure derivatives along its directions.  With
the four directions x, y, p = (1, 1) and m = (1, -1), each to order 3, every partial derivative
of order <= 3 of f(x, y) follows from the directional ones D_c^k f:

    f_xy  = (D_p^2 - D_m^2) / 4,
    f_xxy = (D_p^3 - D_m^3 - 2 f_yyy) / 6,    f_xyy = (D_p^3 + D_m^3 - 2 f_xxx) / 6,

since D_p^3 = f_xxx + 3 f_xxy + 3 f_xyy + f_yyy and D_m^3 = f_xxx - 3 f_xxy + 3 f_xyy - f_yyy
(Griewank, Utke & Walther 2000, "Evaluating higher derivative tensors by forward propagation of
univariate Taylor series").  One forward pass of a (13, n, k) jet stack and one reverse pass
then give a stream-function residual its third derivatives, instead of nested reverse mode.

The directions enter as two zero-valued extra coordinates p and m mixed into (x, y) by the
linear map [[1, 0, 1, 1], [0, 1, 1, -1]], so that every layer's jet rule is the engine's own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch

from sciml_core.nn import Jet, input_jet
from sciml_core.nn.jet import JetLayout

DIRECTIONS = {"x": (1.0, 0.0), "y": (0.0, 1.0), "p": (1.0, 1.0), "m": (1.0, -1.0)}
MAX_ORDER = 3


def layout(order: int = MAX_ORDER) -> JetLayout:
    """Every direction carried to ``order``."""
    return JetLayout.of({c: order for c in DIRECTIONS})


def plane_jet(x: torch.Tensor, y: torch.Tensor, order: int = MAX_ORDER) -> Jet:
    """The jet of the inputs (x, y), shape (n, 2), along the four directions."""
    zero = torch.zeros_like(x)
    j = input_jet({"x": x, "y": y, "p": zero, "m": zero}, list(DIRECTIONS), {c: order for c in DIRECTIONS})
    mix = torch.tensor([[1.0, 0.0, 1.0, 1.0], [0.0, 1.0, 1.0, -1.0]], dtype=x.dtype, device=x.device)
    return j.linear(mix, None)


def fixed_jets(fn: Callable[[torch.Tensor, torch.Tensor], Sequence[torch.Tensor]], x: torch.Tensor,
               y: torch.Tensor, order: int = MAX_ORDER) -> list[Jet]:
    """Jets (detached) of the parameter-free functions ``fn(x, y)`` along the four directions, by
    reverse mode on a shift s of the points along each direction (the functions are pointwise)."""
    x, y = x.detach(), y.detach()
    values = [v.detach() for v in fn(x, y)]
    derivs: list[dict[str, list[torch.Tensor]]] = [{} for _ in values]
    with torch.enable_grad():
        for c, (a, b) in DIRECTIONS.items():
            s = torch.zeros_like(x, requires_grad=True)
            current = list(fn(x + a * s, y + b * s))
            for k in range(order):
                grads = [torch.autograd.grad(f.sum(), s, create_graph=k < order - 1, retain_graph=True,
                                             allow_unused=True)[0]
                         if f.requires_grad else None for f in current]
                current = [torch.zeros_like(x) if g is None else g for g in grads]
                for i, g in enumerate(current):
                    derivs[i].setdefault(c, []).append(g.detach())
    lay = layout(order)
    return [Jet.from_parts(v, d, lay) for v, d in zip(values, derivs)]


class PolarizedDerivatives:
    """:class:`sciml_core.pdes.Derivatives` over (x, y) from jets along :data:`DIRECTIONS`:
    ``d["psi_xxy"]`` and the like, up to order 3 in total."""

    def __init__(self, jets: Mapping[str, Jet], coords: Mapping[str, torch.Tensor]) -> None:
        self.jets, self.coords = jets, coords
        self._cache: dict[str, torch.Tensor] = {}

    def __getitem__(self, name: str) -> torch.Tensor:
        field, _, letters = name.partition("_")
        nx, ny = letters.count("x"), letters.count("y")
        if nx + ny != len(letters) or nx + ny > MAX_ORDER:
            raise KeyError(f"{name!r}: polarized jets give derivatives in x and y up to order {MAX_ORDER}")
        key = f"{field}_{nx}{ny}"
        if key not in self._cache:
            self._cache[key] = self._partial(self.jets[field], nx, ny)
        return self._cache[key]

    @staticmethod
    def _partial(j: Jet, nx: int, ny: int) -> torch.Tensor:
        D = j.derivative
        if ny == 0:
            return j.value if nx == 0 else D("x", nx)
        if nx == 0:
            return D("y", ny)
        if nx == ny == 1:
            return (D("p", 2) - D("m", 2)) * 0.25
        if nx == 2:
            return (D("p", 3) - D("m", 3) - 2.0 * D("y", 3)) * (1.0 / 6.0)
        return (D("p", 3) + D("m", 3) - 2.0 * D("x", 3)) * (1.0 / 6.0)
