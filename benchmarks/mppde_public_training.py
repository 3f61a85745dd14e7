"""The public MP-PDE code's own model and training loop on our E1 data, at a CPU budget.

Is our ``message-passing`` solver as sample-efficient as the published implementation, step for
step?  This trains the public code's ``MP_PDE_Solver`` with its ``GraphCreator`` and
``training_loop`` (github.com/brandstetter-johannes/MP-Neural-PDE-Solvers, a checkout passed as
``--mppde-repo``) on the trajectories our solver trains on (``data.n_train`` before the
``n_test`` held out, the paper's down-projection of the nx = 200 truth, in physical units), and
scores it with the public ``test_unrolled_losses`` on the same held-out trajectories: the
accumulated error ``sum_t sum_x (u - u_hat)^2 / nx`` from frame 50, our ``acc_err``.

Its training loop runs unchanged, one pass over the training trajectories per call; the
driver chooses the unroll list per pass and steps the learning-rate schedule per optimizer
step.  ``--curriculum pass`` counts an epoch as one pass (our base's curriculum: pushforward
from the second pass on), ``paper`` as the public code's 250 passes (no pushforward in the
first 32,000 steps).  ``torch_cluster`` (compiled, not installable here) is replaced by
:func:`radius_graph`, the same radius graph in plain torch.

    python benchmarks/mppde_public_training.py --mppde-repo DIR [--data data/mp-e1.h5] [--nx 50]
        [--steps 8000] [--lr 5e-4] [--decay-steps 2000] [--curriculum pass] [--tag TAG] [--quick]

Needs ``pip install torch_geometric`` (not a dependency of this project).  Writes
``benchmarks/results/mppde_public_training[_TAG].json``: ``acc_err``, ``steps``, ``train_s``,
``params`` and the options.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import types
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table, write_results

from sciml_core.data.trajectories import DataConfig, load_trajectories


def radius_graph(x: torch.Tensor, r: float, batch: torch.Tensor | None = None, loop: bool = False,
                 max_num_neighbors: int = 32, flow: str = "source_to_target", num_workers: int = 1) -> torch.Tensor:
    """``torch_cluster.radius_graph`` for small point sets: edges (2, E) between points of the
    same ``batch`` entry closer than ``r`` (symmetric, so either flow gives the same edges;
    ``max_num_neighbors`` is not enforced: E1's graphs have 6 neighbours a point)."""
    pos = x.reshape(len(x), -1)
    keep = torch.cdist(pos, pos) < r
    if batch is not None:
        keep &= batch[:, None] == batch[None, :]
    if not loop:
        keep.fill_diagonal_(False)
    target, source = keep.nonzero(as_tuple=True)
    return torch.stack([source, target])


def _import_public(repo: Path) -> types.SimpleNamespace:
    import torch_geometric  # noqa: F401, PLC0415 (before the shim: it probes for torch_cluster)

    shim = types.ModuleType("torch_cluster")
    shim.radius_graph = radius_graph
    shim.knn_graph = None  # E1 uses the radius graph only
    sys.modules.setdefault("torch_cluster", shim)
    sys.path.insert(0, str(repo))
    from common.utils import GraphCreator  # noqa: PLC0415 (the peer's own modules)
    from equations.PDEs import CE
    from experiments.models_gnn import MP_PDE_Solver
    from experiments.train_helper import test_unrolled_losses, training_loop
    return types.SimpleNamespace(GraphCreator=GraphCreator, CE=CE, MP_PDE_Solver=MP_PDE_Solver,
                                 training_loop=training_loop, test_unrolled_losses=test_unrolled_losses)


class Trajectories(torch.utils.data.Dataset):
    """Items as the public ``HDF5Dataset`` gives them: (u_base, u_super, x, variables)."""

    def __init__(self, u: np.ndarray, x: np.ndarray) -> None:
        self.u, self.x = u.astype(np.float32), x.astype(np.float32)

    def __len__(self) -> int:
        return len(self.u)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, float]]:
        # E1: alpha = 1, beta = gamma = 0 (the model is not given them: eq_variables = {})
        return self.u[i], self.u[i], self.x, {"alpha": 1.0, "beta": 0.0, "gamma": 0.0}


class _ScheduledOptimizer:
    """The optimizer as ``training_loop`` uses it (zero_grad, step), stepping the schedule too."""

    def __init__(self, optimizer: torch.optim.Optimizer, scheduler: Any) -> None:
        self.optimizer, self.scheduler = optimizer, scheduler

    def zero_grad(self) -> None:
        self.optimizer.zero_grad()

    def step(self) -> None:
        self.optimizer.step()
        self.scheduler.step()


def unroll_choices(n_pass: int, curriculum: str, n_frames: int) -> list[int]:
    """The pushforward unroll counts ``training_loop`` draws from in pass ``n_pass`` (0-based):
    {0} in the first epoch, {0, 1} after it; an epoch is one pass (``pass``) or, as in the
    public code, ``n_frames`` passes (``paper``)."""
    epoch = n_pass // (1 if curriculum == "pass" else n_frames)
    return list(range(min(epoch, 1) + 1))


def run(repo: Path, data: Path, nx: int, n_train: int, n_test: int, steps: int, lr: float, decay_steps: int,
        curriculum: str, seed: int = 0, log_every: int = 1) -> dict[str, Any]:
    pub = _import_public(repo)
    torch.manual_seed(seed), random.seed(seed), np.random.seed(seed)
    stride = 200 // nx
    cfg = DataConfig(n_train=n_train, n_test=n_test, x_stride=stride, x_average=5 if stride > 1 else 1,
                     normalise=False)
    trajs = load_trajectories(data, cfg, torch.device("cpu"), torch.float64, pde="combined-equation")
    x, t = trajs.coords["x"], trajs.t
    train = Trajectories(trajs.train[:, :, 0].numpy(), x)
    test = Trajectories(trajs.test[:, :, 0].numpy(), x)
    pde = pub.CE(device="cpu")
    pde.tmin, pde.tmax, pde.grid_size, pde.dt, pde.L = float(t[0]), float(t[-1]), (len(t), nx), float(t[1] - t[0]), 16.0
    creator = pub.GraphCreator(pde=pde, neighbors=3, time_window=25, t_resolution=len(t), x_resolution=nx)
    model = pub.MP_PDE_Solver(pde=pde, time_window=25, eq_variables={})
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=decay_steps or 10**12, gamma=0.4)
    stepper = _ScheduledOptimizer(optimizer, scheduler)
    criterion = torch.nn.MSELoss(reduction="sum")
    batch = 16
    loader = torch.utils.data.DataLoader(train, batch_size=batch, shuffle=True, drop_last=True,
                                         generator=torch.Generator().manual_seed(seed))
    done, n_pass, start = 0, 0, time.perf_counter()
    model.train()
    while done < steps:
        n = min(len(loader), steps - done)
        losses = pub.training_loop(model, unroll_choices(n_pass, curriculum, len(t)), batch, stepper, islice(loader, n), creator, criterion)
        done, n_pass = done + n, n_pass + 1
        if n_pass % log_every == 0 or done == steps:
            print(f"step {done}/{steps}  loss {losses.mean().item():.4g}  lr {optimizer.param_groups[0]['lr']:.3g}  "
                  f"{time.perf_counter() - start:.0f} s", flush=True)
    train_s = time.perf_counter() - start
    model.eval()
    test_loader = torch.utils.data.DataLoader(test, batch_size=batch, shuffle=False, drop_last=True)
    per_batch = pub.test_unrolled_losses(model, [], batch, 2, nx, test_loader, creator, criterion)
    return {"acc_err": float(per_batch.mean()), "steps": steps, "train_s": train_s, "s_per_step": train_s / steps,
            "params": sum(p.numel() for p in model.parameters()), "nx": nx, "n_train": len(train),
            "n_test": len(test), "lr": lr, "decay_steps": decay_steps, "curriculum": curriculum, "seed": seed,
            "torch_threads": torch.get_num_threads()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mppde-repo", type=Path, required=True, help="checkout of the public MP-PDE code")
    parser.add_argument("--data", type=Path, default=Path("data/mp-e1.h5"))
    parser.add_argument("--nx", type=int, default=50, choices=(100, 50, 40))
    parser.add_argument("--n-train", type=int, default=2048)
    parser.add_argument("--steps", type=int, default=8000)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--decay-steps", type=int, default=2000, help="x 0.4 every this many steps (0: constant)")
    parser.add_argument("--curriculum", choices=("pass", "paper"), default="pass")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--tag", default="", help="results file benchmarks/results/mppde_public_training_TAG.json")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 32 trajectories, 4 steps")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.quick:
        res = run(args.mppde_repo, args.data, args.nx, 32, 16, 4, args.lr, args.decay_steps, args.curriculum)
    else:
        res = run(args.mppde_repo, args.data, args.nx, args.n_train, 128, args.steps, args.lr, args.decay_steps,
                  args.curriculum)
    print_table([[res["nx"], res["n_train"], res["steps"], res["lr"], res["decay_steps"], res["curriculum"],
                  res["acc_err"], res["train_s"]]],
                ["nx", "n_train", "steps", "lr", "decay every", "curriculum", "acc err (public code)", "train s"])
    script = Path(__file__)
    write_results(str(script.with_stem(f"{script.stem}_{args.tag}") if args.tag else script), res, args.quick)


if __name__ == "__main__":
    main()
