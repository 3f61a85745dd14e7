"""The run-directory contract (``--out DIR``).

    run.json        what the directory is: {"sciml_run": 1, "status": ..., "started", "finished", "pid", ...};
                    status "running" until the run ends, then "complete" (written last, after every
                    other file), "diverged", "failed" or "interrupted"
    config.toml     fully resolved config, enough to rerun
    metrics.json    pde, solver, kind, rel_l2, wall_s, steps, device, dtype, n_params, status, ...
                    (always valid JSON: a non-finite number is written as null)
    metrics.eval.json   what ``sciml eval`` recomputed (metrics.json is never rewritten by eval)
    history.jsonl   one JSON object per logged training step
    solution.nc     xarray Dataset (fields, ``<field>_ref``), netCDF4/HDF5
    plots/          solution, error, training curves, ``<field>_snapshots.png``, ``<field>.gif``
    checkpoint.pt   written atomically; ``--resume`` continues from it

Every file is written atomically (temporary file in the same directory, then rename).  A
directory is written only once every setting has been validated, so a refused command
changes nothing on disk; ``--out`` must be absent, empty, or hold one of our runs.  A run
whose ``run.json`` never reached "complete" (killed, crashed, diverged) is recognisable as
such: rerunning into it continues it with ``--resume``, starts over with ``--force``, and
needs neither when it left no checkpoint behind.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from .errors import DivergenceError, OutputError

RUN_FILES = ("config.toml", "metrics.json", "history.jsonl", "solution.nc", "checkpoint.pt")
MARKER = "run.json"
_OURS = (MARKER, "metrics.eval.json", *RUN_FILES)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()  # what open() would give a new file (mkstemp gives 0600)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.fchmod(fd, _FILE_MODE)
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


def finite_json(obj: Any) -> Any:
    """``obj`` as plain JSON data with every non-finite float (NaN, inf) replaced by None."""
    if isinstance(obj, dict):
        return {str(k): finite_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_json(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item") and getattr(obj, "size", 1) == 1:  # numpy / torch scalars
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def dumps_json(obj: Any) -> str:
    """Strict JSON text (NaN and inf as null), as every file of a run directory holds."""
    return json.dumps(finite_json(obj), indent=2, allow_nan=False, default=json_default) + "\n"


def non_finite_keys(metrics: dict[str, Any]) -> list[str]:
    """Top-level keys of ``metrics`` whose value is a non-finite float."""
    return [k for k, v in metrics.items() if isinstance(v, float) and not math.isfinite(v)]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunDirectory:
    """A run directory.

    ``RunDirectory(path)`` checks ``path`` and creates it at once (for direct library use, e.g.
    a Trainer with checkpoints).  :func:`sciml_core.solve` uses :meth:`plan` (checks only,
    nothing written) and :meth:`begin` once every setting is valid.
    """

    def __init__(self, path: str | Path, *, resume: bool = False, force: bool = False, create: bool = True) -> None:
        self.path = Path(path)
        self.resume, self.force = resume, force
        self.check()
        if create:
            self._make_dirs()

    @classmethod
    def plan(cls, path: str | Path, *, resume: bool = False, force: bool = False) -> "RunDirectory":
        """Check that a run may be written to ``path`` (see :meth:`check`) without writing anything."""
        return cls(path, resume=resume, force=force, create=False)

    @classmethod
    def existing(cls, path: str | Path) -> "RunDirectory":
        """A directory to inspect (``status``, ``marker``), without any check."""
        obj = cls.__new__(cls)
        obj.path, obj.resume, obj.force = Path(path), False, False
        return obj

    # ---- what is there ----------------------------------------------------------------------
    def marker(self) -> dict[str, Any] | None:
        """The parsed ``run.json``, or None when there is none (or it is not ours)."""
        try:
            data = json.loads((self.path / MARKER).read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and data.get("sciml_run") == 1 else None

    def is_ours(self) -> bool:
        """True when the directory holds a run of ours (a marker, or files a run writes)."""
        return self.marker() is not None or any((self.path / f).exists() for f in RUN_FILES)

    def status(self) -> str:
        """``absent``, ``empty``, ``foreign``, ``complete``, ``running`` (a live process on this
        host), or ``aborted`` (a run that never completed: killed, crashed or diverged)."""
        if not self.path.exists():
            return "absent"
        if not any(self.path.iterdir()):
            return "empty"
        if not self.is_ours():
            return "foreign"
        marker = self.marker()
        if marker is None:  # a run directory written before run.json existed, or used directly
            return "complete" if (self.path / "metrics.json").exists() else "aborted"
        if marker.get("status") == "complete":
            return "complete"
        if (marker.get("status") == "running" and marker.get("host") == socket.gethostname()
                and isinstance(marker.get("pid"), int) and marker["pid"] != os.getpid() and _pid_alive(marker["pid"])):
            return "running"
        return "aborted"

    def check(self) -> None:
        """Refuse (OutputError / CheckpointError) what this run may not do to ``path``; writes nothing."""
        from .errors import CheckpointError

        where = str(self.path)
        if self.path.exists() and not self.path.is_dir():
            raise OutputError(f"--out {where!r} exists and is not a directory")
        if not self.path.exists():
            parent = self.path.parent
            while not parent.exists():
                parent = parent.parent
            if not parent.is_dir():
                raise OutputError(f"cannot write to --out {where!r}: {str(parent)!r} is not a directory")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise OutputError(f"cannot write to --out {where!r}: permission denied in {str(parent)!r}")
        elif not os.access(self.path, os.W_OK | os.X_OK):
            raise OutputError(f"cannot write to --out {where!r}: permission denied")
        state = self.status()
        if state == "foreign":
            raise OutputError(f"--out {where!r} is not empty and holds no sciml run; name a new or empty directory "
                              "(run files are never mixed into other files)")
        if state == "running":
            raise OutputError(f"--out {where!r} is in use by a running sciml process (pid {self.marker()['pid']})")
        if self.resume:
            if not self.checkpoint.exists():
                raise CheckpointError(f"--resume: no checkpoint to resume from at {str(self.checkpoint)!r}")
            return
        if self.force or state in ("absent", "empty"):
            return
        if state == "complete":
            raise OutputError(f"--out {where!r} already holds a run: pass --resume to continue it, "
                              "--force to overwrite it, or choose another directory")
        if self.checkpoint.exists():
            marker = self.marker() or {}
            how = marker.get("status", "stopped")
            raise OutputError(f"--out {where!r} holds an unfinished run ({how}, with a checkpoint): pass --resume "
                              "to continue it, --force to start over, or choose another directory")
        # an aborted run without a checkpoint has nothing to continue: it is simply rerun

    # ---- writing ----------------------------------------------------------------------------
    def _make_dirs(self) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            (self.path / "plots").mkdir(exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot write to --out {str(self.path)!r}: {exc.strerror or exc}") from None

    def begin(self, config_text: str, started: float | None = None) -> None:
        """Create the directory (clearing a previous run of ours unless resuming), write
        ``config.toml`` (kept as it is on ``--resume``) and ``run.json`` (status running)."""
        self.check()
        self._created = not self.path.exists()
        self._previous_marker = (self.path / MARKER).read_text() if (self.path / MARKER).exists() else None
        if not self.resume and self.path.exists():
            for name in _OURS:
                (self.path / name).unlink(missing_ok=True)
            shutil.rmtree(self.path / "plots", ignore_errors=True)
        self._make_dirs()
        if not (self.resume and (self.path / "config.toml").exists()):
            self.write_config(config_text)
        self._write_marker({"status": "running", "started": _now(started)})

    def rollback(self) -> None:
        """Undo :meth:`begin` for a run refused once it started (a checkpoint that does not fit,
        an option the device lacks): a directory it created goes, a resumed run's marker is
        restored, so a refused command leaves the disk as it was."""
        if getattr(self, "_created", False):
            shutil.rmtree(self.path, ignore_errors=True)
        elif self.resume and self._previous_marker is not None:
            write_text_atomic(self.path / MARKER, self._previous_marker)

    def end(self, status: str = "complete", error: str | None = None) -> None:
        """Record how the run ended in ``run.json``; "complete" is the last write of a run."""
        marker = self.marker() or {}
        self._write_marker({"status": status, "started": marker.get("started"), "finished": _now(),
                            **({"error": error} if error else {})})

    def end_with(self, exc: BaseException) -> None:
        """``end`` for a run stopped by ``exc`` (diverged, interrupted or failed)."""
        if isinstance(exc, DivergenceError):
            self.end("diverged", str(exc))
        elif isinstance(exc, KeyboardInterrupt):
            self.end("interrupted")
        else:
            self.end("failed", f"{type(exc).__name__}: {exc}".splitlines()[0])

    def _write_marker(self, fields: dict[str, Any]) -> None:
        data = {"sciml_run": 1, **fields, "pid": os.getpid(), "host": socket.gethostname()}
        write_text_atomic(self.path / MARKER, dumps_json(data))

    # ---- paths ------------------------------------------------------------------------------
    @property
    def checkpoint(self) -> Path:
        return self.path / "checkpoint.pt"

    @property
    def history(self) -> Path:
        return self.path / "history.jsonl"

    @property
    def plots(self) -> Path:
        return self.path / "plots"

    @property
    def config_file(self) -> Path:
        return self.path / "config.toml"

    # ---- writers ----------------------------------------------------------------------------
    def write_config(self, text: str) -> None:
        write_text_atomic(self.path / "config.toml", text)

    def write_metrics(self, metrics: dict[str, Any], name: str = "metrics.json") -> None:
        write_text_atomic(self.path / name, dumps_json(metrics))

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


def _now(stamp: float | None = None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(stamp if stamp is not None else time.time()))
