"""The fused jet MLP node (:mod:`sciml_core.nn.jet_mlp`) against the layer-by-layer jet and
against finite differences (float64): outputs, parameter gradients, input gradients, random
weight factorisation, the kernel and the tensor paths."""

from __future__ import annotations

import pytest
import torch

from sciml_core.nn import MLP, FourierFeatures, jet_kernels
from sciml_core.nn.jet import Jet, JetLayout
from sciml_core.nn.jet_mlp import _JetMLP, jet_mlp, layer_kernels_only
from sciml_core.nn.jet_mlp_kernels import BLOCK
from sciml_core.nn.jet_ops import twice_differentiable

LAYOUTS = [{"x": 2, "t": 1}, {"x": 4, "t": 1}, {"x": 1}]


def _input(layout: JetLayout, n: int, features: int, seed: int) -> Jet:
    g = torch.Generator().manual_seed(seed)
    return Jet(torch.randn(layout.size, n, features, generator=g, dtype=torch.float64), layout)


def _grads(net: torch.nn.Module, j: Jet, fused: bool) -> tuple[torch.Tensor, list[torch.Tensor]]:
    net.zero_grad(set_to_none=True)
    if fused:
        out = net.jet(j).coeffs
    else:
        with twice_differentiable():  # the layer-by-layer rules under plain autograd
            out = net.jet(j).coeffs
    weight = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).reshape(out.shape)
    (out * weight).sum().backward()
    return out.detach(), [p.grad.clone() for p in net.parameters()]


@pytest.mark.parametrize("orders", LAYOUTS)
@pytest.mark.parametrize("activation", ["tanh", "sin"])
@pytest.mark.parametrize("factorize", [False, True])
def test_fused_mlp_matches_layerwise_jet(orders, activation, factorize) -> None:
    torch.manual_seed(0)
    net = MLP(3, 2, width=6, depth=3, activation=activation, factorize=factorize).double()
    j = _input(JetLayout.of(orders), 9, 3, seed=1)
    out_f, grads_f = _grads(net, j, fused=True)
    out_l, grads_l = _grads(net, j, fused=False)
    torch.testing.assert_close(out_f, out_l, rtol=1e-12, atol=1e-12)
    assert len(grads_f) == len(grads_l) == len(list(net.parameters()))
    for gf, gl in zip(grads_f, grads_l):
        torch.testing.assert_close(gf, gl, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("path", ["compiled network", "layer kernels", "tensor rules"])
def test_fused_mlp_gradients_against_finite_differences(path, monkeypatch) -> None:
    """gradcheck of every input of the node: the stack and each weight and bias, on each path
    (the last block of the compiled network part filled)."""
    monkeypatch.setattr(jet_kernels, "available", lambda *t: path != "tensor rules")
    g = torch.Generator().manual_seed(3)
    counts = JetLayout.of({"x": 2, "t": 1}).counts
    coeffs = torch.randn(4, BLOCK + 5, 2, generator=g, dtype=torch.float64, requires_grad=True)
    params = []
    for fan_in, fan_out in ((2, 5), (5, 4), (4, 1)):
        params += [torch.randn(fan_out, fan_in, generator=g, dtype=torch.float64, requires_grad=True),
                   torch.randn(fan_out, generator=g, dtype=torch.float64, requires_grad=True)]
    with layer_kernels_only() if path == "layer kernels" else torch.enable_grad():
        assert torch.autograd.gradcheck(lambda c, *p: _JetMLP.apply(c, counts, "tanh", *p), (coeffs, *params))


@pytest.mark.parametrize("orders", [{"x": 2, "t": 1}, {"x": 4}, {"x": 1, "y": 1}])
@pytest.mark.parametrize("n", [3, 2 * BLOCK + 7])
def test_compiled_network_matches_layer_kernels(orders, n) -> None:
    """The block-compiled tanh network against the node's layer-by-layer kernels: widths that
    are no multiple of the unrolled chunks or tiles, one partial block or several."""
    torch.manual_seed(0)
    net = MLP(3, 2, width=13, depth=3)
    net.hidden[1] = type(net.hidden[1])(13, 9)  # unequal hidden widths
    net.hidden[2] = type(net.hidden[2])(9, 13)
    net.double()
    j = Jet(_input(JetLayout.of(orders), n, 3, seed=2).coeffs.requires_grad_(), JetLayout.of(orders))
    results = []
    for compiled in (True, False):
        with torch.enable_grad() if compiled else layer_kernels_only():
            net.zero_grad(set_to_none=True)
            j.coeffs.grad = None
            out = net.jet(j).coeffs
            (out * torch.linspace(-1, 1, out.numel(), dtype=out.dtype).reshape(out.shape)).sum().backward()
            results.append([out.detach(), j.coeffs.grad.clone(), *(p.grad.clone() for p in net.parameters())])
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype, ulps", [(torch.float32, 4), (torch.float64, 8)])
def test_compiled_network_tanh_to_a_few_ulp(dtype, ulps) -> None:
    """The compiled network's own tanh (from expm1) against torch's, through a 1-1-1 network
    that returns tanh(x): tiny, moderate, large and saturated arguments of both signs."""
    x = torch.cat([torch.logspace(-30, 1.5, 500, dtype=dtype), torch.tensor([0.0, 19.9, 20.1, 1e4], dtype=dtype)])
    x = torch.cat([x, -x])
    stack = torch.stack([x, torch.zeros_like(x)])[..., None]  # value and one first derivative
    one, zero = torch.ones(1, 1, dtype=dtype), torch.zeros(1, dtype=dtype)
    out = jet_mlp(stack, (1,), "tanh", [(one, zero), (one, zero)])[0, :, 0]
    expected = torch.tanh(x)
    assert torch.all(torch.abs(out - expected) <= ulps * torch.finfo(dtype).eps * expected.abs()), \
        (out - expected).abs().max()


def test_fused_mlp_passes_the_gradient_to_a_trainable_embedding() -> None:
    """Trainable Fourier features before the MLP: the stack needs its own gradient."""
    torch.manual_seed(0)
    embed, net = FourierFeatures(2, 3).double(), MLP(6, 1, width=5, depth=2).double()
    layout = JetLayout.of({"x": 2, "t": 1})
    j = _input(layout, 7, 2, seed=4)

    def frequency_grad(fused: bool) -> torch.Tensor:
        embed.zero_grad(set_to_none=True)
        with torch.enable_grad() if fused else twice_differentiable():
            net.jet(embed.jet(j)).coeffs.pow(2).sum().backward()
        return embed.B.grad.clone()

    torch.testing.assert_close(frequency_grad(True), frequency_grad(False), rtol=1e-11, atol=1e-11)


def test_value_only_stack_and_plain_forward_agree() -> None:
    torch.manual_seed(0)
    net = MLP(2, 3, width=8, depth=2).double()
    x = torch.randn(11, 2, dtype=torch.float64)
    layers = [(layer.effective_weight(), layer.bias) for layer in [*net.hidden, net.out]]
    torch.testing.assert_close(jet_mlp(x[None], (), "tanh", layers)[0], net(x), rtol=1e-13, atol=1e-13)


def test_fused_node_survives_a_retained_graph() -> None:
    """Loss balancing differentiates each term with retain_graph before the full backward."""
    torch.manual_seed(0)
    net = MLP(2, 1, width=4, depth=2).double()
    out = net.jet(_input(JetLayout.of({"x": 2}), 6, 2, seed=5)).coeffs
    loss = out.pow(2).sum()
    first = torch.autograd.grad(loss, list(net.parameters()), retain_graph=True)
    loss.backward()
    for g, p in zip(first, net.parameters()):
        torch.testing.assert_close(g, p.grad, rtol=0, atol=0)
