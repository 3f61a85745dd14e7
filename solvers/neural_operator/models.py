"""The two models, built by name from typed configs: ``fno`` and ``stable-fno``.

* ``fno`` -- neuraloperator's :class:`~neuralop.models.FNO` exactly as it ships (lifting
  ChannelMLP, ``n_layers`` Fourier blocks with dense spectral weights, linear skips and
  channel MLPs, GELU, projection ChannelMLP, a [0, 1] grid embedding), Li et al. (ICLR 2021).
* ``stable-fno`` -- :class:`StableFNO`, the stabilised design of McCabe et al. (TMLR 2023)
  from the layers in :mod:`.layers`; every stabiliser is a switch of
  :class:`StableFNOConfig`, so an ablation is one config change::

      lift:    h = P_2 silu(P_1 [x, e(x)])                  e: positional embedding
      block:   s = F^-1[ g_{c,k} * G(F n(h))_{c,k} ]         depthwise filter, |k| <= cutoff
               (``spectral_mixing = "dense"``: s = F^-1[ g_{c,k} (W_k G(F n(h))_k)_c ], W_k dense)
               residual_mlp:  h = h + sigmoid(a) s;  h = h + sigmoid(b) W_2 silu(W_1 n(h))
               otherwise:     h = silu(W h + s)               (the FNO block form)
      project: y = Q_2 silu(Q_1 h)
      output:  u_{t+1} = F^-1[ r_k * F(u_t + d * y)_k ]       (``output_filter``; see the solver)

  with ``g`` bounded (``bounded_filter``), the disc truncation (``radial_truncation``), the
  Fourier gate ``G`` (``fourier_nonlinearity``, identity when off), the blocks' 1x1 layers
  ``W`` spectrally normalised (``spectral_norm``), ``n`` a channel layer norm (``prenorm``)
  and ``r`` the bounded filter once more on the predicted state (``output_filter``).
  Defaults (:class:`StableFNOConfig`): dense mixing in the FNO block form, no layer norm.  On
  KS L = 22 the periodic embedding ``e`` matters for stability: the same blocks with fno's
  [0, 1] ramp (a jump at the periodic boundary) blew up at step 2141 of 10000, with the
  periodic one they did not (``docs/neural_operator.md``).
  Measured on KS L = 22 (300 Adam steps, width 72): with the encoder and decoder ``P, Q``
  normalised too the model stayed at the persistence loss (one-step rel L2 0.044, the data's
  own step 0.047); with the blocks' layers only and the pre-norm it reached 0.017.

Parameters are counted as real numbers (a complex weight counts twice), as neuraloperator's
``count_model_params`` does; :func:`width_for_params` picks the ``stable-fno`` width whose
count is closest to a target (for comparisons at equal size).
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch
from neuralop.models import FNO
from neuralop.utils import count_model_params
from torch import nn

from sciml_core.errors import ConfigError

from .configs import FNOConfig, StableFNOConfig
from .layers import ChannelNorm, DenseSpectralFilter, Pointwise, ResidualChannelMLP, SpectralFilter, spectral_normalise

def periodic_embedding(x: torch.Tensor) -> torch.Tensor:
    """Append ``cos(2 pi i / n_d), sin(2 pi i / n_d)`` per spatial dim d (i the grid index):
    position on a periodic box without the jump of a linear ramp."""
    b, _, *space = x.shape
    extra = []
    for d, n in enumerate(space):
        phase = 2 * math.pi * torch.arange(n, device=x.device, dtype=x.dtype) / n
        shape = [1, 1] + [1] * len(space)
        shape[2 + d] = n
        for fn in (torch.cos, torch.sin):
            extra.append(fn(phase).view(shape).expand(b, 1, *space))
    return torch.cat([x, *extra], dim=1)


class StableBlock(nn.Module):
    """One stabilised Fourier block (see the module docstring)."""

    def __init__(self, c: StableFNOConfig, n_dim: int) -> None:
        super().__init__()
        cutoff = c.truncation_radius
        layer = DenseSpectralFilter if c.spectral_mixing == "dense" else SpectralFilter
        dense = {"mode_norm": c.mode_norm} if c.spectral_mixing == "dense" else {}
        self.filter = layer(c.width, [c.n_modes] * n_dim, bounded=c.bounded_filter, cutoff=cutoff,
                            gate=c.fourier_nonlinearity, **dense)
        if c.residual_mlp:
            self.gate = nn.Parameter(torch.zeros(1))
            self.mlp = ResidualChannelMLP(c.width, c.mlp_ratio, c.spectral_norm, c.prenorm)
        else:
            self.skip = Pointwise(c.width, c.width, c.spectral_norm)
        self.residual = c.residual_mlp
        self.norm = ChannelNorm(c.width) if c.prenorm else nn.Identity()

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        s = self.filter(self.norm(h))
        if self.residual:
            return self.mlp(h + torch.sigmoid(self.gate) * s)
        return nn.functional.silu(self.skip(h) + s)


class StableFNO(nn.Module):
    """Stabilised FNO, ``(batch, in_channels, *space)`` -> ``(batch, out_channels, *space)``."""

    def __init__(self, config: StableFNOConfig, in_channels: int, out_channels: int, n_dim: int) -> None:
        super().__init__()
        c = self.config = config
        self.embedding = c.positional_embedding
        extra = {"periodic": 2 * n_dim, "grid": n_dim, "none": 0}[c.positional_embedding]
        # the encoder and decoder are not normalised: with them normalised too the KS model sat at
        # the persistence loss for 300 steps (its output could not reach the increments' scale)
        self.lift = nn.Sequential(Pointwise(in_channels + extra, 2 * c.width, False), nn.SiLU(),
                                  Pointwise(2 * c.width, c.width, False))
        self.blocks = nn.ModuleList(StableBlock(c, n_dim) for _ in range(c.n_layers))
        self.project = nn.Sequential(Pointwise(c.width, 2 * c.width, False), nn.SiLU(),
                                     Pointwise(2 * c.width, out_channels, False))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        if self.embedding == "periodic":
            return periodic_embedding(x)
        if self.embedding == "grid":
            grids = torch.meshgrid(*(torch.linspace(0, 1, n + 1, device=x.device, dtype=x.dtype)[:-1]
                                     for n in x.shape[2:]), indexing="ij")
            return torch.cat([x, *(g.expand(x.shape[0], 1, *g.shape) for g in grids)], dim=1)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.lift(self.embed(x))
        for block in self.blocks:
            h = block(h)
        return self.project(h)


class _PeriodicFNO(nn.Module):
    """neuraloperator's FNO on the input with :func:`periodic_embedding` appended."""

    def __init__(self, fno: nn.Module) -> None:
        super().__init__()
        self.fno = fno

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fno(periodic_embedding(x))


def stabilised_neuralop_fno(c: StableFNOConfig, in_channels: int, out_channels: int, n_dim: int) -> nn.Module:
    """``blocks = "neuralop"``: neuraloperator's ``FNO`` exactly as ``fno`` builds it, with each
    block's SpectralConv replaced by :class:`DenseSpectralFilter` (the same dense weights, then
    the bounded gain, radial truncation and Fourier gate as switched) and, with
    ``spectral_norm``, every 1x1 layer of its blocks (linear skips, channel MLPs) normalised."""
    extra = {"periodic": 2 * n_dim, "grid": 0, "none": 0}[c.positional_embedding]
    embedding = "grid" if c.positional_embedding == "grid" else "none"
    fno = build_model("fno", FNOConfig(width=c.width, n_layers=c.n_layers, n_modes=c.n_modes,
                                       positional_embedding=embedding), in_channels + extra, out_channels, n_dim)
    fno.fno_blocks.convs = nn.ModuleList(
        DenseSpectralFilter(c.width, [c.n_modes] * n_dim, bounded=c.bounded_filter, cutoff=c.truncation_radius,
                            gate=c.fourier_nonlinearity, bias=True, mode_norm=c.mode_norm) for _ in range(c.n_layers))
    if c.spectral_norm:
        for layer in [*fno.fno_blocks.fno_skips.modules(), *fno.fno_blocks.channel_mlp.modules()]:
            if isinstance(layer, nn.Conv1d):
                spectral_normalise(layer)
    return _PeriodicFNO(fno) if c.positional_embedding == "periodic" else fno


class OutputFilter(nn.Module):
    """The bounded depthwise filter on the predicted *state*, over every mode of the grid:
    ``u_{t+1} = F^-1[g_k F(u_t + d * net)]``, ``g = sigmoid(m) exp(i phi)``, per channel.

    With a residual target the state's own high modes pass through the residual connection
    unfiltered, and whatever the network adds there accumulates step after step; a bounded
    gain on the state lets the model damp them (KS damps mode k by exp((k^2 - k^4) dt)).  The
    gains start near 1 (``sigmoid(5)``), so the initial model is the residual one.
    """

    def __init__(self, channels: int, grid: list[int]) -> None:
        super().__init__()
        self.filter = SpectralFilter(channels, grid, bounded=True, cutoff=None)
        with torch.no_grad():
            self.filter.weight.tensor.copy_(torch.complex(torch.full_like(self.filter.weight.tensor.real, 5.0),
                                                          torch.zeros_like(self.filter.weight.tensor.real)))

    @torch.no_grad()
    def fit(self, trajectories: torch.Tensor, horizon: int, eps: float = 1e-3) -> None:
        """Start from the best per-mode linear map of the data: for output frame j and channel
        c, ``g_k = sum Y_k conj(X_k) / sum |X_k|^2`` (X: frame t, Y: frame t + j, over every
        training pair), its magnitude clipped to [eps, 1 - eps]."""
        n_space = trajectories.ndim - 3
        dims = tuple(range(-n_space, 0))
        gains = []
        for j in range(1, horizon + 1):
            X = torch.fft.rfftn(trajectories[:, :-j].double(), dim=dims)
            Y = torch.fft.rfftn(trajectories[:, j:].double(), dim=dims)
            ratio = (Y * X.conj()).sum(dim=(0, 1)) / (X.abs() ** 2).sum(dim=(0, 1)).clamp_min(1e-30)  # (C, *k)
            gains.append(ratio)
        g = torch.cat(gains)  # (H * C, *k), channel order j * C + c
        if n_space > 1:
            g = torch.fft.fftshift(g, dim=tuple(range(1, n_space)))  # SpectralConv's order of leading dims
        mag = g.abs().clamp(eps, 1 - eps)
        w = self.filter.weight.tensor
        w.copy_(torch.complex(torch.log(mag / (1 - mag)), torch.angle(g)).to(w.dtype))

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return self.filter(u)


MODELS: dict[str, type] = {"fno": FNOConfig, "stable-fno": StableFNOConfig}


def build_model(name: str, config: FNOConfig | StableFNOConfig, in_channels: int, out_channels: int,
                n_dim: int) -> nn.Module:
    """The model ``name`` (``fno`` or ``stable-fno``) for ``n_dim`` spatial dims."""
    if n_dim not in (1, 2):
        raise ConfigError(f"{name}: 1D or 2D data expected, got {n_dim} spatial dims")
    if name == "fno":
        return FNO(n_modes=(config.n_modes,) * n_dim, in_channels=in_channels, out_channels=out_channels,
                   hidden_channels=config.width, n_layers=config.n_layers,
                   positional_embedding="grid" if config.positional_embedding == "grid" else None)
    if name == "stable-fno" and config.blocks == "neuralop":
        return stabilised_neuralop_fno(config, in_channels, out_channels, n_dim)
    if name == "stable-fno":
        return StableFNO(config, in_channels, out_channels, n_dim)
    from sciml_core.registry import unknown_name_error

    raise unknown_name_error("model", name, list(MODELS))


def n_params(model: nn.Module) -> int:
    """Real parameters (complex ones count twice), neuraloperator's convention."""
    return int(count_model_params(model))


def width_for_params(config: StableFNOConfig, target: int, in_channels: int, out_channels: int,
                     n_dim: int) -> int:
    """The ``stable-fno`` width whose parameter count is closest to ``target``."""
    def count(width: int) -> int:
        return n_params(build_model("stable-fno", replace(config, width=width), in_channels, out_channels, n_dim))

    lo, hi = 1, 8
    while count(hi) < target:
        lo, hi = hi, 2 * hi
    while hi - lo > 1:  # the count grows with the width
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if count(mid) < target else (lo, mid)
    return min((lo, hi), key=lambda w: abs(count(w) - target))
