"""Is torch_geometric worth it for MP-PDE? One processor layer, ours (plain torch) vs PyG's MessagePassing.

Same maths in both: messages phi([h_i, h_j, u_i - u_j, x_i - x_j, v_i]) (2-layer Swish MLP),
mean aggregation, residual update psi, InstanceNorm; the E1 training shape (batch 16, nx =
100, 3 neighbours per side: 9600 edges, hidden 128, K = 25).  PyG is given the batch as one
big graph (its convention) with its ``MessagePassing(aggr="mean")`` and ``InstanceNorm``;
ours uses one shared edge list, per-node first-layer products and ``index_add_``.  Forward +
backward per layer, one thread, interleaved rounds, median.

    python benchmarks/mp_graph_backends.py [--quick]

Needs ``pip install torch_geometric`` (not a dependency of this project); writes
``benchmarks/results/mp_graph_backends.json`` (``ours_ms``, ``pyg_ms``, ``ratio``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table, write_results

from solvers.message_passing.graph import radius_graph
from solvers.message_passing.model import ProcessorLayer, mlp


def pyg_layer(hidden: int, window: int, n_vars: int) -> nn.Module:
    from torch_geometric.nn import InstanceNorm, MessagePassing

    class Layer(MessagePassing):
        def __init__(self) -> None:
            super().__init__(node_dim=-2, aggr="mean")
            self.message_net = nn.Sequential(nn.Linear(2 * hidden + window + 1 + n_vars, hidden), nn.SiLU(),
                                             nn.Linear(hidden, hidden), nn.SiLU())
            self.update_net = mlp(2 * hidden + n_vars, hidden, hidden)
            self.norm = InstanceNorm(hidden)

        def forward(self, x, u, pos, v, edge_index, batch):  # noqa: ANN001, ANN201
            return self.norm(self.propagate(edge_index, x=x, u=u, pos=pos, v=v), batch)

        def message(self, x_i, x_j, u_i, u_j, pos_i, pos_j, v_i):  # noqa: ANN001, ANN201
            return self.message_net(torch.cat((x_i, x_j, u_i - u_j, pos_i - pos_j, v_i), dim=-1))

        def update(self, message, x, v):  # noqa: ANN001, ANN201
            return x + self.update_net(torch.cat((x, message, v), dim=-1))

    return Layer()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    B, N, H, K, V = (4, 50, 32, 5, 1) if args.quick else (16, 100, 128, 25, 1)
    x = np.arange(N) * 16.0 / N
    graph = radius_graph(x, 3 * 16.0 / N * (1 + 1e-6), 16.0).to("cpu", torch.float32)
    ours = ProcessorLayer(H, K, V)
    pyg = pyg_layer(H, K, V)
    f, u, v = torch.randn(B, N, H), torch.randn(B, N, K), torch.randn(B, N, V)
    offsets = (torch.arange(B) * N)[:, None]
    edge_index = torch.stack([(graph.src[None] + offsets).reshape(-1), (graph.dst[None] + offsets).reshape(-1)])
    pos = torch.as_tensor(x, dtype=torch.float32).repeat(B)[:, None] / 16.0
    batch = torch.arange(B).repeat_interleave(N)

    def run_ours() -> None:
        ours(f.requires_grad_(), u, v, graph, 16.0).sum().backward()

    def run_pyg() -> None:
        pyg(f.reshape(B * N, H).detach().requires_grad_(), u.reshape(B * N, K), pos, v.reshape(B * N, V),
            edge_index, batch).sum().backward()

    times: dict[str, list[float]] = {"ours": [], "pyg": []}
    for fn in (run_ours, run_pyg):
        fn()
    for _ in range(3 if args.quick else 15):
        for name, fn in (("ours", run_ours), ("pyg", run_pyg)):
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    ours_ms, pyg_ms = (1e3 * statistics.median(times[k]) for k in ("ours", "pyg"))
    import torch_geometric

    results = {"ours_ms": ours_ms, "pyg_ms": pyg_ms, "ratio": pyg_ms / ours_ms, "edges": int(edge_index.shape[1]),
               "batch": B, "nodes": N, "hidden": H, "torch_geometric": torch_geometric.__version__}
    print_table([["plain torch (ours)", ours_ms], ["torch_geometric MessagePassing", pyg_ms]],
                ["processor layer fwd+bwd", "ms (median)"])
    print(f"ratio pyg / ours {results['ratio']:.2f}")
    write_results(__file__, results, args.quick)


if __name__ == "__main__":
    main()
