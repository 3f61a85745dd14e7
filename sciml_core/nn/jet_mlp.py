"""A whole fully connected network on a jet as one autograd node.

Layer by layer, a jet MLP records two nodes per layer and the engine walks them with its
own bookkeeping, a large share of the time at PINN sizes: at DeepXDE's Burgers network
(3 x 20, 2540 points) one node takes forward + backward from 3.2 to 2.6 ms on a CPU core.
:func:`jet_mlp` runs

    Z_l = A_{l-1} W_l^T (+ b_l on the value slot),  A_l = sigma(Z_l)  (Faa di Bruno, :mod:`.jet_ops`)

for every layer in one :class:`torch.autograd.Function` and writes the reverse pass out by
hand, from the output gradient G_L:

    dW_l = G_l^T A_{l-1},   db_l = 1^T G_l[value],   G^A_{l-1} = G_l W_l,
    G_{l-1} = the adjoint of sigma's jet rule applied to G^A_{l-1}  (:func:`.jet_ops.activation_backward`),

with every slot of the stack in one matmul.  On CPU, a tanh network up to
:data:`.jet_mlp_kernels.MAX_WIDTH` wide runs instead as one compiled loop over blocks of points
(:mod:`.jet_mlp_kernels`).  The weights may carry graphs of their own
(random weight factorisation builds W from trainable factors); the input stack gets a
gradient only when it needs one (an embedding with trainable frequencies before the MLP).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from . import jet_kernels, jet_mlp_kernels, jet_ops

#: Whether tanh networks on CPU run as one compiled loop over blocks of points
#: (:mod:`.jet_mlp_kernels`); switched off by :func:`layer_kernels_only`.
_COMPILED_NETWORK = True


@contextmanager
def layer_kernels_only() -> Iterator[None]:
    """Within this block tanh networks run layer by layer in the node (as other activations do),
    not as one compiled loop over blocks of points: for comparing the two."""
    global _COMPILED_NETWORK
    previous, _COMPILED_NETWORK = _COMPILED_NETWORK, False
    try:
        yield
    finally:
        _COMPILED_NETWORK = previous


def _kernels(counts: tuple[int, ...], dtype: torch.dtype) -> tuple[Any, Any]:
    """The compiled network's (forward, backward) for this layout and dtype."""
    return jet_mlp_kernels.tanh_mlp_kernels(counts, str(dtype).removeprefix("torch."))


def _numpy(t: torch.Tensor) -> np.ndarray:
    """A numpy view of the tensor's data (detached, made contiguous)."""
    return t.detach().contiguous().numpy()


class _JetMLP(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, coeffs: torch.Tensor, counts: tuple[int, ...], activation: str,
                *params: torch.Tensor) -> torch.Tensor:
        slots, n = coeffs.shape[0], coeffs.shape[1]
        weights, biases = params[0::2], params[1::2]
        ctx.counts, ctx.activation, ctx.n = counts, activation, n
        ctx.compiled = (activation == "tanh" and bool(counts) and len(weights) >= 2 and _COMPILED_NETWORK
                        and max(w.shape[0] for w in weights) <= jet_mlp_kernels.MAX_WIDTH
                        and jet_kernels.available(coeffs, *params))
        if ctx.compiled:  # the whole network per block of points (jet_mlp_kernels)
            forward = _kernels(counts, coeffs.dtype)[0]
            blocks = -(-n // jet_mlp_kernels.BLOCK)
            states = [coeffs.new_empty(blocks, slots, w.shape[0], jet_mlp_kernels.BLOCK) for w in weights[:-1]]
            out = coeffs.new_empty(slots, n, weights[-1].shape[0])
            coeffs = coeffs.detach().contiguous()
            forward(coeffs.numpy(), out.numpy(), tuple(map(_numpy, weights)), tuple(map(_numpy, biases)),
                    tuple(t.numpy() for t in states))
            ctx.inputs, ctx.states = [coeffs], states
            ctx.save_for_backward(*params)
            return out
        a = coeffs.reshape(slots * n, -1)  # forward runs without grad: no detach needed
        inputs, states = [], []
        for index, (weight, bias) in enumerate(zip(weights, biases)):
            inputs.append(a)
            z = torch.mm(a, weight.T)
            z[:n] += bias
            if index == len(weights) - 1:
                break
            h, state = jet_ops.activation_forward(z.view(slots, n, -1), activation, counts)
            states.append(state)
            a = h.view(slots * n, -1)
        ctx.inputs, ctx.states = inputs, states
        ctx.save_for_backward(*weights)
        return z.view(slots, n, -1)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        if ctx.compiled:
            return _compiled_backward(ctx, grad)
        weights, n = ctx.saved_tensors, ctx.n
        slots = grad.shape[0]
        g = grad.reshape(slots * n, -1)
        ones = g.new_ones(n)
        grads: list[torch.Tensor | None] = []
        grad_in = None
        for index in range(len(weights) - 1, -1, -1):
            # (db, dW), reversed below; db as a matrix-vector product: a column sum over the
            # value rows is about 1.5x slower in a training step
            grads += [torch.mv(g[:n].T, ones), torch.mm(g.T, ctx.inputs[index])]
            if index == 0:
                if ctx.needs_input_grad[0]:
                    grad_in = torch.mm(g, weights[0]).view(slots, n, -1)
                break
            g_a = torch.mm(g, weights[index]).view(slots, n, -1)
            g = jet_ops.activation_backward(ctx.states[index - 1], g_a, ctx.activation, ctx.counts).view(slots * n, -1)
        return (grad_in, None, None, *reversed(grads))


def _compiled_backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
    params, coeffs = ctx.saved_tensors, ctx.inputs[0]
    backward = _kernels(ctx.counts, coeffs.dtype)[1]
    grads = [torch.zeros_like(t) for t in params]
    grad_in = torch.empty_like(coeffs) if ctx.needs_input_grad[0] else coeffs.new_empty(0, 0, 0)
    backward(coeffs.numpy(), _numpy(grad), grad_in.numpy(), ctx.needs_input_grad[0],
             tuple(map(_numpy, params[0::2])), tuple(map(_numpy, params[1::2])), tuple(t.numpy() for t in ctx.states),
             tuple(g.numpy() for g in grads[0::2]), tuple(g.numpy() for g in grads[1::2]))
    return (grad_in if ctx.needs_input_grad[0] else None, None, None, *grads)


def jet_mlp(coeffs: torch.Tensor, counts: tuple[int, ...], activation: str,
            layers: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    """The stack ``(C, n, k)`` through ``layers`` = [(W, b), ...] with ``activation`` after
    every layer but the last, as one autograd node (module docstring)."""
    if jet_ops.plain_autograd():
        for index, (weight, bias) in enumerate(layers):
            coeffs = jet_ops.jet_linear(coeffs, weight, bias)
            if index < len(layers) - 1:
                coeffs = jet_ops.jet_activation(coeffs, counts, activation)
        return coeffs
    return _JetMLP.apply(coeffs, counts, activation, *(t for layer in layers for t in layer))
