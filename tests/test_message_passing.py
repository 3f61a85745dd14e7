"""message-passing: graphs on irregular 1-D points, the layer against its definition, bundling,
pushforward without gradient through the unrolled steps, and a run end to end on E1 data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sciml_core import solve
from sciml_core.autoregressive import pushforward
from sciml_core.data.generate import generate
from sciml_core.data.specs import load_spec
from sciml_core.errors import ConfigError
from solvers.message_passing.graph import knn_graph, radius_graph
from solvers.message_passing.model import MPPDE, ProcessorLayer

L = 16.0


def irregular_points(n: int = 40, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).permutation(np.sort(np.random.default_rng(seed + 1).uniform(0, L, n)))


def test_radius_graph_on_irregular_periodic_points() -> None:
    x = irregular_points()
    r = 1.3
    g = radius_graph(x, r, period=L)
    edges = set(zip(g.src.tolist(), g.dst.tolist()))
    for i in range(len(x)):
        for j in range(len(x)):
            d = abs(x[i] - x[j])
            near = i != j and min(d, L - d) <= r
            assert ((j, i) in edges) == near
    # offsets are x_i - x_j through the nearest periodic image, so |offset| <= r
    assert g.offset.abs().max() <= r
    wrap = [e for e, (s, d) in enumerate(zip(g.src.tolist(), g.dst.tolist())) if abs(x[d] - x[s]) > L / 2]
    assert wrap and all(abs(float(g.offset[e])) <= r for e in wrap)
    open_graph = radius_graph(x, r)  # not periodic: no edge across the ends
    assert len(open_graph.src) < len(g.src)


def test_knn_graph_and_mean_aggregation() -> None:
    x = irregular_points(30, seed=3)
    g = knn_graph(x, 4, period=L)
    assert torch.equal(g.degree, torch.full((30,), 4.0, dtype=torch.float64))
    for i in range(30):
        d = np.abs(x - x[i])
        d = np.minimum(d, L - d)
        d[i] = np.inf
        assert set(g.src[g.dst == i].tolist()) == set(np.argsort(d, kind="stable")[:4].tolist())
    messages = torch.randn(2, len(g.src), 3, dtype=torch.float64)
    mean = g.mean(messages)
    for i in (0, 17):
        torch.testing.assert_close(mean[:, i], messages[:, g.dst == i].mean(dim=1))
    with pytest.raises(ConfigError, match="no neighbours"):
        radius_graph(np.array([0.0, 5.0, 10.0]), 1.0)


def test_processor_layer_is_the_concatenated_message_function() -> None:
    torch.manual_seed(0)
    H, K, V, B = 8, 3, 2, 2
    x = irregular_points(12, seed=5)
    g = radius_graph(x, 3.0, period=L)
    layer = ProcessorLayer(H, K, V).double()
    f, u, v = (torch.randn(B, 12, n, dtype=torch.float64) for n in (H, K, V))
    got = layer(f, u, v, g, L)
    # the definition: phi([f_i, f_j, u_i - u_j, (x_i - x_j) / L, v_i]) per edge j -> i
    i, j = g.dst, g.src
    edge_in = torch.cat([f[:, i], f[:, j], u[:, i] - u[:, j], (g.offset / L)[None, :, None].expand(B, -1, 1), v[:, i]], -1)
    m = layer.message_out(layer.message_in(edge_in))
    agg = torch.stack([m[:, i == k].mean(1) for k in range(12)], 1)
    expect = f + layer.update(torch.cat([f, agg, v], -1))
    expect = (expect - expect.mean(1, keepdim=True)) / torch.sqrt(expect.var(1, unbiased=False, keepdim=True) + 1e-5)
    torch.testing.assert_close(got, expect)


def test_decoder_bundles_cumulative_time_steps() -> None:
    torch.manual_seed(0)
    net = MPPDE(window=4, n_params=1, hidden=32, layers=1).double()
    x = torch.arange(10, dtype=torch.float64) * 1.6
    g = radius_graph(x.numpy(), 3.3, period=L).to("cpu", torch.float64)
    u = torch.randn(3, 10, 4, dtype=torch.float64)
    args = (x, torch.rand(3, dtype=torch.float64), torch.randn(3, 1, dtype=torch.float64), g, L)
    out_a, out_b = net(u, *args, 0.1), net(u, *args, 0.2)
    assert out_a.shape == (3, 10, 4)
    # u^{k+j} = u^k + j dt d_j: the increments scale with dt and with j
    inc_a, inc_b = out_a - u[:, :, -1:], out_b - u[:, :, -1:]
    torch.testing.assert_close(inc_b, 2 * inc_a)
    d = inc_a / (0.1 * torch.arange(1, 5, dtype=torch.float64))
    assert d.std() > 0
    with pytest.raises(ConfigError, match="too small for the decoder"):
        MPPDE(window=25, n_params=0, hidden=32)


@pytest.fixture(scope="module")
def e1_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mp") / "e1.h5"
    spec = load_spec("mp-e1", {"n_samples": 8, "block_size": 8, "times": {"t_end": 0.48, "n_t": 31},
                               "solver": {"config": {"n": 100}}})
    generate(spec, out, seed=0, progress=False)
    return out


def _overrides(**extra: object) -> dict[str, object]:
    base = {"data": {"n_test": 2, "x_stride": 2, "x_average": 5}, "eval_start": 0, "max_unroll": 1,
            "train": {"adam_steps": 6}}
    base.update(extra)
    return base


def test_pushforward_does_not_backpropagate_through_unrolled_steps(e1_file: Path) -> None:
    from sciml_core.config import build_config
    from sciml_core.data.trajectories import load_trajectories
    from sciml_core.registry import get_pde
    from sciml_core.solver import RunContext
    from solvers.message_passing import MessagePassingSolver

    cls = MessagePassingSolver
    cfg = build_config(cls.Config, {**cls.presets["quick"], **_overrides()})
    solver = cls(get_pde("combined-equation").from_params({}), cfg, RunContext(data=e1_file))
    data = load_trajectories(e1_file, cfg.data, torch.device("cpu"), torch.float64)
    model = solver.build_model(data).double()
    stepper = solver.stepper(model, data.train_params[:2])
    history = data.train[:2, :5].clone()
    pushed = pushforward(stepper, history, 2, first_frame=5)
    assert not pushed.requires_grad and pushed.grad_fn is None
    loss = solver.criterion(model(pushed, 15, data.train_params[:2]), data.train[:2, 15:20])
    grads = torch.autograd.grad(loss, list(model.parameters()))
    # the same loss with the unrolled steps differentiable has other gradients: the detach matters
    model.zero_grad()
    live = stepper(stepper(history, 5), 10)
    live_loss = solver.criterion(model(live, 15, data.train_params[:2]), data.train[:2, 15:20])
    torch.testing.assert_close(live_loss, loss)
    live_grads = torch.autograd.grad(live_loss, list(model.parameters()))
    assert any(not torch.allclose(a, b) for a, b in zip(grads, live_grads))


def test_solve_end_to_end_on_e1_data(e1_file: Path, tmp_path: Path) -> None:
    result = solve("combined-equation", "message-passing", preset="quick", data=e1_file, out=tmp_path / "run",
                   overrides=_overrides(), device="cpu", progress=False)
    sol = result.solution
    assert sol["u"].dims == ("sample", "t", "x") and sol["u"].shape == (2, 26, 50)
    assert np.isfinite(sol["u"].values).all() and "u_ref" in sol
    m = result.metrics
    assert m["acc_err"] == pytest.approx(float(((sol["u"] - sol["u_ref"]) ** 2).sum(("t", "x")).mean()) / 50, rel=1e-6)
    assert m["nx"] == 50 and m["steps"] == 6 and len(m["rollout_rel_l2_per_step"]) == 26
    # the truth is the down-projection of the nx = 100 file: 5-point means, every 2nd point
    import h5py

    from sciml_core.data.coarsen import downsample

    with h5py.File(e1_file) as f:
        truth = downsample(f["u"][6:8, 5:].astype(np.float64), 50)
    np.testing.assert_allclose(sol["u_ref"].values, truth, atol=1e-5)
    with pytest.raises(ConfigError, match="horizon must equal window"):
        solve("combined-equation", "message-passing", preset="quick", data=e1_file, overrides={"horizon": 3})
