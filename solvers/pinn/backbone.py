"""The trunk shared by the Lagrangian and stream-function networks: fixed input embeddings,
optional trainable Fourier features (``model.fourier_features``), then an MLP or modified MLP
(``model.arch``) from :mod:`sciml_core.nn`."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from sciml_core.nn import MLP, FourierFeatures, ModifiedMLP

from .network import ModelConfig


def trunk(embeddings: Sequence[nn.Module], width: int, out_features: int,
          model: ModelConfig) -> tuple[nn.ModuleList, nn.Module]:
    """(embedding layers, backbone) for inputs of ``width`` features entering ``embeddings``
    (each with an ``out_features``), ending in ``out_features`` outputs."""
    layers = list(embeddings)
    for layer in layers:
        width = layer.out_features
    if model.fourier_features:
        layers.append(FourierFeatures(width, model.fourier_features, model.fourier_sigma))
        width = layers[-1].out_features
    backbone = ModifiedMLP if model.arch == "modified" else MLP
    return nn.ModuleList(layers), backbone(width, out_features, model.width, model.depth, model.activation,
                                           model.factorize)
