"""Progress of long work when nobody watches a terminal.

A tqdm bar is quiet when stderr is not a terminal (``make demo`` under a script, a library
call from a notebook's log, a SLURM job), so long work would be silent there.
:class:`ProgressLog` prints instead one plain line every ``SCIML_PROGRESS_S`` seconds
(default 10; 0 prints every step), plus the last step::

    train: step 340/2000 (adam)  loss 3.212e-03  rel_l2 4.51e-02  85.3 steps/s  ETA 19 s

Nothing is printed when stderr is a terminal (the bar shows it) or when progress is off.
"""

from __future__ import annotations

import math
import os
import sys
import time
from typing import Any, Mapping

DEFAULT_INTERVAL_S = 10.0


def _interval() -> float:
    try:
        return max(float(os.environ.get("SCIML_PROGRESS_S", DEFAULT_INTERVAL_S)), 0.0)
    except ValueError:
        return DEFAULT_INTERVAL_S


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


class ProgressLog:
    """Plain progress lines on stderr when it is not a terminal (see the module docstring)."""

    def __init__(self, desc: str, total: int, initial: int = 0, noun: str = "step", enabled: bool = True,
                 stream: Any = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", lambda: False)
        self.enabled = enabled and not isatty()
        self.desc, self.total, self.noun = desc, total, noun
        self.done = self.last_done = initial
        self.interval = _interval()
        self.t0 = self.last = time.perf_counter()
        self.known: dict[str, float] = {}  # the last value of each logged quantity (rel_l2 comes every N steps)

    def update(self, done: int, loss: float | None = None, logs: Mapping[str, Any] | None = None,
               phase: str | None = None) -> None:
        """Record progress up to ``done``; print a line when the interval has passed (or at the end)."""
        if not self.enabled:
            return
        self.done = done
        for key in ("rel_l2",):
            value = (logs or {}).get(key)
            if isinstance(value, (int, float)):
                self.known[key] = float(value)
        now = time.perf_counter()
        if done < self.total and now - self.last < self.interval:
            return
        rate = (done - self.last_done) / max(now - self.last, 1e-9)  # over the last interval: compiles and
        self.last, self.last_done = now, done                          # warm-up do not skew the ETA
        parts = [f"{self.desc}: {self.noun} {done}/{self.total}" + (f" ({phase})" if phase else "")]
        if loss is not None:
            parts.append(f"loss {loss:.3e}")
        parts += [f"{k} {v:.3e}" for k, v in self.known.items()]
        parts.append(f"{rate:.3g} {self.noun}s/s")
        parts.append(f"ETA {_duration((self.total - done) / rate) if rate > 0 else '?'}" if done < self.total
                     else f"done in {_duration(now - self.t0)}")
        print("  ".join(parts), file=self.stream, flush=True)


class Progress:
    """Both reporters of work counted in ``noun``\\ s: a tqdm bar on a terminal, :class:`ProgressLog`
    lines without one.  ``update(done)`` takes the count done so far; ``close()`` ends the bar."""

    def __init__(self, desc: str, total: int, initial: int = 0, noun: str = "step", enabled: bool = True) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, initial=initial, desc=desc, unit=noun, disable=None if enabled else True)
        self.lines = ProgressLog(desc, total, initial=initial, noun=noun, enabled=enabled)

    def update(self, done: int) -> None:
        if done > self.bar.n:
            self.bar.update(done - self.bar.n)
        self.lines.update(done)

    def close(self) -> None:
        self.bar.close()
