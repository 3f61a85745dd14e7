"""Where a trained 1D ``stable-fno`` / ``fno`` rollout gains energy: per-mode energy against the truth's.

    python benchmarks/rollout_mode_energy.py RUN_DIR [STEPS]      # e.g. runs/ks-stable 120

Reloads the run's checkpoint (a copy of the run directory is resumed in a temporary folder, so
``RUN_DIR`` is not touched), rolls the model out for ``STEPS`` steps from the held-out initial
states and prints every 10 steps the RMS norm, the largest |mean| (mode k = 0) and the energy
``E_k = mean_ics |u_hat_k|^2`` of modes k = 0..12 divided by the training data's mean ``E_k``;
then the output filter's gains |g_k| and, for dense spectral layers, the largest singular value
of ``g_k W_k`` per retained mode and block.  Used for the blow-up diagnosis in
docs/neural_operator.md ("Dense spectral mixing").
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def report(solver: object, model: torch.nn.Module, data: object, steps: int) -> None:
    """The per-mode energy table and the layer gains (see the module docstring)."""
    stepper = solver.physical_stepper(model, data, data.test_params)
    truth = data.denormalise(data.train).double()  # (N, T, C, X)
    e_true = (torch.fft.rfft(truth[:, :, 0], dim=-1).abs() ** 2).mean(dim=(0, 1))
    u = data.denormalise(data.test[:, :1]).clone()
    with torch.no_grad():
        for t in range(steps + 1):
            if t % 10 == 0 or t == steps:
                last = u[:, -1, 0].double()
                rel = ((torch.fft.rfft(last, dim=-1).abs() ** 2).mean(0) / e_true).numpy()
                print(f"t={t:5d} rms {last.pow(2).mean().sqrt():.3g} |mean| {last.mean(-1).abs().max():.3g} "
                      f"E/E_true k=0..12: {' '.join(f'{r:.2g}' for r in rel[:13])}  max at k={int(np.argmax(rel))}")
            if not torch.isfinite(u).all():
                break
            u = stepper(u, t + 1)[:, :1]
        if getattr(model, "output_filter", None) is not None:
            g = model.output_filter.filter.gain().abs()[0]
            print("output filter |g_k| k=0..16:", " ".join(f"{x:.4f}" for x in g[:17].tolist()))
        for i, block in enumerate(getattr(model.net, "blocks", [])):
            layer = block.filter
            if hasattr(layer, "gain_weight"):  # DenseSpectralFilter: sigma_max(g_k W_k) per mode
                w = layer.weight.tensor  # (in, out, k)
                g = layer.gain()
                w = w * g.unsqueeze(0) if g is not None else w
                sigma = torch.linalg.matrix_norm(w.permute(2, 1, 0), ord=2)
                print(f"block {i} sigma_max(g_k W_k):", " ".join(f"{x:.2f}" for x in sigma.tolist()))


def main(argv: list[str]) -> int:
    from sciml_core import solve
    from solvers.neural_operator import solver as no_solver

    run, steps = Path(argv[0]), int(argv[1]) if len(argv) > 1 else 120
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / run.name
        shutil.copytree(run, copy)
        for name in ("metrics.json", "solution.nc"):
            (copy / name).unlink(missing_ok=True)

        def evaluate(self: object, model: torch.nn.Module, data: object) -> None:
            report(self, model, data, steps)
            raise SystemExit(0)  # nothing written: the report is the output

        no_solver.NeuralOperatorSolver._evaluate = evaluate  # resume at the last step, then report
        solve(config=copy / "config.toml", out=copy, resume=True, device="cpu", progress=False)  # its data file
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
