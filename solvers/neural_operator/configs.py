"""The model configs of ``fno`` and ``stable-fno`` (see :mod:`.models` for the designs).

Kept apart from the models so that building a solver's config (``sciml list``, config
files) does not import neuraloperator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sciml_core.errors import ConfigError

Embedding = Literal["grid", "periodic", "none"]
Mixing = Literal["depthwise", "dense"]


@dataclass
class FNOConfig:
    """neuraloperator FNO: ``width`` hidden channels, ``n_layers`` blocks, ``n_modes`` modes per
    dim (the last dim keeps ``n_modes // 2 + 1``), ``positional_embedding`` grid or none."""

    width: int = 48
    n_layers: int = 4
    n_modes: int = 16
    positional_embedding: Literal["grid", "none"] = "grid"

    def validate(self) -> None:
        if min(self.width, self.n_layers, self.n_modes) < 1:
            raise ConfigError("model.width, model.n_layers and model.n_modes must be >= 1")


@dataclass
class StableFNOConfig:
    """Stabilised FNO (module docstring).  ``cutoff``: radial truncation radius in integer
    wavenumbers (None: ``n_modes // 2``, the disc inscribed in the retained block);
    ``mlp_ratio``: hidden width of the residual channel MLPs over ``width``; ``output_filter``:
    the bounded depthwise filter applied once more to the predicted state, over every resolved
    mode (see :class:`~.models.OutputFilter`); ``prenorm``: a channel layer norm before the
    filter and before the MLP of every block (pre-norm residual blocks); ``spectral_mixing``:
    ``depthwise`` (one gain per channel and mode, :class:`~.layers.SpectralFilter`) or
    ``dense`` (neuraloperator's dense per-mode channel mixing, then the bounded gain,
    :class:`~.layers.DenseSpectralFilter`); ``blocks``: ``stable`` (:class:`~.models.StableFNO`'s
    lift, blocks and projection) or ``neuralop`` (neuraloperator's ``FNO`` as ``fno`` builds it,
    its spectral convolutions replaced by :class:`~.layers.DenseSpectralFilter` and, with
    ``spectral_norm``, its 1x1 skips and channel-MLP layers normalised: ``fno`` plus the
    stabilisers and nothing else); ``mode_norm``: dense mixing only, each mode's channel
    matrix divided by max(1, its largest singular value) (:class:`~.layers.DenseSpectralFilter`).

    Defaults (measured on KS L = 22, ``docs/neural_operator.md``): dense mixing in the FNO
    block form ``silu(W h + s)`` (``residual_mlp`` and ``prenorm`` off), spectral norm, the
    bounded gain and the output filter on: one-step rel L2 4.4-4.5e-4 against the depthwise
    design's 2.5e-3, no blow-up in 10000 steps.  With the channel layer norm on and dense
    mixing the rollouts blew up (steps 71-108)."""

    width: int = 48
    n_layers: int = 4
    n_modes: int = 16
    cutoff: float | None = None
    mlp_ratio: float = 4.0
    radial_truncation: bool = True
    bounded_filter: bool = True
    fourier_nonlinearity: bool = False
    spectral_norm: bool = True
    residual_mlp: bool = False
    output_filter: bool = True
    prenorm: bool = False
    spectral_mixing: Mixing = "dense"
    positional_embedding: Embedding = "periodic"
    blocks: Literal["stable", "neuralop"] = "stable"
    mode_norm: bool = False

    @property
    def truncation_radius(self) -> float | None:
        """The radial truncation radius the blocks use (None: ``radial_truncation`` off)."""
        if not self.radial_truncation:
            return None
        return self.cutoff if self.cutoff is not None else self.n_modes // 2

    def validate(self) -> None:
        if min(self.width, self.n_layers, self.n_modes) < 1:
            raise ConfigError("model.width, model.n_layers and model.n_modes must be >= 1")
        if self.cutoff is not None and not self.cutoff > 0:
            raise ConfigError(f"model.cutoff must be positive, got {self.cutoff}")
        if not self.mlp_ratio > 0:
            raise ConfigError(f"model.mlp_ratio must be positive, got {self.mlp_ratio}")
        if self.blocks not in ("stable", "neuralop"):
            raise ConfigError(f"model.blocks must be 'stable' or 'neuralop', got {self.blocks!r}")
        if self.blocks == "neuralop" and (self.spectral_mixing != "dense" or self.residual_mlp or self.prenorm):
            raise ConfigError("model.blocks=neuralop is neuraloperator's FNO blocks (dense mixing, its own channel "
                              "MLPs, no pre-norm): set spectral_mixing=dense, residual_mlp=false, prenorm=false")
        if self.spectral_mixing not in ("depthwise", "dense"):
            raise ConfigError(f"model.spectral_mixing must be 'depthwise' or 'dense', got {self.spectral_mixing!r}")
        if self.mode_norm and self.spectral_mixing != "dense":
            raise ConfigError("model.mode_norm bounds the dense per-mode mixing: set spectral_mixing=dense "
                              "(the depthwise gains are bounded already)")
