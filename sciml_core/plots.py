"""Standard plots of a run: the solution, its error against the reference, training curves."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _fields(solution: Any) -> list[str]:
    return [name for name in solution.data_vars if not name.endswith("_ref") and "t" in solution[name].dims]


def _first_sample(da: Any) -> Any:
    return da.isel(sample=0) if "sample" in da.dims else da


def _panels(solution: Any, arrays: dict[str, Any], path: Path, title: str, cmap: str) -> None:
    """One row per entry of ``arrays``: a (t, x) image, or 4 snapshots of a (t, y, x) field."""
    first = next(iter(arrays.values()))
    spatial = [d for d in first.dims if d != "t"]
    if len(spatial) == 1:
        fig, axes = plt.subplots(1, len(arrays), figsize=(5 * len(arrays), 4), squeeze=False)
        for ax, (label, da) in zip(axes[0], arrays.items()):
            dim = spatial[0]
            mesh = ax.pcolormesh(da["t"], da[dim], np.asarray(da).T, shading="auto", cmap=cmap)
            ax.set(xlabel="t", ylabel=dim, title=label)
            fig.colorbar(mesh, ax=ax)
    else:
        times = np.linspace(0, first.sizes["t"] - 1, 4).astype(int)
        fig, axes = plt.subplots(len(arrays), 4, figsize=(14, 3.4 * len(arrays)), squeeze=False)
        for row, (label, da) in zip(axes, arrays.items()):
            for ax, k in zip(row, times):
                frame = da.isel(t=k)
                mesh = ax.pcolormesh(frame[spatial[1]], frame[spatial[0]], np.asarray(frame), shading="auto", cmap=cmap)
                ax.set(title=f"{label}, t = {float(frame['t']):.3g}", aspect="equal")
                fig.colorbar(mesh, ax=ax)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_solution(solution: Any, plots: Path) -> list[Path]:
    """``solution.png`` (prediction and reference) and ``error.png`` (|prediction - reference|)."""
    written = []
    for field in _fields(solution):
        pred = _first_sample(solution[field])
        arrays = {field: pred}
        if f"{field}_ref" in solution:
            arrays[f"{field} (reference)"] = _first_sample(solution[f"{field}_ref"])
        suffix = "" if len(_fields(solution)) == 1 else f"_{field}"
        path = plots / f"solution{suffix}.png"
        _panels(solution, arrays, path, f"{solution.attrs.get('pde', '')} / {solution.attrs.get('solver', '')}", "RdBu_r")
        written.append(path)
        if f"{field}_ref" in solution:
            error = abs(pred - arrays[f"{field} (reference)"])
            path = plots / f"error{suffix}.png"
            _panels(solution, {f"|{field} - {field}_ref|": error}, path, "absolute error", "magma")
            written.append(path)
    return written


def plot_history(history: Sequence[dict[str, Any]], path: Path) -> Path | None:
    """``loss.png``: the total loss, every logged ``loss_*`` term and, where logged, the
    validation error ``rel_l2`` against the step."""
    if not history:
        return None
    steps = np.array([row["step"] for row in history])
    keys = ["loss"] + sorted({k for row in history for k in row if k.startswith("loss_")})
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for key in keys:
        values = np.array([row.get(key, np.nan) for row in history], dtype=float)
        ax.semilogy(steps, values, label=key, lw=1.5 if key == "loss" else 1.0)
    checked = [(row["step"], row["rel_l2"]) for row in history if row.get("rel_l2") is not None]
    if checked:
        ax.semilogy(*zip(*checked), "k.-", label="rel L2 vs reference", lw=1.0)
    switch = next((row["step"] for row in history if row.get("phase") == "lbfgs"), None)
    if switch is not None:
        ax.axvline(switch, color="gray", ls="--", lw=0.8, label="L-BFGS starts")
    ax.set(xlabel="step", ylabel="loss", title="training loss")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
