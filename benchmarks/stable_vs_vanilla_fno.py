"""Stabilised vs vanilla FNO on long autoregressive rollouts (McCabe et al. 2023; issue 21).

For every dataset: neuraloperator's FNO (``fno``) and ``stable-fno`` with its width chosen so
that the parameter counts agree within 10 %, trained with the same budget (preset, steps,
batch, optimiser, seed) on the same file, then rolled out from the same held-out initial
conditions (>= 16) for 10,000 steps in 1D and 2,000 in 2D.  Reported per model: params,
one_step_rel_l2, valid_steps and chaos_valid_steps (rel L2 <= 0.5; the reference solver from
a perturbation of the model's one-step size), blowup_step, spectrum_log_err; on KS an
ablation (each stabilising switch flipped in turn, width re-matched).  Targets (issue 21):
stable never blows up; its spectrum_log_err <= vanilla's; its one-step error within 25 % of
vanilla's; on KS valid_steps >= chaos_valid_steps / 2; and somewhere the stabiliser visibly
matters (vanilla blows up, or its spectrum_log_err >= 2x stable's).

    python benchmarks/stable_vs_vanilla_fno.py                 # full CPU run (datasets in data/)
    python benchmarks/stable_vs_vanilla_fno.py --quick         # smoke run, tiny data, a minute
    python benchmarks/stable_vs_vanilla_fno.py --datasets ks-l22 --no-ablation

Writes benchmarks/results/stable_vs_vanilla_fno.json and, for the full run, the spectra
plots docs/figures/stable_vs_vanilla_fno_<dataset>_spectrum.png.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from _common import print_table, write_results  # noqa: E402

# dataset -> (PDE, FNO model overrides, extra solver overrides, Lyapunov exponent or 0)
DATASETS: dict[str, dict[str, Any]] = {
    "ks-l22": {"pde": "kuramoto-sivashinsky", "fno": {"width": 48, "n_modes": 16}, "lyapunov": 0.043},
    # 2D: small models, so that 2,000-step rollouts of 16 states stay minutes on a CPU core
    "rd-spiral-rollout": {"pde": "reaction-diffusion", "fno": {"width": 8, "n_modes": 8}, "lyapunov": 0.0},
    "ns-kolmogorov-re1000": {"pde": "navier-stokes-2d", "fno": {"width": 8, "n_modes": 8}, "lyapunov": 0.0},
}
SWITCHES = ("radial_truncation", "bounded_filter", "fourier_nonlinearity", "spectral_norm", "residual_mlp",
            "output_filter")
KEYS = ("params", "one_step_rel_l2", "valid_steps", "chaos_valid_steps", "blowup_step", "spectrum_log_err")
QUICK_SPEC = {"n_samples": 8, "block_size": 4, "times": {"t_start": 20.0, "t_end": 27.5, "n_t": 31},
              "solver": {"config": {"n": 24}}}


def ensure_data(name: str, data_dir: Path, quick: bool) -> Path:
    """The dataset file (generated when missing; re-running completes a partial one)."""
    from sciml_core.data.generate import generate
    from sciml_core.data.specs import load_spec

    path = data_dir / f"{name}{'.quick' if quick else ''}.h5"
    spec = load_spec(name, QUICK_SPEC if quick else None)
    report = generate(spec, path, progress=False)
    if report.n_generated:
        print(f"generated {path} ({report.n_generated} samples, {report.wall_s:.1f} s)")
    return path


def stable_model(fno_params: int, in_channels: int, out_channels: int, grid: list[int], n_modes: int,
                 **switches: bool) -> dict[str, Any]:
    """stable-fno model overrides whose parameter count (output filter included) is closest to
    ``fno_params``."""
    import math

    from solvers.neural_operator.configs import StableFNOConfig
    from solvers.neural_operator.models import width_for_params

    base = dataclasses.replace(StableFNOConfig(n_modes=n_modes), **switches)
    output_filter = 2 * out_channels * math.prod(grid[:-1]) * (grid[-1] // 2 + 1) if base.output_filter else 0
    width = width_for_params(base, fno_params - output_filter, in_channels, out_channels, len(grid))
    return {"width": width, "n_modes": n_modes, **switches}


def train_and_evaluate(solver: str, pde: str, data: Path, model: dict[str, Any], common: list[str],
                       preset: str, out: Path | None) -> dict[str, Any]:
    from sciml_core import solve

    overrides = [*common, *(f"model.{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in model.items())]
    start = time.perf_counter()
    result = solve(pde, solver, preset=preset, data=data, device="cpu", progress=False, overrides=overrides,
                   out=out, force=True)
    m = result.metrics
    long = m.get("long", {})
    row = {key: m.get(key) for key in KEYS}
    row.update({"model": model, "wall_s": round(time.perf_counter() - start, 1), "train_wall_s": m["train_wall_s"],
                "valid_lyapunov_times": long.get("valid_lyapunov_times"),
                "chaos_valid_lyapunov_times": long.get("chaos_valid_lyapunov_times"),
                "valid_steps_censored": long.get("valid_steps_censored"), "truth_steps": long.get("truth_steps"),
                "spectrum_model": long.get("spectrum_model"), "final_loss": m["final_loss"]})
    row["_long"] = long
    return row


def targets(vanilla: dict[str, Any], stable: dict[str, Any], chaotic: bool) -> dict[str, bool | None]:
    """The issue's per-dataset targets (None where a figure is missing)."""
    v_err, s_err = vanilla["spectrum_log_err"], stable["spectrum_log_err"]
    out: dict[str, bool | None] = {
        "stable_never_blows_up": stable["blowup_step"] is None,
        "stable_spectrum_at_most_vanilla": (s_err is not None and (v_err is None or s_err <= v_err)),
        "stable_one_step_within_25pct": stable["one_step_rel_l2"] <= 1.25 * vanilla["one_step_rel_l2"],
        "stabiliser_visibly_matters": (vanilla["blowup_step"] is not None
                                       or (v_err is None) or (s_err is not None and v_err >= 2 * s_err)),
    }
    if chaotic:
        out["stable_valid_at_least_half_chaos"] = stable["valid_steps"] >= 0.5 * stable["chaos_valid_steps"]
    return out


def plot_spectra(name: str, entry: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from solvers.neural_operator.plots import plot_spectra as draw

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    spectra = {f"fno ({entry['vanilla']['params'] / 1e3:.0f}k)": entry["vanilla"]["spectrum_model"],
               f"stable-fno ({entry['stable']['params'] / 1e3:.0f}k)": entry["stable"]["spectrum_model"]}
    draw(ax, spectra, entry["spectrum_true"],
         f"{name}: energy spectrum, 2nd half of {entry['rollout_steps']} steps, {entry['n_initial_conditions']} ICs")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"plot written to {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny data, quick preset, short rollouts")
    parser.add_argument("--datasets", nargs="+", default=["ks-l22", "rd-spiral-rollout"], choices=list(DATASETS))
    parser.add_argument("--data-dir", type=Path, default=REPO / "data")
    parser.add_argument("--runs", type=Path, default=None, help="write each run's directory here")
    parser.add_argument("--no-ablation", action="store_true")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="extra override for every run (equal budgets), e.g. train.adam_steps=1000")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    from solvers.neural_operator.configs import FNOConfig
    from solvers.neural_operator.models import build_model, n_params

    tmp = tempfile.TemporaryDirectory() if args.quick else None
    data_dir = Path(tmp.name) if tmp else args.data_dir
    preset = "quick" if args.quick else "default"
    entries, ablation, started = [], [], time.perf_counter()
    for name in args.datasets:
        info = DATASETS[name]
        data = ensure_data(name, data_dir, args.quick)
        from sciml_core.data.schema import read_header

        header = read_header(data)
        channels, n_dim = len(header.fields), len(header.space_dims)
        grid = [header.dims[d] for d in header.space_dims]
        common = list(args.set)
        if info["lyapunov"]:
            common.append(f"long.lyapunov_exponent={info['lyapunov']}")
        if args.quick:
            common += ["long.steps=40", "long.truth_steps=20", "data.n_test=4", "long.chunk=20"]
        fno_model = {**info["fno"], **({"width": 8, "n_modes": 8, "n_layers": 2} if args.quick else {})}
        fno_params = n_params(build_model("fno", dataclasses.replace(FNOConfig(), **fno_model), channels, channels,
                                          n_dim))
        run = (lambda label: args.runs / name / label) if args.runs else (lambda label: None)
        stable_cfg = stable_model(fno_params, channels, channels, grid, fno_model["n_modes"],
                                  **({"n_layers": 2} if args.quick else {}))
        vanilla = train_and_evaluate("fno", info["pde"], data, fno_model, common, preset, run("fno"))
        stable = train_and_evaluate("stable-fno", info["pde"], data, stable_cfg, common, preset, run("stable-fno"))
        long = stable.pop("_long")
        vanilla.pop("_long")
        entry = {"name": name, "rollout_steps": long["rollout_steps"],
                 "n_initial_conditions": long["n_initial_conditions"], "truth_steps": long["truth_steps"],
                 "params_ratio": stable["params"] / vanilla["params"], "vanilla": vanilla, "stable": stable,
                 "spectrum_true": long["spectrum_true"]}
        entry["targets"] = targets(vanilla, stable, chaotic=bool(info["lyapunov"]))
        entries.append(entry)
        if name == "ks-l22" and not args.no_ablation:
            from solvers.neural_operator.configs import StableFNOConfig

            defaults = StableFNOConfig()
            for switch in SWITCHES:
                flipped = {switch: not getattr(defaults, switch)}
                if switch == "radial_truncation" and n_dim == 1 and defaults.cutoff is None:
                    # in 1D the disc |k| <= n_modes // 2 is SpectralConv's own block: the same model
                    ablation.append({"switch": switch, "value": False, **{k: stable[k] for k in KEYS},
                                     "note": "identical to stable-fno in 1D (the disc is the retained block)"})
                    continue
                model = stable_model(fno_params, channels, channels, grid, fno_model["n_modes"], **flipped,
                                     **({"n_layers": 2} if args.quick else {}))
                row = train_and_evaluate("stable-fno", info["pde"], data, model, common, preset, run(f"ablate-{switch}"))
                row.pop("_long")
                ablation.append({"switch": switch, "value": flipped[switch], **row})

    rows = [[e["name"], label, e[label]["params"], e[label]["one_step_rel_l2"], e[label]["valid_steps"],
             e[label]["chaos_valid_steps"], e[label]["blowup_step"], e[label]["spectrum_log_err"], e[label]["train_wall_s"]]
            for e in entries for label in ("vanilla", "stable")]
    header = ["dataset", "model", "params", "one_step", "valid", "chaos_valid", "blowup", "spec_log_err", "train_s"]
    print_table(rows, header)
    for e in entries:
        print(f"{e['name']}: targets {e['targets']}")
    if ablation:
        print_table([[f"{a['switch']}={a['value']}", a["params"], a["one_step_rel_l2"], a["valid_steps"],
                      a["chaos_valid_steps"], a["blowup_step"], a["spectrum_log_err"]] for a in ablation],
                    ["ks-l22 stable-fno with", "params", "one_step", "valid", "chaos_valid", "blowup", "spec_log_err"])
    results = {"datasets": entries, "ablation_ks": ablation, "preset": preset, "overrides": args.set,
               "wall_s": round(time.perf_counter() - started, 1)}
    write_results(__file__, results, args.quick)
    if not args.quick:
        for e in entries:
            plot_spectra(e["name"], e, REPO / "docs" / "figures" / f"stable_vs_vanilla_fno_{e['name']}_spectrum.png")
    if tmp:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
