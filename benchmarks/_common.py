"""Shared plumbing for benchmark scripts: machine facts, a printed table, the JSON results file.

Every benchmark writes ``benchmarks/results/<script>.json`` holding its own keys plus
``machine`` (cores, torch version, device, date) and ``command`` (how to reproduce it).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

RESULTS = Path(__file__).resolve().parent / "results"


def machine_facts(device: str = "cpu") -> dict[str, Any]:
    """Cores, threads, torch/numpy versions, device name, date."""
    facts = {
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "device": device,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if device.startswith("cuda") and torch.cuda.is_available():
        facts["gpu"] = torch.cuda.get_device_name(0)
    return facts


def print_table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> None:
    """Print rows as an aligned plain-text table."""
    cells = [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) for i, h in enumerate(header)]
    print("  ".join(str(h).ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def write_results(script: str, results: dict[str, Any], quick: bool, device: str = "cpu") -> Path:
    """Write ``benchmarks/results/<script>.json`` (``<script>.quick.json`` for --quick runs)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = Path(script).stem + (".quick" if quick else "")
    path = RESULTS / f"{name}.json"
    payload = {**results, "quick": quick, "command": " ".join([Path(sys.executable).name, *sys.argv]),
               "machine": machine_facts(device)}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=lambda o: o.item() if hasattr(o, "item") else str(o)) + "\n")
    os.replace(tmp, path)
    print(f"results written to {path}")
    return path
