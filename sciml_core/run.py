"""The run-directory contract (``--out DIR``).

    config.toml     fully resolved config, enough to rerun
    metrics.json    pde, solver, kind, rel_l2, wall_s, steps, device, dtype, n_params, ...
    history.jsonl   one JSON object per logged training step
    solution.nc     xarray Dataset (fields, ``<field>_ref``), netCDF4/HDF5
    plots/*.png     solution, error, training curves
    checkpoint.pt   written atomically; ``--resume`` continues from it

Every file is written atomically (temporary file in the same directory, then rename), so an
interrupted run never leaves a half-written file behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from .errors import OutputError

RUN_FILES = ("config.toml", "metrics.json", "history.jsonl", "solution.nc", "checkpoint.pt")


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def json_default(obj: Any) -> Any:
    """JSON encoder for numpy / torch scalars and paths."""
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


class RunDirectory:
    """A run directory; creating one checks that it can be written."""

    def __init__(self, path: str | Path, *, resume: bool = False, force: bool = False) -> None:
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise OutputError(f"--out {str(self.path)!r} exists and is not a directory")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            (self.path / "plots").mkdir(exist_ok=True)
            probe = self.path / ".write-probe"
            probe.write_text("")
            probe.unlink()
        except OSError as exc:
            raise OutputError(f"cannot write to --out {str(self.path)!r}: {exc.strerror or exc}") from None
        if not resume and not force and any((self.path / f).exists() for f in RUN_FILES):
            raise OutputError(
                f"--out {str(self.path)!r} already holds a run: pass --resume to continue it, "
                "--force to overwrite it, or choose another directory"
            )
        if force and not resume:
            for name in RUN_FILES:
                (self.path / name).unlink(missing_ok=True)

    # ---- paths ----------------------------------------------------------------------------
    @property
    def checkpoint(self) -> Path:
        return self.path / "checkpoint.pt"

    @property
    def history(self) -> Path:
        return self.path / "history.jsonl"

    @property
    def plots(self) -> Path:
        return self.path / "plots"

    # ---- writers --------------------------------------------------------------------------
    def write_config(self, text: str) -> None:
        write_text_atomic(self.path / "config.toml", text)

    def write_metrics(self, metrics: dict[str, Any]) -> None:
        write_text_atomic(self.path / "metrics.json", json.dumps(metrics, indent=2, default=json_default) + "\n")

    def write_solution(self, solution: Any) -> Path:
        target = self.path / "solution.nc"
        with atomic_path(target) as tmp:
            solution.to_netcdf(tmp, engine="h5netcdf")
        return target

    def read_history(self) -> list[dict[str, Any]]:
        if not self.history.exists():
            return []
        rows = []
        for line in self.history.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut by a kill
                break
        return rows

    def truncate_history(self, last_step: int) -> None:
        """Keep only rows with ``step <= last_step`` (a resumed run re-logs what follows)."""
        rows = [r for r in self.read_history() if r.get("step", -1) <= last_step]
        write_text_atomic(self.history, "".join(json.dumps(r, default=json_default) + "\n" for r in rows))
