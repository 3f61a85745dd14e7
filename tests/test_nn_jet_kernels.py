"""The compiled jet kernels against the tensor implementation of the same rules, and both
against reverse mode through the plain functions (float64, orders up to 4, several layouts)."""

from __future__ import annotations

import pytest
import torch

from sciml_core.nn import jet_kernels, jet_ops
from sciml_core.nn.jet import Jet, JetLayout, input_jet

LAYOUTS = [(1,), (2, 1), (2, 1, 1, 1), (3, 2, 1, 1)]


def _coeffs(counts: tuple[int, ...], seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(1 + sum(counts), 7, 5, generator=g, dtype=torch.float64, requires_grad=True)


def _both(fn, *inputs, monkeypatch):
    """fn's output and input gradients with the kernels, then with the tensor implementation."""
    results = []
    for fused in (True, False):
        monkeypatch.setattr(jet_kernels, "available", lambda *t, fused=fused: fused)
        xs = [x.detach().clone().requires_grad_(True) for x in inputs]
        out = fn(*xs)
        grad = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).reshape(out.shape)
        grads = torch.autograd.grad(out, xs, grad)
        results.append((out.detach(), grads))
    return results


@pytest.mark.parametrize("counts", LAYOUTS)
@pytest.mark.parametrize("name", ["tanh", "sin", "cos"])
def test_activation_kernel_matches_tensor_rules(counts, name, monkeypatch) -> None:
    (out_k, grads_k), (out_t, grads_t) = _both(lambda z: jet_ops.jet_activation(z, counts, name),
                                               _coeffs(counts, 0), monkeypatch=monkeypatch)
    torch.testing.assert_close(out_k, out_t, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(grads_k[0], grads_t[0], rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("counts", LAYOUTS)
def test_product_kernel_matches_tensor_rules(counts, monkeypatch) -> None:
    (out_k, grads_k), (out_t, grads_t) = _both(lambda a, b: jet_ops.jet_product(a, b, counts),
                                               _coeffs(counts, 1), _coeffs(counts, 2), monkeypatch=monkeypatch)
    torch.testing.assert_close(out_k, out_t, rtol=1e-12, atol=1e-12)
    for gk, gt in zip(grads_k, grads_t):
        torch.testing.assert_close(gk, gt, rtol=1e-11, atol=1e-11)


def test_fifth_order_tanh_derivative_against_autograd() -> None:
    z = torch.linspace(-2, 2, 11, dtype=torch.float64, requires_grad=True)
    value, derivs = torch.tanh(z), []
    for _ in range(5):
        (value,) = torch.autograd.grad(value.sum(), z, create_graph=True)
        derivs.append(value)
    for k, (ours, exact) in enumerate(zip(jet_ops.tanh_derivatives(torch.tanh(z), 5)[1:], derivs), start=1):
        torch.testing.assert_close(ours, exact, rtol=1e-12, atol=1e-12, msg=f"order {k}")


def test_kernel_path_is_taken_on_cpu_floats() -> None:
    assert jet_kernels.available(torch.zeros(1), torch.zeros(1))
    assert not jet_kernels.available(torch.zeros(1, dtype=torch.float16))
    assert not jet_kernels.available(torch.zeros(1), torch.zeros(1, dtype=torch.float64))


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
