"""End to end through the real spectral references: every shipped spec, tiny, from spec to xarray."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sciml_core.data import open_dataset, validate_file
from sciml_core.data.generate import generate
from sciml_core.data.specs import load_spec
from sciml_core.errors import UnknownNameError

# tiny overrides per spec: grid points, final time (short: this checks plumbing, not physics)
TINY = {
    "burgers-1d": (32, 0.05), "allen-cahn-1d": (32, 0.05), "ks-1d": (32, 0.01),
    "ns-kolmogorov-2d": (16, 0.05), "rd-spiral-stable": (16, 0.5), "rd-spiral-turbulent": (16, 0.5),
    "rd-spiral-decay": (16, 0.5),
}


@pytest.mark.parametrize("name", sorted(TINY))
def test_shipped_spec_end_to_end(name: str, tmp_path: Path) -> None:
    n, t_end = TINY[name]
    spec = load_spec(name, {"n_samples": 2, "block_size": 1, "times": {"t_end": t_end, "n_t": 3},
                            "solver": {"config": {"n": n}}})
    try:
        report = generate(spec, tmp_path / f"{name}.h5", seed=1, progress=False)
    except UnknownNameError as exc:  # the spectral references are another issue's work
        pytest.skip(str(exc))
    header = validate_file(report.path)  # complete, finite
    assert report.n_generated == 2 and all(header.dims[d] == n for d in header.space_dims)
    with open_dataset(report.path) as ds:
        field = ds[header.fields[0]].values
        assert field.shape[:2] == (2, 3) and np.isfinite(field).all()
        assert not np.array_equal(field[0], field[1])  # samples differ
        assert float(ds.t[-1]) == pytest.approx(t_end)
