"""The jet rules of :mod:`.jet_rules` as compiled CPU kernels (numba: the ``fast`` extra).

In eager PyTorch every term of the Faa di Bruno and Leibniz rules is its own pass over the
stack, and on a CPU those passes, not the matmuls, dominate a PINN step.  Here a rule is
written out, for one layout (``counts`` of :class:`~.jet.JetLayout`), as straight-line code
for one element and compiled once (about a second) into a loop that reads and writes each
coefficient once, forward and backward.  The backward kernels are the rules' adjoints:

* Leibniz (ab)_m = sum_j C(m, j) a_j b_{m-j}:  da_j = sum_{m >= j} C(m, j) g_m b_{m-j};
* Faa di Bruno d_m = sum_k s_k B_{m,k}(z_1, ...), dB_{m,k}/dz_j = C(m, j) B_{m-j,k-1}:
  dd_m/dz_j = C(m, j) D'_{m-j}, dd_m/dz_0 = D'_m, with D'_r the same polynomial with every s_k
  replaced by s_{k+1} (D'_0 = s_1).

A backward pass that is itself differentiated (``create_graph``: a mixed derivative taken by
reverse mode on top of a jet) goes through the tensor rules instead, so the nodes are
differentiable any number of times.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from math import comb
from typing import Any

import torch

from . import jet_rules

try:
    import numba
except ImportError:  # the ``fast`` extra is not installed: the tensor rules run instead
    numba = None

#: s_k of each activation in terms of the kernel's inputs (A: tanh(z) or sin(z), B: cos(z)).
_SIGMA = {
    "tanh": ["A", "s1", "s2", "s3", "s4", "s5"],
    "sin": ["A", "B", "(-A)", "(-B)", "A", "B"],
    "cos": ["B", "(-A)", "(-B)", "A", "B", "(-A)"],
}
_TANH_DERIVATIVES = [
    "s1 = 1.0 - A * A",
    "s2 = -2.0 * A * s1",
    "s3 = -2.0 * s1 * (1.0 - 3.0 * A * A)",
    "s4 = 8.0 * A * s1 * (2.0 - 3.0 * A * A)",
    "s5 = 8.0 * s1 * (2.0 - 15.0 * A * A + 15.0 * A * A * A * A)",
]


def available(tensor: torch.Tensor) -> bool:
    """Whether the kernels can take this tensor (numba installed, CPU, float32 or float64)."""
    return numba is not None and tensor.device.type == "cpu" and tensor.dtype in (torch.float32, torch.float64)


def _slots(counts: tuple[int, ...]) -> list[list[int]]:
    """``slots[d][m-1]``: stack row of direction d's order-m derivative."""
    starts = [1 + sum(counts[:m]) for m in range(len(counts))]
    orders = [sum(n > d for n in counts) for d in range(counts[0])] if counts else []
    return [[starts[m] + d for m in range(o)] for d, o in enumerate(orders)]


def _faa_di_bruno(m: int, s: Callable[[int], str], z: Callable[[int], str]) -> str:
    """The order-m Faa di Bruno polynomial (m <= 4) as an expression; order 0 is s(0)."""
    if m == 0:
        return s(0)
    terms = {
        1: [f"{s(1)} * {z(1)}"],
        2: [f"{s(2)} * {z(1)} * {z(1)}", f"{s(1)} * {z(2)}"],
        3: [f"{s(3)} * {z(1)} * {z(1)} * {z(1)}", f"3.0 * {s(2)} * {z(1)} * {z(2)}", f"{s(1)} * {z(3)}"],
        4: [f"{s(4)} * {z(1)} * {z(1)} * {z(1)} * {z(1)}", f"6.0 * {s(3)} * {z(1)} * {z(1)} * {z(2)}",
            f"{s(2)} * (3.0 * {z(2)} * {z(2)} + 4.0 * {z(1)} * {z(3)})", f"{s(1)} * {z(4)}"],
    }[m]
    return " + ".join(terms)


def _compile(name: str, args: str, body: list[str]) -> Callable[..., None]:
    lines = [f"def {name}({args}):", "    for i in range(Z.shape[1]):"] + [f"        {line}" for line in body]
    namespace: dict[str, object] = {}
    exec("\n".join(lines), namespace)  # noqa: S102 - source generated here from integers only
    return numba.njit(fastmath=True, nogil=True)(namespace[name])


@lru_cache(maxsize=None)
def activation_kernels(name: str, counts: tuple[int, ...]) -> tuple[Callable[..., None], Callable[..., None]]:
    """(forward(A_, B_, Z, H), backward(A_, B_, Z, G, D)) of sigma = ``name`` on layout ``counts``:
    ``Z`` the input stack, ``H`` the output, ``G`` its gradient, ``D`` the input's (all
    ``(C, n * k)``), ``A_``, ``B_`` sigma's base functions at the value (tanh or sin, and cos)."""
    order, sig = len(counts), _SIGMA[name]
    fwd = ["A = A_[i]", "B = B_[i]", *(_TANH_DERIVATIVES[:order] if name == "tanh" else []), f"H[0, i] = {sig[0]}"]
    bwd = ["A = A_[i]", "B = B_[i]", *(_TANH_DERIVATIVES[: order + 1] if name == "tanh" else []),
           f"acc = G[0, i] * {sig[1]}"]
    for rows in _slots(counts):
        loads = [f"z{m} = Z[{r}, i]" for m, r in enumerate(rows, start=1)]
        fwd += loads + [f"H[{r}, i] = {_faa_di_bruno(m, lambda k: sig[k], lambda k: f'z{k}')}"
                        for m, r in enumerate(rows, start=1)]
        o = len(rows)
        shifted = [_faa_di_bruno(r, lambda k: sig[k + 1], lambda k: f"z{k}") for r in range(o + 1)]  # D'_r
        bwd += loads + [f"g{m} = G[{r}, i]" for m, r in enumerate(rows, start=1)]
        bwd += [f"acc += g{m} * ({shifted[m]})" for m in range(1, o + 1)]
        bwd += [f"D[{row}, i] = " + " + ".join(f"{float(comb(m, j))} * g{m} * ({shifted[m - j]})" for m in range(j, o + 1))
                for j, row in enumerate(rows, start=1)]
    return _compile("forward", "A_, B_, Z, H", fwd), _compile("backward", "A_, B_, Z, G, D", [*bwd, "D[0, i] = acc"])


@lru_cache(maxsize=None)
def product_kernels(counts: tuple[int, ...]) -> tuple[Callable[..., None], Callable[..., None]]:
    """(forward(Z, Y, P), backward(Z, Y, G, DZ, DY)) of the Leibniz rule on layout ``counts``."""
    fwd = ["x0 = Z[0, i]", "y0 = Y[0, i]", "P[0, i] = x0 * y0"]
    bwd = ["x0 = Z[0, i]", "y0 = Y[0, i]", "ax = G[0, i] * y0", "ay = G[0, i] * x0"]
    for rows in _slots(counts):
        o = len(rows)
        loads = [f"x{m} = Z[{r}, i]" for m, r in enumerate(rows, start=1)]
        loads += [f"y{m} = Y[{r}, i]" for m, r in enumerate(rows, start=1)]
        fwd += loads + [f"P[{r}, i] = " + " + ".join(f"{float(comb(m, j))} * x{j} * y{m - j}" for j in range(m + 1))
                        for m, r in enumerate(rows, start=1)]
        bwd += loads + [f"g{m} = G[{r}, i]" for m, r in enumerate(rows, start=1)]
        bwd += [f"ax += g{m} * y{m}" for m in range(1, o + 1)] + [f"ay += g{m} * x{m}" for m in range(1, o + 1)]
        for j, row in enumerate(rows, start=1):
            bwd.append(f"DZ[{row}, i] = " + " + ".join(f"{float(comb(m, j))} * g{m} * y{m - j}" for m in range(j, o + 1)))
            bwd.append(f"DY[{row}, i] = " + " + ".join(f"{float(comb(m, j))} * g{m} * x{m - j}" for m in range(j, o + 1)))
    return _compile("forward", "Z, Y, P", fwd), _compile("backward", "Z, Y, G, DZ, DY", [*bwd, "DZ[0, i] = ax",
                                                                                       "DY[0, i] = ay"])


def _flat(t: torch.Tensor) -> Any:
    """A numpy view of the stack as contiguous ``(C, n * k)`` (the kernels write in place)."""
    return t.detach().contiguous().view(t.shape[0], -1).numpy()


def _kernels(rule: str, counts: tuple[int, ...]) -> tuple[Callable[..., None], Callable[..., None]]:
    return product_kernels(counts) if rule == "product" else activation_kernels(rule, counts)


def _tensor_rule(rule: str, counts: tuple[int, ...], *inputs: torch.Tensor) -> torch.Tensor:
    return jet_rules.product(*inputs, counts) if rule == "product" else jet_rules.activation(*inputs, counts, rule)


class _Rule(torch.autograd.Function):
    """One jet rule (``product`` or an activation's name) as a node of compiled kernels."""

    @staticmethod
    def forward(ctx: Any, rule: str, counts: tuple[int, ...], *inputs: torch.Tensor) -> torch.Tensor:
        bases: tuple[torch.Tensor, ...] = ()
        if rule != "product":  # sigma's base functions at the value: tanh (twice), or sin and cos
            z0 = inputs[0][0].detach().reshape(-1)
            bases = (torch.tanh(z0),) * 2 if rule == "tanh" else (torch.sin(z0), torch.cos(z0))
        out = torch.empty_like(inputs[0], memory_format=torch.contiguous_format)
        _kernels(rule, counts)[0](*(b.numpy() for b in bases), *map(_flat, inputs), _flat(out))
        ctx.rule, ctx.counts, ctx.n_inputs = rule, counts, len(inputs)
        ctx.save_for_backward(*inputs, *bases)
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        saved = ctx.saved_tensors
        inputs, bases = saved[: ctx.n_inputs], saved[ctx.n_inputs:]
        if torch.is_grad_enabled():  # this gradient will be differentiated: through the tensor rules
            with torch.enable_grad():
                grads = torch.autograd.grad(_tensor_rule(ctx.rule, ctx.counts, *inputs), inputs, grad, create_graph=True)
        else:
            grads = tuple(torch.empty_like(x, memory_format=torch.contiguous_format) for x in inputs)
            _kernels(ctx.rule, ctx.counts)[1](*(b.numpy() for b in bases), *map(_flat, inputs), _flat(grad),
                                             *map(_flat, grads))
        return None, None, *grads


def activation(coeffs: torch.Tensor, counts: tuple[int, ...], name: str) -> torch.Tensor:
    """sigma on a stack ``(C, n, k)`` as one node of compiled kernels (``tanh``, ``sin``, ``cos``)."""
    return _Rule.apply(name, counts, coeffs) if counts else jet_rules.activation(coeffs, counts, name)


def product(x: torch.Tensor, y: torch.Tensor, counts: tuple[int, ...]) -> torch.Tensor:
    """The stack of a product (equal shapes) as one node of compiled kernels."""
    return _Rule.apply("product", counts, x, y) if counts and x.shape == y.shape else jet_rules.product(x, y, counts)
