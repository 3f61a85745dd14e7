"""The compiled jet kernels against the tensor rules (float64, orders up to 4, several layouts),
their gradients against finite differences, once and twice, and the engine choice."""

from __future__ import annotations

import pytest
import torch

from sciml_core.errors import ConfigError
from sciml_core.nn import MLP, FourierFeatures, ModifiedMLP, PeriodicEmbedding, jet_kernels, jet_rules
from sciml_core.nn.jet import Jet, JetLayout, input_jet, use_compiled

LAYOUTS = [(1,), (2, 1), (3, 2, 1, 1), (4, 4, 4, 4)]  # the last: the polarized jets of the hard-BC PINN
needs_numba = pytest.mark.skipif(jet_kernels.numba is None, reason="numba (the fast extra) is not installed")


def _coeffs(counts: tuple[int, ...], seed: int, n: int = 7) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(1 + sum(counts), n, 5, generator=g, dtype=torch.float64, requires_grad=True)


def _value_and_grads(fn, *inputs):
    out = fn(*inputs)
    grad = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).reshape(out.shape)
    return out.detach(), torch.autograd.grad(out, inputs, grad)


@needs_numba
@pytest.mark.parametrize("counts", LAYOUTS)
@pytest.mark.parametrize("name", ["tanh", "sin", "cos"])
def test_activation_kernel_matches_tensor_rules(counts, name) -> None:
    z = _coeffs(counts, 0)
    out_k, (grad_k,) = _value_and_grads(lambda c: jet_kernels.activation(c, counts, name), z)
    out_t, (grad_t,) = _value_and_grads(lambda c: jet_rules.activation(c, counts, name), z)
    torch.testing.assert_close(out_k, out_t, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(grad_k, grad_t, rtol=1e-11, atol=1e-11)


@needs_numba
@pytest.mark.parametrize("counts", LAYOUTS)
def test_product_kernel_matches_tensor_rules(counts) -> None:
    a, b = _coeffs(counts, 1), _coeffs(counts, 2)
    out_k, grads_k = _value_and_grads(lambda x, y: jet_kernels.product(x, y, counts), a, b)
    out_t, grads_t = _value_and_grads(lambda x, y: jet_rules.product(x, y, counts), a, b)
    torch.testing.assert_close(out_k, out_t, rtol=1e-12, atol=1e-12)
    for gk, gt in zip(grads_k, grads_t):
        torch.testing.assert_close(gk, gt, rtol=1e-11, atol=1e-11)


@needs_numba
def test_compiled_nodes_differentiate_once_and_twice() -> None:
    """gradcheck and gradgradcheck of both nodes: the second derivative goes through the tensor rules."""
    counts = (2, 1)
    z, w = _coeffs(counts, 3, n=3), _coeffs(counts, 4, n=3)
    assert torch.autograd.gradcheck(lambda c: jet_kernels.activation(c, counts, "tanh"), (z,))
    assert torch.autograd.gradgradcheck(lambda c: jet_kernels.activation(c, counts, "tanh"), (z,))
    assert torch.autograd.gradcheck(lambda x, y: jet_kernels.product(x, y, counts), (z, w))
    assert torch.autograd.gradgradcheck(lambda x, y: jet_kernels.product(x, y, counts), (z, w))


def test_fifth_order_tanh_derivative_against_autograd() -> None:
    z = torch.linspace(-2, 2, 11, dtype=torch.float64, requires_grad=True)
    value, derivs = torch.tanh(z), []
    for _ in range(5):
        (value,) = torch.autograd.grad(value.sum(), z, create_graph=True)
        derivs.append(value)
    for k, (ours, exact) in enumerate(zip(jet_rules.tanh_derivatives(torch.tanh(z), 5)[1:], derivs), start=1):
        torch.testing.assert_close(ours, exact, rtol=1e-12, atol=1e-12, msg=f"order {k}")


@needs_numba
@pytest.mark.parametrize("block", ["mlp", "modified-periodic", "fourier"])
def test_networks_on_both_engines_agree(block) -> None:
    """Whole networks (all their products and activations) on compiled and tensor jets: outputs,
    parameter gradients, and the gradient of trainable Fourier frequencies before the MLP."""
    torch.manual_seed(0)
    embed, net = {"mlp": (None, MLP(2, 2, 6, 3, factorize=True)),
                  "modified-periodic": (PeriodicEmbedding(2, [1], [2.0], 2), ModifiedMLP(5, 2, 6, 2, "sin")),
                  "fourier": (FourierFeatures(2, 3), MLP(6, 1, 5, 2))}[block]
    modules = [m.double() for m in (embed, net) if m is not None]
    g = torch.Generator().manual_seed(5)
    coords = {"t": torch.rand(9, 1, generator=g, dtype=torch.float64), "x": torch.rand(9, 1, generator=g, dtype=torch.float64)}
    results = []
    for engine in ("compiled", "tensor"):
        for m in modules:
            m.zero_grad(set_to_none=True)
        j = input_jet(coords, ["t", "x"], {"t": 1, "x": 4}, engine)
        assert j.compiled == (engine == "compiled")
        out = net.jet(embed.jet(j) if embed is not None else j)
        assert out.compiled == j.compiled
        (out.coeffs * torch.linspace(-1, 1, out.coeffs.numel(), dtype=torch.float64).reshape(out.coeffs.shape)).sum().backward()
        results.append([out.coeffs.detach(), *(p.grad.clone() for m in modules for p in m.parameters() if p.requires_grad)])
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-11, atol=1e-12)


def test_engine_is_chosen_in_one_place(monkeypatch) -> None:
    cpu = torch.zeros(1)
    assert use_compiled("auto", cpu) == (jet_kernels.numba is not None)
    assert not use_compiled("tensor", cpu) and not use_compiled("auto", cpu.half())
    with pytest.raises(ConfigError, match="jet engine must be 'auto', 'compiled' or 'tensor'"):
        use_compiled("fast", cpu)
    if jet_kernels.numba is not None:
        with pytest.raises(ConfigError, match="not cpu torch.float16"):
            use_compiled("compiled", cpu.half())
    monkeypatch.setattr(jet_kernels, "numba", None)  # numba not installed: the tensor rules, or a clear error
    assert not use_compiled("auto", cpu)
    with pytest.raises(ConfigError, match=r"pip install sciml\[fast\]"):
        use_compiled("compiled", cpu)


def test_layout_orders_directions_by_decreasing_order() -> None:
    layout = JetLayout.of({"t": 1, "x": 4, "y": 2})
    assert layout.dims == ("x", "y", "t") and layout.counts == (3, 2, 1, 1) and layout.size == 8
    assert [layout.slot("x", m) for m in range(1, 5)] == [1, 4, 6, 7]
    assert layout.slot("t", 2) is None and layout.slot("z", 1) is None
    jet = input_jet({"t": torch.ones(3, 1), "x": torch.zeros(3, 1)}, ["t", "x"], {"t": 1, "x": 2})
    assert torch.equal(jet.derivative("t", 1), torch.tensor([[1.0, 0.0]]).expand(3, 2))
    assert torch.equal(jet.derivative("x", 2), torch.zeros(3, 2))
    with pytest.raises(ValueError, match="up to order 4"):
        JetLayout.of({"x": 5})
    widened = Jet.from_parts(torch.ones(3, 1), {}, JetLayout.of({"x": 1})).to_layout(layout)
    assert widened.coeffs.shape == (8, 3, 1) and torch.equal(widened.value, torch.ones(3, 1))


def test_compiled_nodes_survive_a_retained_graph() -> None:
    """Loss balancing differentiates each term with retain_graph before the full backward."""
    torch.manual_seed(0)
    net = ModifiedMLP(2, 1, width=4, depth=2).double()
    out = net.jet(input_jet({"x": torch.rand(6, 1, dtype=torch.float64), "t": torch.rand(6, 1, dtype=torch.float64)},
                            ["x", "t"], {"x": 2})).coeffs
    loss = out.pow(2).sum()
    first = torch.autograd.grad(loss, list(net.parameters()), retain_graph=True)
    loss.backward()
    for g, p in zip(first, net.parameters()):
        torch.testing.assert_close(g, p.grad, rtol=0, atol=0)
