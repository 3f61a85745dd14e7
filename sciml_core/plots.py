"""Standard plots of a run, written by :func:`sciml_core.solve` into ``plots/``.

* ``solution.png`` -- prediction beside the reference (when one exists): 1D as a space-time
  image over every saved frame, 2D as four snapshots per row; both share one colour scale;
* ``error.png`` -- |prediction - reference| on the same layout;
* ``<field>_snapshots.png`` -- 2D: up to eight frames on one colour scale; 1D: u(x) at six
  times, the reference dashed;
* ``<field>.gif`` -- the evolution, one colour scale (2D) or fixed axes (1D);
* ``loss.png`` -- training curves.

Every colour bar names its field and units (a variable's ``units`` attr, else the catalogue's
nondimensional units), axes name their coordinates, titles name PDE, solver and time.
Multi-sample solutions (operators) show sample 0.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .run import atomic_path  # noqa: E402

DEFAULT_UNITS = "nondimensional"


def _fields(solution: Any) -> list[str]:
    return [name for name in solution.data_vars if not name.endswith("_ref") and "t" in solution[name].dims]


def _first_sample(da: Any) -> Any:
    return da.isel(sample=0) if "sample" in da.dims else da


def _label(da: Any, name: str) -> str:
    return f"{name} [{da.attrs.get('units', DEFAULT_UNITS)}]"


def _heading(solution: Any, what: str) -> str:
    sample = ", sample 0" if "sample" in solution.dims else ""
    return f"{solution.attrs.get('pde', '?')} / {solution.attrs.get('solver', '?')}: {what}{sample}"


def _save(fig: Any, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip("."), dpi=100)
    plt.close(fig)
    return path


def _limits(*arrays: Any) -> tuple[float, float]:
    """One colour range for every array (finite values only; a constant field gets a unit range)."""
    values = np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in arrays])
    values = values[np.isfinite(values)]
    if values.size == 0:
        return -1.0, 1.0
    lo, hi = float(values.min()), float(values.max())
    return (lo - 0.5, hi + 0.5) if hi <= lo else (lo, hi)


def _panels(solution: Any, arrays: dict[str, Any], path: Path, what: str, cmap: str, clabel: str) -> Path:
    """One panel per entry of ``arrays`` on one colour scale: a (t, x) image, or 4 snapshots of (t, y, x)."""
    first = next(iter(arrays.values()))
    spatial = [d for d in first.dims if d != "t"]
    vmin, vmax = _limits(*arrays.values())
    t = first["t"].values
    if len(spatial) == 1:
        fig, axes = plt.subplots(1, len(arrays), figsize=(5.5 * len(arrays), 4.2), squeeze=False)
        for ax, (label, da) in zip(axes[0], arrays.items()):
            dim = spatial[0]
            mesh = ax.pcolormesh(t, da[dim], np.asarray(da).T, shading="auto", cmap=cmap, vmin=vmin, vmax=vmax)
            ax.set(xlabel="t", ylabel=dim, title=label)
        fig.colorbar(mesh, ax=list(axes[0]), label=clabel)
        fig.suptitle(f"{_heading(solution, what)}, t in [{t[0]:.3g}, {t[-1]:.3g}]")
    else:
        times = np.unique(np.linspace(0, first.sizes["t"] - 1, 4).round().astype(int))
        fig, axes = plt.subplots(len(arrays), len(times), figsize=(3.6 * len(times) + 1, 3.3 * len(arrays)),
                                 squeeze=False, layout="constrained")
        for row, (label, da) in zip(axes, arrays.items()):
            for ax, k in zip(row, times):
                frame = da.isel(t=k)
                mesh = ax.pcolormesh(frame[spatial[1]], frame[spatial[0]], np.asarray(frame), shading="auto",
                                     cmap=cmap, vmin=vmin, vmax=vmax)
                ax.set(title=f"{label}, t = {float(frame['t']):.3g}", xlabel=spatial[1], ylabel=spatial[0],
                       aspect="equal")
        fig.colorbar(mesh, ax=axes.ravel().tolist(), label=clabel)
        fig.suptitle(_heading(solution, what))
    return _save(fig, path)


def plot_solution(solution: Any, plots: Path) -> list[Path]:
    """``solution.png`` (prediction and reference), ``error.png`` (|prediction - reference|),
    ``<field>_snapshots.png`` and ``<field>.gif`` for every field with a time axis."""
    written = []
    fields = _fields(solution)
    for field in fields:
        pred = _first_sample(solution[field])
        ref = _first_sample(solution[f"{field}_ref"]) if f"{field}_ref" in solution else None
        arrays = {f"{field} (prediction)" if ref is not None else field: pred}
        if ref is not None:
            arrays[f"{field} (reference)"] = ref
        suffix = "" if len(fields) == 1 else f"_{field}"
        written.append(_panels(solution, arrays, plots / f"solution{suffix}.png", field, "RdBu_r", _label(pred, field)))
        if ref is not None:
            written.append(_panels(solution, {f"|{field} - {field}_ref|": abs(pred - ref)}, plots / f"error{suffix}.png",
                                   f"absolute error of {field}", "magma", _label(pred, f"|{field} - {field}_ref|")))
        written.append(plot_snapshots(solution, field, plots / f"{field}_snapshots.png"))
        written.append(animate(solution, field, plots / f"{field}.gif"))
    return written


def plot_snapshots(solution: Any, field: str, path: Path, panels: int = 8) -> Path:
    """2D: up to ``panels`` evenly spaced frames on one colour scale; 1D: the field at six
    times (the reference dashed)."""
    da = _first_sample(solution[field])
    ref = _first_sample(solution[f"{field}_ref"]) if f"{field}_ref" in solution else None
    spatial = [d for d in da.dims if d != "t"]
    t = da["t"].values
    if len(spatial) == 1:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        idx = np.unique(np.linspace(0, len(t) - 1, min(6, len(t))).round().astype(int))
        colours = plt.cm.viridis(np.linspace(0, 0.9, len(idx)))
        for i, c in zip(idx, colours):
            ax.plot(da[spatial[0]], da.isel(t=i), color=c, lw=1.5, label=f"t = {t[i]:.3g}")
            if ref is not None:
                ax.plot(ref[spatial[0]], ref.isel(t=i), color=c, lw=1.0, ls="--")
        ax.set(xlabel=spatial[0], ylabel=_label(da, field),
               title=_heading(solution, f"{field}" + (" (dashed: reference)" if ref is not None else "")))
        ax.legend(fontsize=8)
        return _save(fig, path)
    idx = np.unique(np.linspace(0, len(t) - 1, min(panels, len(t))).round().astype(int))
    cols = min(4, len(idx))
    rows = -(-len(idx) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols + 1, 3.0 * rows + 0.6), squeeze=False,
                             layout="constrained")
    vmin, vmax = _limits(da.isel(t=idx))
    for ax, i in zip(axes.flat, idx):
        frame = da.isel(t=i)
        mesh = ax.pcolormesh(frame[spatial[1]], frame[spatial[0]], np.asarray(frame), shading="auto", cmap="RdBu_r",
                             vmin=vmin, vmax=vmax)
        ax.set(title=f"t = {t[i]:.4g}", xlabel=spatial[1], ylabel=spatial[0], aspect="equal")
    for ax in list(axes.flat)[len(idx):]:
        ax.axis("off")
    fig.colorbar(mesh, ax=axes.ravel().tolist(), label=_label(da, field))
    fig.suptitle(_heading(solution, field))
    return _save(fig, path)


def animate(solution: Any, field: str, path: Path, max_frames: int = 40, duration_ms: int = 100) -> Path:
    """Animated GIF of ``field`` over (up to ``max_frames`` of) its saved frames, one colour
    scale (2D, y up) or fixed axes (1D)."""
    from PIL import Image

    da = _first_sample(solution[field])
    spatial = [d for d in da.dims if d != "t"]
    t = da["t"].values
    idx = np.unique(np.linspace(0, len(t) - 1, min(max_frames, len(t))).round().astype(int))
    vmin, vmax = _limits(da)
    if len(spatial) == 2:
        fig, ax = plt.subplots(figsize=(4.6, 4.0), layout="constrained")
        y, x = da[spatial[0]].values, da[spatial[1]].values
        image = ax.imshow(np.asarray(da.isel(t=0)), origin="lower", cmap="RdBu_r", vmin=vmin, vmax=vmax,
                          extent=(x[0], x[-1], y[0], y[-1]))
        fig.colorbar(image, ax=ax, label=_label(da, field))
        ax.set(xlabel=spatial[1], ylabel=spatial[0])
        update = image.set_data
    else:
        fig, ax = plt.subplots(figsize=(5.0, 3.4), layout="constrained")
        x = da[spatial[0]].values
        (line,) = ax.plot(x, np.asarray(da.isel(t=0)), lw=1.5)
        ax.set(xlabel=spatial[0], ylabel=_label(da, field), ylim=(vmin, vmax), xlim=(x[0], x[-1]))
        update = line.set_ydata
    title = ax.set_title(f"{_heading(solution, field)}\nt = {t[-1]:.4g}")
    moving = (image if len(spatial) == 2 else line, title)
    fig.canvas.draw()  # lay out with the title in place, then freeze the layout
    fig.set_layout_engine("none")
    moving[0].set_visible(False)  # draw the still parts once, then only what changes (blitting);
    title.set_text("")            # a hidden title would be moved, an empty one stays
    fig.canvas.draw()
    background = fig.canvas.copy_from_bbox(fig.bbox)
    moving[0].set_visible(True)
    images, palette = [], None
    for i in idx[::-1]:  # last frame first: its palette serves the others
        update(np.asarray(da.isel(t=i)))
        title.set_text(f"{_heading(solution, field)}\nt = {t[i]:.4g}")
        fig.canvas.restore_region(background)
        for artist in moving:
            ax.draw_artist(artist)
        rgb = Image.fromarray(np.asarray(fig.canvas.buffer_rgba())[..., :3].copy())
        # one palette for the whole animation, from the last frame (the still parts and the
        # colour map are the same in every frame): mapping onto it is cheaper than quantizing each
        palette = palette or rgb.quantize(colors=128)
        images.append(rgb.quantize(palette=palette, dither=Image.Dither.NONE))
    plt.close(fig)
    images.reverse()
    with atomic_path(path) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=duration_ms, loop=0)
    return path


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
    ax.set(xlabel="step", ylabel="loss (and rel L2 where logged)", title="training loss")
    ax.legend()
    fig.tight_layout()
    return _save(fig, path)
