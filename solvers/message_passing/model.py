"""The MP-PDE network of Brandstetter, Worrall & Welling, "Message passing neural PDE solvers" (ICLR 2022).

On a graph of the grid points, with ``u_i`` the last K frames at node i, ``v_i`` the
variables (time of the first predicted frame t/T and the PDE parameters) and Swish = SiLU:

    encoder     f_i = eps([u_i, x_i / L, v_i])                               (2-layer MLP)
    processor   m_i = mean_{j in N(i)} phi([f_i, f_j, u_i - u_j, (x_i - x_j) / L, v_i])
                f_i <- InstanceNorm(f_i + psi([f_i, m_i, v_i]))               (6 layers, 2-layer MLPs)
    decoder     d_i = Conv1d(8 -> 1, k) Swish Conv1d(1 -> 8, 16, stride 3) (f_i)   (K outputs)
                u_i^{k+j} = u_i^k + (j dt) d_ij,  j = 1..K                    (temporal bundling)

The first layer of phi is linear in its concatenated input, so it is applied per node
(``W_i f_i + W_u u_i + W_v v_i`` for targets, ``W_j f_j - W_u u_j`` for sources) and only summed
per edge: the same function as the concatenation, at a fraction of the cost.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sciml_core.errors import ConfigError

from .graph import Graph


def mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    """Linear -> Swish -> Linear -> Swish (the paper's MLPs end in a Swish too)."""
    return nn.Sequential(nn.Linear(n_in, hidden), nn.SiLU(), nn.Linear(hidden, n_out), nn.SiLU())


class ProcessorLayer(nn.Module):
    """One message-passing layer: edge messages, mean aggregation, residual update, InstanceNorm."""

    def __init__(self, hidden: int, window: int, n_vars: int) -> None:
        super().__init__()
        self.hidden, self.window = hidden, window
        self.message_in = nn.Linear(2 * hidden + window + 1 + n_vars, hidden)
        self.message_out = nn.Sequential(nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU())
        self.update = mlp(2 * hidden + n_vars, hidden, hidden)

    def forward(self, f: torch.Tensor, u: torch.Tensor, v: torch.Tensor, graph: Graph, length: float) -> torch.Tensor:
        """``f`` (B, N, H), ``u`` (B, N, K), ``v`` (B, N, V) -> the new features (B, N, H)."""
        H, K = self.hidden, self.window
        w, b = self.message_in.weight, self.message_in.bias
        w_i, w_j, w_u, w_x, w_v = w[:, :H], w[:, H:2 * H], w[:, 2 * H:2 * H + K], w[:, 2 * H + K], w[:, 2 * H + K + 1:]
        target = f @ w_i.T + u @ w_u.T + v @ w_v.T + b
        source = f @ w_j.T - u @ w_u.T
        pre = target.index_select(1, graph.dst) + source.index_select(1, graph.src) \
            + (graph.offset / length)[:, None] * w_x
        messages = self.message_out(pre)  # (B, E, H)
        f = f + self.update(torch.cat([f, graph.mean(messages), v], dim=-1))
        return F.instance_norm(f.transpose(1, 2)).transpose(1, 2)


class MPPDE(nn.Module):
    """Encoder, ``layers`` processor layers, 1-D convolutional decoder of K bundled frames."""

    def __init__(self, window: int, n_params: int, hidden: int = 128, layers: int = 6) -> None:
        super().__init__()
        n_vars = 1 + n_params  # time and the PDE parameters
        self.window = window
        self.encoder = mlp(window + 1 + n_vars, hidden, hidden)
        self.processor = nn.ModuleList(ProcessorLayer(hidden, window, n_vars) for _ in range(layers))
        conv_len = (hidden - 16) // 3 + 1
        if conv_len < window:
            raise ConfigError(f"model.hidden = {hidden} is too small for the decoder to give {window} frames "
                              f"(it needs (hidden - 16) // 3 + 1 >= window)")
        self.decoder = nn.Sequential(nn.Conv1d(1, 8, 16, stride=3), nn.SiLU(), nn.Conv1d(8, 1, conv_len - window + 1))

    def forward(self, u: torch.Tensor, x: torch.Tensor, t: torch.Tensor, params: torch.Tensor, graph: Graph,
                length: float, dt: float) -> torch.Tensor:
        """``u`` (B, N, K) last frames, ``x`` (N,) positions, ``t`` (B,) normalised time of the first
        frame to produce, ``params`` (B, P) -> the next K frames (B, N, K)."""
        B, N, K = u.shape
        v = torch.cat([t[:, None], params], dim=1)[:, None, :].expand(B, N, -1)
        pos = (x / length)[None, :, None].expand(B, N, 1)
        f = self.encoder(torch.cat([u, pos, v], dim=-1))
        for layer in self.processor:
            f = layer(f, u, v, graph, length)
        d = self.decoder(f.reshape(B * N, 1, -1)).reshape(B, N, K)
        steps = dt * torch.arange(1, K + 1, dtype=u.dtype, device=u.device)
        return u[:, :, -1:] + steps * d
