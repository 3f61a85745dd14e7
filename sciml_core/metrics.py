"""Error metrics.

``rel_l2`` is the project's headline figure: ||pred - ref||_2 / ||ref||_2 over every grid
point (and sample / field) of a solution.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def rel_l2(prediction: Any, reference: Any) -> float:
    """Relative L2 error ||prediction - reference|| / ||reference|| over all entries."""
    pred = np.asarray(prediction, dtype=np.float64)
    ref = np.asarray(reference, dtype=np.float64)
    if pred.shape != ref.shape:
        raise ValueError(f"rel_l2: shapes differ, prediction {pred.shape} vs reference {ref.shape}")
    denom = np.linalg.norm(ref.ravel())
    return float(np.linalg.norm((pred - ref).ravel()) / denom) if denom > 0 else float(np.linalg.norm(pred.ravel()))
