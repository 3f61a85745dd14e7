"""The stabilising components do what they claim, and both models build in 1D and 2D."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from solvers.neural_operator.layers import DenseSpectralFilter, FourierGate, Pointwise, SpectralFilter, radial_mask
from solvers.neural_operator.models import (FNOConfig, StableFNO, StableFNOConfig, build_model, n_params,
                                            width_for_params)


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a 2-thread OpenMP conv stalls when other processes hold the cores
    yield
    torch.set_num_threads(threads)


def _randomise(layer: SpectralFilter, std: float) -> None:
    with torch.no_grad():
        w = layer.weight.tensor
        w.copy_(torch.complex(std * torch.randn_like(w.real), std * torch.randn_like(w.real)))


def _mode_gain(layer: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """|F(layer(x))| / |F(x)| per (batch, channel, mode) over the full FFT, and |F(x)|."""
    dims = tuple(range(2, x.ndim))
    fx = torch.fft.fftn(x.double(), dim=dims)
    with torch.no_grad():
        fy = torch.fft.fftn(layer(x).double(), dim=dims)
    return fy.abs() / fx.abs(), fx.abs()


@pytest.mark.parametrize("n_dim", [1, 2])
def test_filter_gain_strictly_inside_unit_interval(n_dim: int) -> None:
    torch.manual_seed(0)
    layer = SpectralFilter(3, [12] * n_dim, bounded=True, cutoff=None)
    _randomise(layer, 4.0)  # magnitudes sigmoid(m), m ~ N(0, 16): many near 0 and 1
    g = layer.gain().abs()
    assert g.min() > 0 and g.max() < 1
    x = torch.randn(2, 3, *([24] * n_dim))
    ratio, _ = _mode_gain(layer, x)
    assert ratio.max() < 1 + 1e-5  # no retained mode grows, dropped modes are 0
    unbounded = SpectralFilter(3, [12] * n_dim, bounded=False, cutoff=None)
    _randomise(unbounded, 4.0)
    assert unbounded.gain().abs().max() > 1  # the raw weight does exceed 1: the bound is what holds it


def test_radial_truncation_zeroes_exactly_the_modes_outside_the_disc() -> None:
    torch.manual_seed(1)
    n, cutoff = 32, 6.0
    x = torch.randn(2, 2, n, n)
    k = torch.fft.fftfreq(n, 1.0 / n)
    radius = torch.sqrt(k[:, None] ** 2 + k[None, :] ** 2)
    ky, kx = k[:, None], k[None, :]
    def in_block(ky: torch.Tensor, kx: torch.Tensor) -> torch.Tensor:  # SpectralConv's rectangle of modes
        return (kx >= 0) & (kx <= 8) & (ky >= -8) & (ky <= 7)

    rectangle = in_block(ky, kx) | in_block(-ky, -kx)  # and its mirror image (a real output)
    for layer, inside in ((SpectralFilter(2, [16, 16], cutoff=cutoff), radius <= cutoff),
                          (SpectralFilter(2, [16, 16], cutoff=None), rectangle)):
        ratio, _ = _mode_gain(layer, x)
        kept = ratio > 1e-3  # float32 round-off leaves ~1e-6 in dropped modes; kept gains are ~1/2
        assert torch.equal(kept[0, 0], inside) and torch.equal(kept[1, 1], inside)
    mask = radial_mask((16, 9), cutoff)  # the retained block: ky = -8..7 (shifted), kx = 0..8
    assert int(mask.sum()) == int(((k[:, None] ** 2 + torch.arange(9)[None] ** 2 <= cutoff**2)).sum())


def test_fourier_gate_is_bounded_and_scale_invariant() -> None:
    torch.manual_seed(2)
    gate = FourierGate(4)
    X = torch.randn(3, 4, 8, 5, dtype=torch.cfloat)
    g = gate.gate(X)
    assert g.min() > 0 and g.max() < 1
    torch.testing.assert_close(gate.gate(7.5 * X), g)
    assert (gate(X).abs() <= X.abs()).all()
    assert not torch.allclose(g, g.mean())  # data dependent: the gate varies with the mode's content


def test_spectral_norm_bounds_every_pointwise_layer() -> None:
    torch.manual_seed(3)
    config = StableFNOConfig(width=16, n_modes=8, fourier_nonlinearity=True, residual_mlp=True)
    model = StableFNO(config, in_channels=2, out_channels=1, n_dim=1)
    layers = [m.layer for m in model.blocks.modules() if isinstance(m, Pointwise)]
    assert len(layers) == 2 * config.n_layers  # every 1x1 layer of the Fourier blocks (not the encoder/decoder)
    for layer in layers:
        with torch.no_grad():
            layer.parametrizations.weight.original.mul_(10.0)
        assert torch.linalg.matrix_norm(layer.weight.flatten(1), ord=2) <= 1 + 1e-5
    plain = StableFNO(dataclasses.replace(config, spectral_norm=False), 2, 1, 1)
    sigma = [torch.linalg.matrix_norm(m.layer.weight.flatten(1), ord=2) for m in plain.blocks.modules()
             if isinstance(m, Pointwise)]
    assert max(sigma) > 1  # without the switch the bound is not there


@pytest.mark.parametrize("n_dim", [1, 2])
@pytest.mark.parametrize("name", ["fno", "stable-fno"])
def test_models_build_run_and_use_every_parameter(name: str, n_dim: int) -> None:
    torch.manual_seed(4)
    config = (FNOConfig(width=8, n_modes=6, n_layers=2) if name == "fno"
              else StableFNOConfig(width=8, n_modes=6, n_layers=2, fourier_nonlinearity=True))
    model = build_model(name, config, in_channels=3, out_channels=2, n_dim=n_dim)
    x = torch.randn(2, 3, *([12] * n_dim))
    y = model(x)
    assert y.shape == (2, 2, *([12] * n_dim))
    y.square().mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_every_switch_off_still_builds_and_width_matching() -> None:
    base = StableFNOConfig(width=8, n_modes=6, n_layers=2)
    for switch in ("radial_truncation", "bounded_filter", "spectral_norm", "residual_mlp", "prenorm"):
        model = StableFNO(dataclasses.replace(base, **{switch: not getattr(base, switch)}), 1, 1, 1)
        assert model(torch.randn(1, 1, 16)).shape == (1, 1, 16)
    target = n_params(build_model("fno", FNOConfig(width=16, n_modes=8), 1, 1, 1))
    width = width_for_params(base, target, 1, 1, 1)
    matched = n_params(StableFNO(dataclasses.replace(base, width=width), 1, 1, 1))
    assert abs(matched / target - 1) < 0.1


def test_radial_truncation_is_the_block_in_1d_and_output_filter_bounds_the_state() -> None:
    from solvers.neural_operator.models import OutputFilter

    torch.manual_seed(5)
    disc, block = SpectralFilter(3, [16], cutoff=8.0), SpectralFilter(3, [16], cutoff=None)
    block.load_state_dict(disc.state_dict())
    x = torch.randn(2, 3, 64)
    assert torch.equal(disc(x), block(x))  # the benchmark's 1D ablation relies on this
    out = OutputFilter(2, [32, 32])
    g = out.filter.gain().abs()
    assert g.min() > 0.99 and g.max() < 1  # starts near the identity, bounded
    ratio, _ = _mode_gain(out, torch.randn(1, 2, 32, 32))
    assert ratio.max() < 1 + 1e-5 and ratio[..., 5, 7].min() > 0.99  # every mode is kept, none grows


@pytest.mark.parametrize("n_dim", [1, 2])
def test_dense_filter_is_spectralconv_times_a_bounded_gain(n_dim: int) -> None:
    """spectral_mixing = "dense": Y = g * (W_k X_k), W neuraloperator's dense weight, |g| in (0, 1)."""
    from neuralop.layers.spectral_convolution import SpectralConv

    torch.manual_seed(6)
    layer = DenseSpectralFilter(3, [8] * n_dim, cutoff=None)
    with torch.no_grad():
        w = layer.gain_weight
        w.copy_(torch.complex(4.0 * torch.randn_like(w.real), 4.0 * torch.randn_like(w.real)))
    g = layer.gain()
    assert g.shape == (3, *([8] * (n_dim - 1)), 5) and g.abs().min() > 0 and g.abs().max() < 1
    x = torch.randn(2, 3, *([16] * n_dim))
    plain = SpectralConv(3, 3, [8] * n_dim, bias=False)
    plain.weight.tensor.data.copy_(layer.weight.tensor)
    y, mixed = layer(x), plain(x)
    assert y.shape == x.shape
    dims = tuple(range(2, x.ndim))
    fy, fm = torch.fft.rfftn(y.double(), dim=dims), torch.fft.rfftn(mixed.double(), dim=dims)
    # last-dim modes kx >= 1 (at kx = 0 the inverse real FFT keeps only the Hermitian part)
    kept = fm[..., 1:5].abs() > 1e-3  # the retained block (outside it both are float32 round-off)
    ratio = (fy[..., 1:5].abs() / fm[..., 1:5].abs().clamp_min(1e-12))[kept]
    assert ratio.max() < 1 + 1e-4  # the gain only shrinks what the dense mixing produced
    assert ratio.min() < 0.5  # and does shrink it (gains sigmoid(m), m ~ N(0, 16))
    if n_dim == 1:  # per mode exactly g_{c,k} (W_k X_k)_c
        torch.testing.assert_close(fy[..., 1:5], fm[..., 1:5] * g[:, 1:].to(torch.cdouble), rtol=1e-4, atol=1e-5)
    with torch.no_grad():  # mutation check: channels do mix per mode (a depthwise filter would not)
        e = torch.zeros(1, 3, *([16] * n_dim))
        e[:, 0] = torch.randn(*([16] * n_dim))
    assert layer(e)[:, 1:].abs().max() > 1e-3
    unbounded = DenseSpectralFilter(3, [8] * n_dim, bounded=False, cutoff=None)
    assert unbounded.gain() is None and unbounded.gain_weight is None


@pytest.mark.parametrize("n_dim", [1, 2])
def test_mode_norm_makes_the_dense_filter_non_expansive(n_dim: int) -> None:
    """mode_norm: sigma_max(W_k) <= 1 for every mode, so ||filter(x)|| <= ||x|| for any x;
    without it the same weights amplify."""
    torch.manual_seed(8)
    layer = DenseSpectralFilter(4, [8] * n_dim, cutoff=None, bounded=False, mode_norm=True)
    with torch.no_grad():
        w = layer.weight.tensor
        w.copy_(torch.complex(3.0 * torch.randn_like(w.real), 3.0 * torch.randn_like(w.real)))
    raw = layer.weight.tensor.detach()
    sigma = torch.linalg.matrix_norm(layer.mode_weights(raw).movedim(0, -1).movedim(0, -1), ord=2)
    assert sigma.max() <= 1 + 1e-5 and sigma.min() > 1 - 1e-5  # these weights all had sigma > 1
    small = raw * 1e-3  # modes already inside the bound are left alone
    torch.testing.assert_close(layer.mode_weights(small), small)
    x = torch.randn(8, 4, *([16] * n_dim))
    dims = tuple(range(1, x.ndim))
    growth = lambda: float((torch.linalg.vector_norm(layer(x), dim=dims) / torch.linalg.vector_norm(x, dim=dims)).max())
    assert growth() <= 1 + 1e-5
    layer.mode_norm = False  # mutation check: the same weights unnormalised amplify
    assert growth() > 2
    with pytest.raises(Exception, match="mode_norm bounds the dense per-mode mixing"):
        StableFNOConfig(spectral_mixing="depthwise", mode_norm=True).validate()


def test_dense_mixing_builds_in_1d_and_2d_and_uses_every_parameter() -> None:
    torch.manual_seed(7)
    for n_dim in (1, 2):
        config = StableFNOConfig(width=8, n_modes=6, n_layers=2, spectral_mixing="dense")
        model = StableFNO(config, 3, 2, n_dim)
        assert all(isinstance(b.filter, DenseSpectralFilter) for b in model.blocks)
        y = model(torch.randn(2, 3, *([12] * n_dim)))
        assert y.shape == (2, 2, *([12] * n_dim))
        y.square().mean().backward()
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
        depthwise = StableFNO(dataclasses.replace(config, spectral_mixing="depthwise"), 3, 2, n_dim)
        assert n_params(model) > n_params(depthwise)  # the dense weights: 2 C^2 per mode, not 2 C
    with pytest.raises(Exception, match="spectral_mixing"):
        dataclasses.replace(config, spectral_mixing="diagonal").validate()


@pytest.mark.parametrize("n_dim", [1, 2])
def test_neuralop_blocks_with_every_stabiliser_off_are_fno_exactly(n_dim: int) -> None:
    """blocks=neuralop is fno plus the switches: with them off, fno's weights give fno's output."""
    torch.manual_seed(0)
    off = StableFNOConfig(blocks="neuralop", width=8, n_modes=8, bounded_filter=False, radial_truncation=False,
                          spectral_norm=False, positional_embedding="grid")
    stable = build_model("stable-fno", off, 2, 2, n_dim)
    fno = build_model("fno", FNOConfig(width=8, n_modes=8), 2, 2, n_dim)
    stable.load_state_dict(fno.state_dict(), strict=True)
    x = torch.randn(3, 2, *([16] * n_dim))
    with torch.no_grad():
        torch.testing.assert_close(stable(x), fno(x), rtol=0, atol=0)


def test_neuralop_blocks_bound_their_gains_and_normalise_their_1x1_layers() -> None:
    torch.manual_seed(0)
    model = build_model("stable-fno", StableFNOConfig(blocks="neuralop", width=8, n_modes=8), 1, 1, 2)
    convs = list(model.fno.fno_blocks.convs)
    assert len(convs) == 4 and all(isinstance(c, DenseSpectralFilter) and c.gain_weight is not None for c in convs)
    for conv in convs:
        with torch.no_grad():
            conv.gain_weight.mul_(40)  # push the gains toward their bounds
        g = conv.gain().detach().abs()
        assert float(g.max()) < 1 and float(g[g > 0].min()) > 0
    layers = [m for m in model.fno.fno_blocks.modules() if isinstance(m, torch.nn.Conv1d)]
    assert len(layers) == 4 + 8  # the linear skips and both layers of every channel MLP
    for layer in layers:
        with torch.no_grad():
            layer.parametrizations.weight.original.mul_(50)
        assert float(torch.linalg.matrix_norm(layer.weight.flatten(1), ord=2)) == pytest.approx(1.0, rel=1e-5)
    assert model(torch.randn(2, 1, 12, 12)).shape == (2, 1, 12, 12)


def test_neuralop_blocks_refuse_the_stable_block_switches() -> None:
    from sciml_core.errors import ConfigError

    with pytest.raises(ConfigError, match="model.blocks=neuralop is neuraloperator's FNO blocks"):
        StableFNOConfig(blocks="neuralop", residual_mlp=True).validate()
    with pytest.raises(ConfigError, match="model.blocks must be 'stable' or 'neuralop', got 'fno'"):
        StableFNOConfig(blocks="fno").validate()
