"""The stabilising components of McCabe, Harrington, Subramanian & Brown, "Towards stability
of autoregressive neural operators" (TMLR 2023), each usable alone.

Their diagnosis: an autoregressive FNO's error grows from high-frequency content that its
pointwise nonlinearities create (aliasing) and that nothing damps, step after step.  The
remedies, as layers over neuraloperator's :class:`~neuralop.layers.spectral_convolution.SpectralConv`
(whose FFTs, mode slicing and inverse transform we reuse as they are):

* :class:`SpectralFilter` -- a depthwise spectral filter ``X_{c,k} -> g_{c,k} X_{c,k}``.
  Bounded gain: ``g = sigmoid(m) exp(i phi)`` with the learned magnitude ``m`` and phase
  ``phi`` stored as the real and imaginary parts of SpectralConv's own complex weight, so
  ``0 < |g| < 1`` for every channel and mode.  Isotropic (radial) truncation keeps only the
  modes with ``|k| <= cutoff`` (integer wavenumbers), a disc instead of SpectralConv's
  rectangle of modes.  Optionally a data-dependent :class:`FourierGate` acts on the
  retained coefficients before the filter.
* :class:`FourierGate` -- the nonlinearity in Fourier space: per-mode normalisation over
  channels, ``N = X / rms_c(X)``; complex 1x1 mixing and modReLU,
  ``Z = modReLU(W_1 N)``, ``modReLU(z) = relu(|z| + b) z / |z|``; gated output
  ``Y = sigmoid(Re(W_2 Z) + c) X``.  Per mode it only rescales, so it creates no new
  frequencies and never increases a coefficient's magnitude; being a function of ``N``
  alone, the gate is invariant to the scale of the input (the block stays homogeneous).
* :func:`spectral_normalise` -- Miyato et al.'s spectral normalisation ``W / sigma_max(W)``
  of a 1x1 layer, with the exact largest singular value (``torch.linalg.matrix_norm``, ord 2)
  rather than a power-iteration estimate, so the bound ``sigma_max <= 1`` holds exactly.
* :class:`DenseSpectralFilter` -- the dense alternative (``spectral_mixing = "dense"``):
  neuraloperator's own dense per-mode channel mixing ``(W_k X_k)_c = sum_d W_{k,cd} X_{k,d}``
  (SpectralConv's contraction, unchanged), followed by the bounded depthwise gain,
  ``Y_{c,k} = g_{c,k} (W_k X_k)_c`` with ``g = sigmoid(m) exp(i phi)``.  The gain is bounded,
  the block is not (``W_k`` is free): it buys back vanilla FNO's channel mixing per mode.
* :class:`ResidualChannelMLP` -- ``h + sigmoid(a) MLP(h)``, MLP = 1x1 (width -> ratio *
  width), SiLU, 1x1 (back); a sigmoid-gated residual.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from neuralop.layers.spectral_convolution import SpectralConv
from torch import nn
from torch.nn.utils import parametrize


def kept_wavenumbers(shape: Sequence[int]) -> list[torch.Tensor]:
    """Integer wavenumbers of SpectralConv's retained block of shape ``shape`` (channels
    excluded): leading dims are fft-shifted, ``-(m // 2) .. m - m // 2 - 1``; the last (real
    FFT) dim is ``0 .. m - 1``."""
    *lead, last = shape
    return [torch.arange(-(m // 2), m - m // 2) for m in lead] + [torch.arange(last)]


def radial_mask(shape: Sequence[int], cutoff: float) -> torch.Tensor:
    """Boolean mask over a retained block: True where ``|k| <= cutoff`` (k integer wavenumbers)."""
    grids = torch.meshgrid(*kept_wavenumbers(shape), indexing="ij")
    return sum(g.double() ** 2 for g in grids) <= cutoff**2 + 1e-9


class FourierGate(nn.Module):
    """Data-dependent per-mode gate in Fourier space (see the module docstring)."""

    def __init__(self, channels: int, hidden: int | None = None, eps: float = 1e-6) -> None:
        super().__init__()
        hidden = hidden or channels
        scale = 1.0 / math.sqrt(channels)
        self.w1 = nn.Parameter(torch.randn(hidden, channels, dtype=torch.cfloat) * scale)
        self.b1 = nn.Parameter(torch.zeros(hidden))
        self.w2 = nn.Parameter(torch.randn(channels, hidden, dtype=torch.cfloat) / math.sqrt(hidden))
        self.c = nn.Parameter(torch.full((channels,), 2.0))  # starts near the identity (gate ~0.88)
        self.eps = eps

    def gate(self, X: torch.Tensor) -> torch.Tensor:
        """The real gate in (0, 1), shape of ``X`` (batch, channels, *modes)."""
        rms = torch.sqrt((X.real**2 + X.imag**2).mean(1, keepdim=True) + self.eps)
        N = X / rms
        Z = torch.einsum("hc,bc...->bh...", self.w1.to(X.dtype), N)
        mag = torch.abs(Z)
        shape = (1, -1) + (1,) * (X.ndim - 2)
        Z = torch.relu(mag + self.b1.view(shape)) * Z / (mag + self.eps)
        logits = torch.einsum("ch,bh...->bc...", self.w2.to(X.dtype), Z).real + self.c.view(shape)
        return torch.sigmoid(logits)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.gate(X) * X


class SpectralFilter(SpectralConv):
    """Depthwise spectral filter on SpectralConv's transforms (see the module docstring).

    ``bounded``: gain ``sigmoid(Re w) exp(i Im w)`` (else the raw complex weight ``w``);
    ``cutoff``: radial truncation radius in integer wavenumbers (None: SpectralConv's
    rectangular block); ``gate``: a :class:`FourierGate` applied before the filter.
    """

    def __init__(self, channels: int, n_modes: Sequence[int], *, bounded: bool = True,
                 cutoff: float | None = None, gate: bool = False) -> None:
        super().__init__(channels, channels, list(n_modes), separable=True, bias=False)
        self.bounded, self.cutoff = bounded, cutoff
        self.fourier_gate = FourierGate(channels) if gate else None
        with torch.no_grad():  # bounded: gain sigmoid(0) = 1/2, phase 0, plus a little noise
            w = self.weight.tensor
            w.copy_(torch.complex(0.1 * torch.randn_like(w.real), 0.1 * torch.randn_like(w.real)) if bounded
                    else torch.complex(0.5 + 0.1 * torch.randn_like(w.real), 0.1 * torch.randn_like(w.real)))
        self._contract = self._filter  # SpectralConv's hook for the per-mode product
        self._masks: dict[tuple[int, ...], torch.Tensor] = {}

    def gain(self, weight: torch.Tensor | None = None) -> torch.Tensor:
        """Complex gain per (channel, retained mode), radial mask applied."""
        w = self.weight.to_tensor() if weight is None else weight
        g = bounded_gain(w) if self.bounded else w
        if self.cutoff is not None:
            shape = tuple(g.shape[1:])
            if shape not in self._masks:
                self._masks[shape] = radial_mask(shape, self.cutoff)
            g = g * self._masks[shape].to(g.device)
        return g

    def _filter(self, x: torch.Tensor, weight: torch.Tensor, separable: bool = True) -> torch.Tensor:
        if not torch.is_tensor(weight):
            weight = weight.to_tensor()
        if self.fourier_gate is not None:
            x = self.fourier_gate(x)
        return x * self.gain(weight).to(x.dtype)


def bounded_gain(weight: torch.Tensor) -> torch.Tensor:
    """``sigmoid(Re w) exp(i Im w)``: a complex gain of modulus strictly inside (0, 1)."""
    return torch.polar(torch.sigmoid(weight.real), weight.imag)


def crop_modes(t: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """The centre of ``t``'s (fft-shifted) leading mode dims and the first entries of its last
    (real FFT) dim, to ``shape``: SpectralConv's slicing of its weight when the input has fewer
    modes than the layer keeps."""
    if tuple(t.shape[1:]) == tuple(shape):
        return t
    *lead, last = shape
    slices = [slice(None)]
    for have, want in zip(t.shape[1:-1], lead):
        start = have // 2 - want // 2
        slices.append(slice(start, start + want))
    return t[tuple(slices) + (slice(0, last),)]


class DenseSpectralFilter(SpectralConv):
    """neuraloperator's dense spectral convolution followed by a bounded depthwise gain.

    ``Y_{c,k} = g_{c,k} sum_d W_{k,cd} X_{k,d}``: ``W`` is SpectralConv's own dense complex
    weight (in, out, *modes), contracted by its own ``_contract_dense``; ``g`` is the
    :func:`bounded_gain` of a second complex weight (``bounded``; else ``g = 1``, i.e. plain
    SpectralConv).  ``cutoff`` and ``gate`` as in :class:`SpectralFilter` (the gate acts on
    the retained coefficients before the mixing).  ``mode_norm``: every mode's channel matrix
    is used as ``W_k / max(1, sigma_max(W_k))`` (exact SVD norm), so ``||W_k X_k|| <= ||X_k||``
    per mode and, with ``|g| < 1``, the whole filter is non-expansive in L2 (Parseval): the
    dense analogue of the depthwise design's bound.
    """

    def __init__(self, channels: int, n_modes: Sequence[int], *, bounded: bool = True,
                 cutoff: float | None = None, gate: bool = False, bias: bool = False,
                 mode_norm: bool = False) -> None:
        super().__init__(channels, channels, list(n_modes), separable=False, bias=bias)
        self.bounded, self.cutoff, self.mode_norm = bounded, cutoff, mode_norm
        self.fourier_gate = FourierGate(channels) if gate else None
        self.gain_weight = None
        if bounded:  # gain sigmoid(0) = 1/2, phase 0, plus a little noise
            shape = (channels, *self.weight.shape[2:])
            self.gain_weight = nn.Parameter(torch.complex(0.1 * torch.randn(shape), 0.1 * torch.randn(shape)))
        self._mix = self._contract  # SpectralConv's dense contraction
        self._contract = self._mix_then_gain
        self._masks: dict[tuple[int, ...], torch.Tensor] = {}

    def gain(self, shape: Sequence[int] | None = None) -> torch.Tensor | None:
        """The complex gain per (channel, retained mode) (radial mask applied), cropped to
        ``shape``; None when neither bounded nor truncated."""
        shape = tuple(self.weight.shape[2:] if shape is None else shape)
        g = bounded_gain(crop_modes(self.gain_weight, shape)) if self.gain_weight is not None else None
        if self.cutoff is not None:
            if shape not in self._masks:
                self._masks[shape] = radial_mask(shape, self.cutoff)
            mask = self._masks[shape].to(self.weight.tensor.device)
            g = mask.to(torch.cfloat).expand(self.out_channels, *shape) if g is None else g * mask
        return g

    def mode_weights(self, weight: Any) -> torch.Tensor:
        """The (in, out, *modes) complex weights the contraction uses (``mode_norm`` applied)."""
        w = weight if torch.is_tensor(weight) else weight.to_tensor()
        if not self.mode_norm:
            return w
        sigma = torch.linalg.matrix_norm(w.movedim(0, -1).movedim(0, -1), ord=2)  # (*modes): over (in, out)
        return w / sigma.clamp_min(1.0)

    def _mix_then_gain(self, x: torch.Tensor, weight: torch.Tensor, separable: bool = False) -> torch.Tensor:
        if self.fourier_gate is not None:
            x = self.fourier_gate(x)
        y = self._mix(x, self.mode_weights(weight), separable=False)
        g = self.gain(y.shape[2:])
        return y if g is None else y * g.to(y.dtype)


class _SpectralNorm(nn.Module):
    """Parametrization ``W -> W / sigma_max(W)`` over ``W`` flattened to (out, in * kernel)."""

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return weight / torch.linalg.matrix_norm(weight.flatten(1), ord=2)


def spectral_normalise(layer: nn.Module) -> nn.Module:
    """Register exact spectral normalisation on ``layer.weight`` (returns the layer)."""
    parametrize.register_parametrization(layer, "weight", _SpectralNorm())
    return layer


class Pointwise(nn.Module):
    """A 1x1 layer on ``(batch, channels, *space)`` of any spatial rank (a Conv1d over the
    flattened space, as neuraloperator's ChannelMLP), optionally spectrally normalised."""

    def __init__(self, c_in: int, c_out: int, normalise: bool) -> None:
        super().__init__()
        self.layer = nn.Conv1d(c_in, c_out, 1)
        if normalise:
            spectral_normalise(self.layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, *space = x.shape
        return self.layer(x.reshape(b, x.shape[1], -1)).reshape(b, -1, *space)


class ChannelNorm(nn.Module):
    """Layer normalisation over the channels at every grid point, with a learned affine map
    (translation equivariant; keeps the hidden activations O(1) between 1x1 layers of norm 1)."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.weight, self.bias = nn.Parameter(torch.ones(channels)), nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        mean, var = h.mean(1, keepdim=True), h.var(1, keepdim=True, unbiased=False)
        shape = (1, -1) + (1,) * (h.ndim - 2)
        return (h - mean) * torch.rsqrt(var + self.eps) * self.weight.view(shape) + self.bias.view(shape)


class ResidualChannelMLP(nn.Module):
    """``h + sigmoid(a) * W_2 silu(W_1 norm(h))``, W_1: width -> ratio * width (1x1 layers);
    ``norm`` a :class:`ChannelNorm` with ``prenorm`` (pre-norm residual block), else identity."""

    def __init__(self, width: int, ratio: float = 4.0, normalise: bool = True, prenorm: bool = False) -> None:
        super().__init__()
        hidden = max(1, round(ratio * width))
        self.norm = ChannelNorm(width) if prenorm else nn.Identity()
        self.fc1 = Pointwise(width, hidden, normalise)
        self.fc2 = Pointwise(hidden, width, normalise)
        self.gate = nn.Parameter(torch.zeros(1))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + torch.sigmoid(self.gate) * self.fc2(nn.functional.silu(self.fc1(self.norm(h))))
