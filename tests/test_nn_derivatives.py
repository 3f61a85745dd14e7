"""The forward-mode jet engine against analytic derivatives (sympy) up to 4th order, and
against the reverse-mode engine on every network block."""

from __future__ import annotations

import pytest
import sympy as sp
import torch

from sciml_core.nn import (
    MLP,
    AutogradDerivatives,
    FourierFeatures,
    JetDerivatives,
    ModifiedMLP,
    PeriodicEmbedding,
    input_jet,
    required_orders,
)

NAMES = ["u", "u_t", "u_tt", "u_x", "u_xx", "u_xxx", "u_xxxx"]


def _points(n: int = 40) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return {"t": torch.rand(n, 1, generator=g, dtype=torch.float64),
            "x": 2 * torch.rand(n, 1, generator=g, dtype=torch.float64) - 1}


@pytest.mark.parametrize("activation", ["tanh", "sin"])
def test_jet_matches_analytic_derivatives_to_fourth_order(activation: str) -> None:
    torch.manual_seed(0)
    net = MLP(2, 1, width=3, depth=2, activation=activation).double()
    coords = _points()
    jets = JetDerivatives(lambda c, o: {"u": net.jet(input_jet(c, ["t", "x"], o))}, coords, {"t": 2, "x": 4})

    # The same network written symbolically with its own weights.
    t, x = sp.symbols("t x")
    act = sp.tanh if activation == "tanh" else sp.sin
    h = sp.Matrix([t, x])
    for layer in net.hidden:
        w, b = layer.effective_weight().detach().tolist(), layer.bias.detach().tolist()
        h = (sp.Matrix(w) * h + sp.Matrix(b)).applyfunc(act)
    w, b = net.out.effective_weight().detach().tolist(), net.out.bias.detach().tolist()
    u = (sp.Matrix(w) * h + sp.Matrix(b))[0]
    exprs = {"u": u, "u_t": u.diff(t), "u_tt": u.diff(t, 2), "u_x": u.diff(x), "u_xx": u.diff(x, 2),
             "u_xxx": u.diff(x, 3), "u_xxxx": u.diff(x, 4)}
    for name, expr in exprs.items():
        f = sp.lambdify((t, x), expr, "math")
        exact = torch.tensor([[f(ti, xi)] for ti, xi in zip(coords["t"].ravel().tolist(), coords["x"].ravel().tolist())],
                             dtype=torch.float64)
        torch.testing.assert_close(jets[name], exact, rtol=1e-10, atol=1e-10, msg=name)


def _blocks() -> list[tuple[str, torch.nn.Module, torch.nn.Module | None]]:
    return [
        ("mlp-rwf", MLP(2, 2, 8, 3, factorize=True), None),
        ("modified", ModifiedMLP(3, 2, 8, 3), PeriodicEmbedding(2, [1], [2.0], modes=1)),
        ("modified-periodic-k3", ModifiedMLP(7, 2, 8, 2, activation="sin"), PeriodicEmbedding(2, [1], [2.0], modes=3)),
        ("fourier", MLP(12, 2, 8, 2), FourierFeatures(2, 6, sigma=2.0)),
    ]


@pytest.mark.parametrize("index", range(4))
def test_jet_agrees_with_reverse_mode_on_every_block(index: int) -> None:
    torch.manual_seed(index)
    _, net, embed = _blocks()[index]
    net, embed = net.double(), embed.double() if embed is not None else None

    def fields(c):
        z = torch.cat([c["t"], c["x"]], dim=-1)
        out = net(embed(z) if embed is not None else z)
        return {"u": out[:, :1], "v": out[:, 1:]}

    def jet_fields(c, orders):
        j = input_jet(c, ["t", "x"], orders)
        out = net.jet(embed.jet(j) if embed is not None else j)
        return {"u": out.narrow(0, 1), "v": out.narrow(1, 1)}

    coords = _points()
    reverse = AutogradDerivatives(fields, coords)
    forward = JetDerivatives(jet_fields, coords, {"t": 2, "x": 4})
    for name in NAMES + [n.replace("u", "v") for n in NAMES]:
        torch.testing.assert_close(forward[name], reverse[name], rtol=1e-9, atol=1e-9, msg=name)
    # parameter gradients through the jet equal those through nested reverse mode
    loss_f = (forward["u_xxxx"] + forward["v_t"] * forward["u_xx"] + forward["u"] * forward["v"]).pow(2).mean()
    grads_f = torch.autograd.grad(loss_f, list(net.parameters()))
    reverse = AutogradDerivatives(fields, coords)
    loss_r = (reverse["u_xxxx"] + reverse["v_t"] * reverse["u_xx"] + reverse["u"] * reverse["v"]).pow(2).mean()
    grads_r = torch.autograd.grad(loss_r, list(net.parameters()))
    for gf, gr in zip(grads_f, grads_r):
        torch.testing.assert_close(gf, gr, rtol=1e-8, atol=1e-10)


def test_mixed_derivative_falls_back_to_reverse_mode() -> None:
    torch.manual_seed(0)
    net = MLP(2, 1, 8, 2).double()
    coords = {k: v.requires_grad_(True) for k, v in _points().items()}
    jets = JetDerivatives(lambda c, o: {"u": net.jet(input_jet(c, ["t", "x"], o))}, coords, {"t": 1, "x": 1})
    reverse = AutogradDerivatives(lambda c: {"u": net(torch.cat([c["t"], c["x"]], -1))}, coords)
    torch.testing.assert_close(jets["u_tx"], reverse["u_xt"])
    # the parameter gradient through the mixed derivative (a second reverse pass over the jet)
    params = [p for name, p in net.named_parameters() if name != "out.bias"]  # the output bias drops out of u_x
    grads_jet = torch.autograd.grad((jets["u_tx"] * jets["u_x"]).pow(2).mean(), params)
    grads_rev = torch.autograd.grad((reverse["u_xt"] * reverse["u_x"]).pow(2).mean(), params)
    for gj, gr in zip(grads_jet, grads_rev):
        torch.testing.assert_close(gj, gr, rtol=1e-9, atol=1e-12)


def test_required_orders_reads_the_residual() -> None:
    from sciml_core.registry import get_pde

    assert required_orders(get_pde("kuramoto-sivashinsky")().residual, ("t", "x")) == {"t": 1, "x": 4}
    assert required_orders(get_pde("burgers")().residual, ("t", "x")) == {"t": 1, "x": 2}
