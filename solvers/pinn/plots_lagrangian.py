"""``characteristics.png`` of a Lagrangian PINN run: the characteristics x(x0, t), the Eulerian
field they carry (characteristics folded into the period drawn over it) and its error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def plot_characteristics(solution: Any, path: Path, title: str = "", n_lines: int = 24) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t, x = np.asarray(solution["t"]), np.asarray(solution["x"])
    chars = np.asarray(solution["characteristic"])  # (t, x0)
    lo, period = float(x[0]), float(x[1] - x[0]) * x.size
    pick = np.linspace(0, chars.shape[1], n_lines, endpoint=False).astype(int)
    has_ref = "u_ref" in solution
    fig, axes = plt.subplots(1, 3 if has_ref else 2, figsize=(16 if has_ref else 11, 4.5))
    ax = axes[0]
    for j in pick:
        ax.plot(chars[:, j], t, lw=0.9, color=plt.cm.viridis(j / chars.shape[1]))
    ax.set(xlabel="x (unwrapped)", ylabel="t", title="characteristics x(x0, t)")
    ax = axes[1]
    mesh = ax.pcolormesh(x, t, np.asarray(solution["u"]), shading="auto", cmap="RdBu_r")
    fig.colorbar(mesh, ax=ax, label="u [nondimensional]")
    for j in pick:
        folded = lo + np.mod(chars[:, j] - lo, period)
        folded[1:][np.abs(np.diff(folded)) > period / 2] = np.nan  # break the line where it wraps
        ax.plot(folded, t, "k", lw=0.5, alpha=0.6)
    ax.set(xlabel="x", ylabel="t", title="u on the Eulerian grid, characteristics folded")
    if has_ref:
        ax = axes[2]
        mesh = ax.pcolormesh(x, t, np.abs(np.asarray(solution["u"]) - np.asarray(solution["u_ref"])),
                             shading="auto", cmap="magma")
        fig.colorbar(mesh, ax=ax, label="|u - u_ref| [nondimensional]")
        ax.set(xlabel="x", ylabel="t", title="|u - u_ref|")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
