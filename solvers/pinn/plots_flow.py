"""Plots of a steady-flow run: ``flow.png`` (speed with streamlines, pressure), and where the case
provides them ``centerlines.png`` (against Ghia et al.) and ``cylinder_pressure.png``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_flow(solution: Any, path: Path, title: str) -> Path:
    plt = _plt()
    x, y = np.asarray(solution["x"]), np.asarray(solution["y"])
    u, v, p = (np.ma.masked_invalid(np.asarray(solution[k])) for k in ("u", "v", "p"))
    aspect = (x[-1] - x[0]) / (y[-1] - y[0])
    wide = aspect > 2
    fig, axes = plt.subplots(2 if wide else 1, 1 if wide else 2, figsize=(12, 6) if wide else (12, 5.2))
    speed = np.ma.sqrt(u**2 + v**2)
    mesh = axes[0].pcolormesh(x, y, speed, shading="auto", cmap="viridis")
    axes[0].streamplot(x, y, u.filled(np.nan), v.filled(np.nan), color="w", density=1.4 if wide else 1.6,
                       linewidth=0.6, arrowsize=0.6)
    axes[0].set(title="speed |u| and streamlines", xlabel="x", ylabel="y", aspect="equal")
    fig.colorbar(mesh, ax=axes[0], shrink=0.8, label="|u| [nondimensional]")
    mesh = axes[1].pcolormesh(x, y, p, shading="auto", cmap="RdBu_r")
    axes[1].set(title="pressure p", xlabel="x", ylabel="y", aspect="equal")
    fig.colorbar(mesh, ax=axes[1], shrink=0.8, label="p [nondimensional]")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_centerlines(solution: Any, path: Path, title: str) -> Path:
    plt = _plt()
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(11, 4.8))
    a0.plot(solution["u_centerline"], solution["y_line"], "C0-", label="hard-BC PINN")
    a1.plot(solution["x_line"], solution["v_centerline"], "C0-", label="hard-BC PINN")
    if "u_ghia" in solution:
        a0.plot(solution["u_ghia"], solution["y_ghia"], "ks", mfc="none", label="Ghia et al. 1982")
        a1.plot(solution["x_ghia"], solution["v_ghia"], "ks", mfc="none", label="Ghia et al. 1982")
        a0.set_title(f"u(x = 0.5, y): rel L2 {solution.attrs['u_centerline_rel_l2_vs_ghia']:.2e}")
        a1.set_title(f"v(x, y = 0.5): rel L2 {solution.attrs['v_centerline_rel_l2_vs_ghia']:.2e}")
    a0.set(xlabel="u", ylabel="y")
    a1.set(xlabel="x", ylabel="v")
    for ax in (a0, a1):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_cylinder_pressure(solution: Any, path: Path, title: str) -> Path:
    """Surface pressure against the angle from the front stagnation point, and the near field."""
    plt = _plt()
    theta = np.asarray(solution["theta"])
    front = np.mod(np.pi - theta, 2 * np.pi)  # 0 at the front stagnation point (theta = pi)
    order = np.argsort(front)
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(13, 4.6), gridspec_kw={"width_ratios": [1, 1.6]})
    a0.plot(np.degrees(front[order]), np.asarray(solution["p_surface"])[order], "C3-")
    attrs = solution.attrs
    a0.set(xlabel="angle from the front stagnation point (deg)", ylabel="p on the cylinder",
           title=f"c_D {attrs['c_d']:.4f}, c_L {attrs['c_l']:.4f}, dp {attrs['delta_p']:.4f}")
    a0.grid(alpha=0.3)
    x, y = np.asarray(solution["x"]), np.asarray(solution["y"])
    near = x <= 0.6 * x[-1] if x[-1] < 1.5 else x <= 0.6
    p = np.ma.masked_invalid(np.asarray(solution["p"])[:, near])
    mesh = a1.contourf(x[near], y, p, 40, cmap="RdBu_r")
    a1.set(aspect="equal", xlabel="x", ylabel="y", title="pressure near the cylinder")
    fig.colorbar(mesh, ax=a1, shrink=0.8, label="p [nondimensional]")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_flow_case(solution: Any, plots: Path, title: str) -> list[Path]:
    """Every plot the case's solution supports."""
    written = [plot_flow(solution, plots / "flow.png", title)]
    if "u_centerline" in solution:
        written.append(plot_centerlines(solution, plots / "centerlines.png", title))
    if "p_surface" in solution:
        written.append(plot_cylinder_pressure(solution, plots / "cylinder_pressure.png", title))
    return written
