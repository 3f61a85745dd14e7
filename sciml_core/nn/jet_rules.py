"""The Taylor-mode rules on stacked jet coefficients ``(C, n, k)`` as tensor operations.

This is the reference implementation: it runs on every device, autograd differentiates it
(any number of times), and the compiled CPU kernels (:mod:`.jet_kernels`) are tested against
it.  Blocks follow :class:`~.jet.JetLayout`: ``blocks[m]`` is the order-m block of shape
``(counts[m-1], n, k)``, and the directions of a higher order are a prefix of it.

* linear:   (W f + b)^(m) = W f^(m)                      (the bias enters the value only)
* product:  (a b)^(m) = sum_j C(m, j) a^(j) b^(m-j)       (Leibniz)
* sigma(z): Faa di Bruno with Bell polynomials,
  d1 = s1 z1,  d2 = s2 z1^2 + s1 z2,  d3 = s3 z1^3 + 3 s2 z1 z2 + s1 z3,
  d4 = s4 z1^4 + 6 s3 z1^2 z2 + s2 (3 z2^2 + 4 z1 z3) + s1 z4,
  where s_j is the j-th derivative of sigma at z (:func:`activation_derivatives`).
"""

from __future__ import annotations

from collections.abc import Sequence
from math import comb
from typing import Any

import torch

Blocks = list[torch.Tensor]


def split_blocks(coeffs: torch.Tensor, counts: Sequence[int]) -> Blocks:
    """``[value, block_1, ..., block_M]`` as views of the stack."""
    return list(coeffs.split([1, *counts]))


def faa_di_bruno(s: Sequence[torch.Tensor], z: Blocks, counts: Sequence[int]) -> Blocks:
    """Derivative blocks d_1..d_M of sigma(z) from sigma's derivatives ``s[k]`` (k >= 1) at the
    value and the argument's blocks ``z[1..M]`` (``z[0]`` is not used)."""
    out = [s[1] * z[1]] if counts else []
    if len(counts) >= 2:
        a = z[1][: counts[1]]
        out.append(torch.addcmul(s[1] * z[2], s[2], a * a))
    if len(counts) >= 3:
        n = counts[2]
        a, b = z[1][:n], z[2][:n]
        out.append(s[3] * (a * a * a) + 3 * s[2] * (a * b) + s[1] * z[3])
    if len(counts) >= 4:
        n = counts[3]
        a, b, c = z[1][:n], z[2][:n], z[3][:n]
        a2 = a * a
        out.append(s[4] * (a2 * a2) + 6 * s[3] * (a2 * b) + s[2] * (3 * (b * b) + 4 * (a * c)) + s[1] * z[4])
    return out


def activation_derivatives(name: str, z: torch.Tensor, order: int) -> list[torch.Tensor]:
    """``[sigma(z), sigma'(z), ..., sigma^(order)(z)]`` for ``tanh`` (order <= 5), ``sin``, ``cos``."""
    if name == "tanh":
        return tanh_derivatives(torch.tanh(z), order)
    if name in ("sin", "cos"):
        sin, cos = torch.sin(z), torch.cos(z)
        cycle = [sin, cos, -sin, -cos] if name == "sin" else [cos, -sin, -cos, sin]
        return [cycle[k % 4] for k in range(order + 1)]
    raise ValueError(f"no jet rule for activation {name!r} (jets support tanh, sin)")


def tanh_derivatives(t: torch.Tensor, order: int) -> list[torch.Tensor]:
    """Derivatives of tanh from its value t: s1 = 1 - t^2, s2 = -2 t s1, s3 = -2 s1 (1 - 3 t^2),
    s4 = 8 t s1 (2 - 3 t^2), s5 = 8 s1 (2 - 15 t^2 + 15 t^4)."""
    if order >= 6:
        raise ValueError("tanh derivatives are implemented up to order 5")
    t2 = t * t
    s1 = 1 - t2
    terms = [lambda: t, lambda: s1, lambda: -2 * t * s1, lambda: -2 * s1 * (1 - 3 * t2),
             lambda: 8 * t * s1 * (2 - 3 * t2), lambda: 8 * s1 * (2 - 15 * t2 + 15 * t2 * t2)]
    return [term() for term in terms[: order + 1]]


def activation(coeffs: torch.Tensor, counts: Sequence[int], name: str) -> torch.Tensor:
    """sigma(Z) on a stack (``tanh``, ``sin`` or ``cos``)."""
    sigma = activation_derivatives(name, coeffs[0], len(counts))
    return torch.cat([sigma[0][None], *faa_di_bruno(sigma, split_blocks(coeffs, counts), counts)])


def product(a: torch.Tensor, b: torch.Tensor, counts: Sequence[int]) -> torch.Tensor:
    """The stack of a product by Leibniz: value a_0 b_0, then sum_j C(m, j) a_j b_{m-j} per order m."""
    if not counts:
        return a * b
    x, y = split_blocks(a, counts), split_blocks(b, counts)
    out = [x[0] * y[0]]
    for m in range(1, len(counts) + 1):
        n = counts[m - 1]
        term = torch.addcmul(x[0] * y[m], x[m], y[0])
        for j in range(1, m):
            term = term + comb(m, j) * (x[j][:n] * y[m - j][:n])
        out.append(term)
    return torch.cat(out)


class _Linear(torch.autograd.Function):
    """Z W^T + b with the bias on the value slot only, over the flattened stack: one matmul each
    way and the bias gradient from the value rows, no full-size copies (autograd of an in-place
    bias add clones the whole gradient).  The backward is made of differentiable operations."""

    @staticmethod
    def forward(ctx: Any, coeffs: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        c, n, k = coeffs.shape
        out = coeffs.reshape(c * n, k) @ weight.T
        out[:n] += bias
        ctx.save_for_backward(coeffs, weight)
        return out.view(c, n, -1)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        coeffs, weight = ctx.saved_tensors
        c, n, k = coeffs.shape
        g = grad.reshape(c * n, -1)
        grad_in = (g @ weight).view(c, n, k) if ctx.needs_input_grad[0] else None
        grad_w = g.T @ coeffs.reshape(c * n, k) if ctx.needs_input_grad[1] else None
        return grad_in, grad_w, g[:n].sum(0) if ctx.needs_input_grad[2] else None


def linear(coeffs: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``Z W^T + b`` on every slot as one matmul, the bias on the value only."""
    if coeffs.shape[0] == 1 or bias is None:
        return torch.nn.functional.linear(coeffs, weight, bias)
    return _Linear.apply(coeffs, weight, bias)


def add_to_value(coeffs: torch.Tensor, addend: torch.Tensor | float) -> torch.Tensor:
    """``coeffs`` with ``addend`` (a constant: no derivatives) added to the value slot."""
    if coeffs.shape[0] == 1:
        return coeffs + addend
    return torch.cat([coeffs[:1] + addend, coeffs[1:]])
