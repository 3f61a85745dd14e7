"""Fused autograd operations on stacked jet coefficients (see :mod:`.jet`).

Reverse mode through the jet rules op by op records dozens of small nodes per layer, and
every slice of the coefficient stack costs a zero-filled full-size gradient on the way back.
These :class:`torch.autograd.Function` s do one layer's jet arithmetic in a single node
each, with hand-derived backward passes:

* :func:`jet_activation` -- sigma(z) on a jet by Faa di Bruno.  With the Bell-polynomial form
  d_m = sum_k s_k B_{m,k}(z_1, ..., z_{m-k+1}) and dB_{m,k}/dz_j = C(m, j) B_{m-j,k-1},

      dd_m/dz_j = C(m, j) D'_{m-j},      dd_m/dz_0 = D'_m,

  where D'_r is the same Faa di Bruno polynomial with every s_k replaced by s_{k+1}
  (D'_0 = s_1).  So the backward pass is one more Faa di Bruno evaluation plus weighted sums.
* :func:`jet_product` -- Leibniz (ab)_m = sum_j C(m, j) a_j b_{m-j}; its adjoint is
  da_j = sum_{m >= j} C(m, j) g_m b_{m-j} (and symmetrically for b).
* :func:`jet_linear` -- Z W^T + b as one matmul over every slot, the bias on the value only
  (and :func:`add_to_value` for a constant).

Blocks follow :class:`~sciml_core.nn.jet.JetLayout`: ``blocks[m]`` is the order-m block of
shape ``(counts[m-1], n, k)`` and the directions of a higher order are a prefix of it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from math import comb
from typing import Any

import torch

from . import jet_kernels

Blocks = list[torch.Tensor]

_PLAIN_AUTOGRAD = False


@contextmanager
def twice_differentiable() -> Iterator[None]:
    """Within this block the jet rules run as plain tensor operations recorded by autograd, so
    their results can be differentiated again (the fused nodes are once-differentiable).  The
    derivative engine enters it when reverse mode must differentiate a jet (mixed derivatives)."""
    global _PLAIN_AUTOGRAD
    previous, _PLAIN_AUTOGRAD = _PLAIN_AUTOGRAD, True
    try:
        yield
    finally:
        _PLAIN_AUTOGRAD = previous


def plain_autograd() -> bool:
    """Whether the jet rules must run as plain tensor operations (see :func:`twice_differentiable`)."""
    return _PLAIN_AUTOGRAD


def split_blocks(coeffs: torch.Tensor, counts: Sequence[int]) -> Blocks:
    """``[value, block_1, ..., block_M]`` as views of the stack."""
    return list(coeffs.split([1, *counts]))


def faa_di_bruno(sigma: Sequence[torch.Tensor], blocks: Blocks, counts: Sequence[int]) -> Blocks:
    """Derivative blocks d_1..d_M of sigma(z) from sigma's derivatives ``sigma[k]`` (k >= 1) at
    the value and the argument's blocks ``blocks[1..M]`` (``blocks[0]`` is not used)."""
    if not counts:
        return []
    s, z = sigma, blocks
    out = [s[1] * z[1]]
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
    out = [t]
    if order >= 1:
        s1 = 1 - t * t
        out.append(s1)
    if order >= 2:
        out.append(-2 * t * s1)
    if order >= 3:
        t2 = t * t
        out.append(-2 * s1 * (1 - 3 * t2))
    if order >= 4:
        out.append(8 * t * s1 * (2 - 3 * t2))
    if order >= 5:
        out.append(8 * s1 * (2 - 15 * t2 + 15 * t2 * t2))
    if order >= 6:
        raise ValueError("tanh derivatives are implemented up to order 5")
    return out


def activation_forward(coeffs: torch.Tensor, name: str, counts: tuple[int, ...]
                       ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """sigma on a (detached) stack: the output and what :func:`activation_backward` needs.

    On CPU the compiled kernels of :mod:`.jet_kernels` run it (saving the flat stack and
    sigma's base functions); elsewhere, and for a bare value, the tensor rules (saving the stack
    and tanh(value), or the value for the other activations)."""
    if not counts or not jet_kernels.available(coeffs):
        out, value = _activation_tensor(coeffs, name, counts)
        return out, (coeffs, value if name == "tanh" else coeffs[0])  # tanh's derivatives come from its value
    z, z0 = jet_kernels.flat(coeffs), coeffs[0].detach().reshape(-1)
    a = torch.tanh(z0) if name == "tanh" else torch.sin(z0)
    b = a if name == "tanh" else torch.cos(z0)
    out = torch.empty_like(z)
    jet_kernels.run(jet_kernels.activation_kernels(name, counts)[0], a, b, z, out)
    return out.view(coeffs.shape), (z, a, b)


def activation_backward(saved: tuple[torch.Tensor, ...], grad: torch.Tensor, name: str,
                        counts: tuple[int, ...]) -> torch.Tensor:
    """The gradient with respect to the stack of sigma's input, from :func:`activation_forward`'s
    ``saved`` and the output gradient ``grad``."""
    if len(saved) == 3:  # the kernel path
        z, a, b = saved
        grad_in = torch.empty_like(z)
        jet_kernels.run(jet_kernels.activation_kernels(name, counts)[1], a, b, z, jet_kernels.flat(grad), grad_in)
        return grad_in.view(grad.shape)
    coeffs, base = saved
    order = len(counts) + 1
    sigma = tanh_derivatives(base, order) if name == "tanh" else activation_derivatives(name, base, order)
    shifted = sigma[1:]  # s_{k+1}: D'_r is Faa di Bruno with these; D'_0 = s_1
    d_shift = [shifted[0][None], *faa_di_bruno(shifted, split_blocks(coeffs, counts), counts)]
    return _binomial_adjoint(split_blocks(grad, counts), d_shift, counts, coeffs.shape)


class _Activation(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, coeffs: torch.Tensor, name: str, counts: tuple[int, ...]) -> torch.Tensor:
        ctx.name, ctx.counts = name, counts
        out, saved = activation_forward(coeffs, name, counts)
        ctx.save_for_backward(*saved)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        return activation_backward(ctx.saved_tensors, grad, ctx.name, ctx.counts), None, None


def _activation_tensor(coeffs: torch.Tensor, name: str, counts: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """The forward rule as tensor operations (the path without kernels, and plain autograd),
    and sigma at the value."""
    sigma = activation_derivatives(name, coeffs[0], len(counts))
    return torch.cat([sigma[0][None], *faa_di_bruno(sigma, split_blocks(coeffs, counts), counts)]), sigma[0]


def jet_activation(coeffs: torch.Tensor, counts: tuple[int, ...], name: str) -> torch.Tensor:
    """sigma(Z) on stacked coefficients ``(C, n, k)`` (``tanh``, ``sin`` or ``cos``)."""
    if _PLAIN_AUTOGRAD or not counts:
        return _activation_tensor(coeffs, name, counts)[0]
    return _Activation.apply(coeffs, name, counts)


def leibniz(a: Blocks, b: Blocks, counts: Sequence[int]) -> Blocks:
    """Blocks of the product: value a_0 b_0, then sum_j C(m, j) a_j b_{m-j} per order m."""
    out = [a[0] * b[0]]
    for m in range(1, len(counts) + 1):
        n = counts[m - 1]
        term = torch.addcmul(a[0] * b[m], a[m], b[0])
        for j in range(1, m):
            term = term + comb(m, j) * (a[j][:n] * b[m - j][:n])
        out.append(term)
    return out


def _product_tensor(a: torch.Tensor, b: torch.Tensor, counts: tuple[int, ...]) -> torch.Tensor:
    return torch.cat(leibniz(split_blocks(a, counts), split_blocks(b, counts), counts))


def _binomial_adjoint(g: Blocks, other: Blocks, counts: Sequence[int], shape: torch.Size) -> torch.Tensor:
    """da_j = sum_{m >= j} C(m, j) g_m other_{m-j}, the value slot summed over directions: the
    adjoint of Leibniz (``other`` = the other factor) and of Faa di Bruno (``other`` = D'_r)."""
    order = len(counts)
    grad = torch.empty(shape, dtype=g[0].dtype, device=g[0].device)
    parts = split_blocks(grad, counts)
    d0 = g[0] * other[0]
    for m in range(1, order + 1):
        d0 = d0 + (g[m] * other[m]).sum(0, keepdim=True)
    parts[0].copy_(d0)
    for j in range(1, order + 1):
        acc = g[j] * other[0]
        for m in range(j + 1, order + 1):
            n = counts[m - 1]
            acc[:n] += comb(m, j) * (g[m] * other[m - j][:n])
        parts[j].copy_(acc)
    return grad


class _Product(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, a: torch.Tensor, b: torch.Tensor, counts: tuple[int, ...]) -> torch.Tensor:
        ctx.counts, ctx.fused = counts, jet_kernels.available(a, b) and a.shape == b.shape
        if ctx.fused:
            x, y = jet_kernels.flat(a), jet_kernels.flat(b)
            out = torch.empty_like(x)
            jet_kernels.run(jet_kernels.product_kernels(counts)[0], x, y, out)
            ctx.save_for_backward(x, y)
            return out.view(a.shape)
        ctx.save_for_backward(a, b)
        return _product_tensor(a, b, counts)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        a, b = ctx.saved_tensors
        counts = ctx.counts
        if ctx.fused:
            grad_a, grad_b = torch.empty_like(a), torch.empty_like(b)
            jet_kernels.run(jet_kernels.product_kernels(counts)[1], a, b, jet_kernels.flat(grad), grad_a, grad_b)
            return grad_a.view(grad.shape), grad_b.view(grad.shape), None
        g = split_blocks(grad, counts)
        grad_a = _binomial_adjoint(g, split_blocks(b, counts), counts, a.shape) if ctx.needs_input_grad[0] else None
        grad_b = _binomial_adjoint(g, split_blocks(a, counts), counts, b.shape) if ctx.needs_input_grad[1] else None
        return grad_a, grad_b, None


def jet_product(a: torch.Tensor, b: torch.Tensor, counts: tuple[int, ...]) -> torch.Tensor:
    """The jet of a product, on stacked coefficients of equal layout ``(C, n, k)``."""
    if not counts:
        return a * b
    if _PLAIN_AUTOGRAD:
        return _product_tensor(a, b, counts)
    return _Product.apply(a, b, counts)


class _Linear(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, coeffs: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        c, n, k = coeffs.shape
        flat = coeffs.reshape(c * n, k)
        out = flat @ weight.T
        if bias is not None:
            out[:n] += bias
        ctx.save_for_backward(flat, weight)
        ctx.has_bias = bias is not None
        return out.view(c, n, -1)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        flat, weight = ctx.saved_tensors
        c, n, k_out = grad.shape
        g = grad.reshape(c * n, k_out)
        grad_in = (g @ weight).view(c, n, -1) if ctx.needs_input_grad[0] else None
        grad_w = g.T @ flat if ctx.needs_input_grad[1] else None
        grad_b = g[:n].sum(0) if ctx.has_bias and ctx.needs_input_grad[2] else None
        return grad_in, grad_w, grad_b


def jet_linear(coeffs: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``Z W^T + b`` on stacked coefficients ``(C, n, k)``: one matmul, the bias on the value only."""
    if coeffs.shape[0] == 1:
        return torch.nn.functional.linear(coeffs, weight, bias)
    if _PLAIN_AUTOGRAD:
        out = coeffs @ weight.T
        return out if bias is None else torch.cat([out[:1] + bias, out[1:]])
    return _Linear.apply(coeffs, weight, bias)


def add_to_value(coeffs: torch.Tensor, addend: torch.Tensor | float) -> torch.Tensor:
    """``coeffs`` with ``addend`` (a constant: no derivatives) added to the value slot."""
    if coeffs.shape[0] == 1:
        return coeffs + addend
    return torch.cat([coeffs[:1] + addend, coeffs[1:]])
