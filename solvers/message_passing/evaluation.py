"""What an MP-PDE model is compared with: the WENO5 solver at the coarse grid, and its cost at nx = 200.

* :func:`coarse_weno` -- the paper's numerical baseline: ``fv-weno5`` run directly at the coarse
  ``nx`` from t = 0 (its own cell averages of ``delta(0, x)``, the sample's stored forcing),
  scored against the down-projected truth like the model.
* :func:`reference_rollout` -- ``fv-weno5`` at the truth's resolution as a stepper, driven by
  the same :func:`sciml_core.autoregressive.rollout` as the network, frame by frame from the
  same start frame: the wall time a learned rollout is measured against.
"""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sciml_core.autoregressive import reference_stepper, rollout
from sciml_core.config import build_config
from sciml_core.data.schema import open_h5, read_header
from sciml_core.pdes.combined_equation import sine_forcing
from sciml_core.registry import get_pde
from sciml_core.solver import RunContext
from solvers.finite_volume.engine import WenoSolver


def stored_draws(path: str | Path, samples: np.ndarray) -> dict[str, np.ndarray]:
    """The per-sample parameters and initial-condition draws of ``samples`` (file sample ids)."""
    header = read_header(path)
    rows = np.searchsorted(header.samples, samples)
    with open_h5(header.path) as f:
        names = [*header.params, *(f"ic_{n}" for n in header.ic_draws)]
        return {n.removeprefix("ic_"): f[n][:][rows] for n in names}


def _solver(path: str | Path, nx: int, device: torch.device) -> WenoSolver:
    header = read_header(path)
    pde = get_pde(header.attrs["pde"]).from_params(header.json_attr("pde_params"))
    config = {**header.json_attr("solver_config"), "n": nx}
    return WenoSolver(pde, build_config(WenoSolver.Config, config), RunContext(device=device, dtype=torch.float64))


def coarse_weno(path: str | Path, samples: np.ndarray, nx: int, t: np.ndarray,
                device: torch.device | str = "cpu") -> tuple[np.ndarray, float]:
    """``fv-weno5`` at ``nx`` from t = 0 for ``samples``: frames (B, len(t), nx) and wall seconds."""
    solver = _solver(path, nx, torch.device(device))
    draws = stored_draws(path, samples)
    x = solver.grid()["x"]
    n_waves = sum(1 for k in draws if k.startswith("A") and k[1:].isdigit())
    waves = {k: np.stack([draws[f"{k}{j}"] for j in range(n_waves)], axis=1) for k in ("A", "omega", "l", "phi")}
    u0 = sine_forcing(0.0, x, waves["A"], waves["omega"], waves["l"], waves["phi"], solver.pde.length, solver.dx)
    start = time.perf_counter()
    out = solver.integrate({"u": u0}, t, params=draws)["u"]
    return out, time.perf_counter() - start


def reference_rollout(path: str | Path, samples: np.ndarray, start: int, n_steps: int,
                      device: torch.device | str = "cpu") -> tuple[np.ndarray, float]:
    """``fv-weno5`` at the file's resolution rolled out frame by frame from stored frame
    ``start - 1`` to ``start + n_steps - 1``: frames (B, n_steps, N) and wall seconds."""
    header = read_header(path)
    rows = np.searchsorted(header.samples, samples)
    with open_h5(header.path) as f:
        t = f["t"][:]
        initial = np.stack([f["u"][int(r), start - 1] for r in rows]).astype(np.float64)
    solver = _solver(path, header.dims["x"], torch.device(device))
    stepper = reference_stepper(partial(solver.integrate, params=stored_draws(path, samples)), t, ("u",))
    history = torch.as_tensor(initial, device=device)[:, None, None]
    begin = time.perf_counter()
    frames = rollout(stepper, history, n_steps, first_frame=start)
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()
    return frames[:, :, 0].cpu().numpy(), time.perf_counter() - begin


def model_rollout_time(stepper: Any, history: torch.Tensor, n_steps: int, first_frame: int) -> float:
    """Wall seconds of :func:`rollout` of a learned ``stepper`` (synchronised on CUDA)."""
    begin = time.perf_counter()
    rollout(stepper, history, n_steps, first_frame=first_frame)
    if history.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - begin
