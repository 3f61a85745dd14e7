"""Atomic checkpoints that load safely.

Checkpoints are written to a temporary file and renamed, so a kill never leaves a torn
file, and are read with ``torch.load(..., weights_only=True)``: a checkpoint downloaded
from elsewhere can hold tensors and plain containers but cannot run code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..errors import CheckpointError
from ..run import atomic_path


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (tensors and plain data only)."""
    import warnings
    import zipfile

    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"no checkpoint to resume from at {str(path)!r}")
    if not zipfile.is_zipfile(path):  # torch.save writes a zip archive
        raise CheckpointError(f"cannot read checkpoint {str(path)!r}: not a checkpoint written by sciml "
                              "(corrupt, truncated or another kind of file)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt or unsafe files
        text = str(exc)
        if "Weights only load failed" in text or "Unsupported global" in text:
            raise CheckpointError(f"cannot read checkpoint {str(path)!r}: it holds Python objects besides tensors "
                                  "and plain data, and loading those could run code; refused") from None
        first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
        raise CheckpointError(f"cannot read checkpoint {str(path)!r}: {first}") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"cannot read checkpoint {str(path)!r}: it holds {type(state).__name__}, not a "
                              "checkpoint's dict")
    return state
