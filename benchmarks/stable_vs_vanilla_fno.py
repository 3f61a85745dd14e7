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
    # the same work in processes of one core each (a dataset's two models may be apart), then merged:
    python benchmarks/stable_vs_vanilla_fno.py --datasets ks-l22 --models fno --ablation bounded_filter --part a.json &
    python benchmarks/stable_vs_vanilla_fno.py --datasets ks-l22 --models stable-fno --no-ablation --part b.json
    python benchmarks/stable_vs_vanilla_fno.py --merge a.json b.json     # results file + spectra plots

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
    # its vorticity carries energy up to |k| ~ 30 (2D turbulence; the frames change by 41 % rel L2 per
    # step): at width 8 / 8 modes fno's one-step rel L2 was 0.35 (2026-12-02), so 16 / 16 here
    "ns-kolmogorov-re1000": {"pde": "navier-stokes-2d", "fno": {"width": 16, "n_modes": 16}, "lyapunov": 0.0},
}
SWITCHES = ("radial_truncation", "bounded_filter", "fourier_nonlinearity", "spectral_norm", "residual_mlp",
            "output_filter", "prenorm")
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
                 **switches: Any) -> dict[str, Any]:
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
        # it matters where vanilla fails and the stabilised model does not: vanilla blows up (or its
        # spectrum is non-finite) while stable stays bounded, or vanilla's spectrum error is >= 2x
        "stabiliser_visibly_matters": (stable["blowup_step"] is None and s_err is not None
                                       and (vanilla["blowup_step"] is not None or v_err is None or v_err >= 2 * s_err)),
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


def dataset_setup(name: str, data_dir: Path, quick: bool, extra: list[str]) -> dict[str, Any]:
    """Everything the runs on dataset ``name`` share: the file, the PDE, the overrides every run
    gets (equal budgets), the vanilla model and its parameter count."""
    from sciml_core.config import parse_overrides
    from sciml_core.data.schema import read_header
    from solvers.neural_operator.configs import FNOConfig
    from solvers.neural_operator.models import build_model, n_params

    info = DATASETS[name]
    data = ensure_data(name, data_dir, quick)
    header = read_header(data)
    channels, n_dim = len(header.fields), len(header.space_dims)
    common = list(extra)
    if info["lyapunov"]:
        common.append(f"long.lyapunov_exponent={info['lyapunov']}")
    if quick:
        common += ["long.steps=40", "long.truth_steps=20", "data.n_test=4", "long.chunk=20"]
    # quick: fno width 10, where every quick ablation row of the dense stable-fno has a width within 10 %
    # of fno's count (at width 8 the residual-MLP row could not: 0.89 at width 6, > 1.1 at 7)
    fno_model = {**info["fno"], **({"width": 10, "n_modes": 8, "n_layers": 2} if quick else {})}
    fno_params = n_params(build_model("fno", dataclasses.replace(FNOConfig(), **fno_model), channels, channels, n_dim))
    # --set model.X (e.g. spectral_mixing=depthwise) changes stable-fno's size: its width is matched with them
    matched = {k: v for k, v in parse_overrides(extra).get("model", {}).items() if k not in ("width", "n_modes")}
    return {"info": info, "data": data, "channels": channels, "n_dim": n_dim, "common": common,
            "grid": [header.dims[d] for d in header.space_dims], "fno_model": fno_model, "fno_params": fno_params,
            "small": {**({"n_layers": 2} if quick else {}), **matched}}


MODELS = {"fno": "vanilla", "stable-fno": "stable"}  # solver -> key of its row in a results entry


def compare(name: str, setup: dict[str, Any], preset: str, run: Any, models: list[str]) -> dict[str, Any]:
    """fno and / or the parameter-matched stable-fno on one dataset: the results entry (the
    targets once both rows are there, here or after --merge)."""
    s = setup
    configs = {"fno": s["fno_model"],
               "stable-fno": stable_model(s["fno_params"], s["channels"], s["channels"], s["grid"],
                                          s["fno_model"]["n_modes"], **s["small"])}
    entry: dict[str, Any] = {"name": name}
    for solver in models:
        row = train_and_evaluate(solver, s["info"]["pde"], s["data"], configs[solver], s["common"], preset, run(solver))
        long = row.pop("_long")
        entry.update({"rollout_steps": long["rollout_steps"], "n_initial_conditions": long["n_initial_conditions"],
                      "truth_steps": long["truth_steps"], "spectrum_true": long["spectrum_true"], MODELS[solver]: row})
    return complete(entry)


def complete(entry: dict[str, Any]) -> dict[str, Any]:
    """Add the parameter ratio and the targets to an entry holding both rows."""
    if "vanilla" in entry and "stable" in entry:
        entry["params_ratio"] = entry["stable"]["params"] / entry["vanilla"]["params"]
        entry["targets"] = targets(entry["vanilla"], entry["stable"], chaotic=bool(DATASETS[entry["name"]]["lyapunov"]))
    return entry


def ablate(switches: list[str], setup: dict[str, Any], preset: str, run: Any) -> list[dict[str, Any]]:
    """stable-fno on KS with each switch in ``switches`` flipped in turn (width re-matched)."""
    from solvers.neural_operator.configs import StableFNOConfig

    s, defaults, rows = setup, StableFNOConfig(), []
    for switch in switches:
        flipped = {switch: not getattr(defaults, switch)}
        if switch == "radial_truncation" and s["n_dim"] == 1 and defaults.cutoff is None:
            # in 1D the disc |k| <= n_modes // 2 is SpectralConv's own block: the same model (figures
            # copied from the stable-fno entry, by this run or by --merge)
            rows.append({"switch": switch, "value": False, "same_as": "stable",
                         "note": "identical to stable-fno in 1D (the disc is the retained block)"})
            continue
        model = stable_model(s["fno_params"], s["channels"], s["channels"], s["grid"], s["fno_model"]["n_modes"],
                             **{**s["small"], **flipped})
        row = train_and_evaluate("stable-fno", s["info"]["pde"], s["data"], model, s["common"], preset,
                                 run(f"ablate-{switch}"))
        row.pop("_long")
        rows.append({"switch": switch, "value": flipped[switch], **row})
    return rows


def merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One results dict from the ``--part`` files of runs made in parallel: datasets in the
    order they first appear, a dataset's fno and stable-fno rows possibly from different
    parts, ablation rows in :data:`SWITCHES` order.  Refused (ValueError) when the parts
    disagree on the preset, the overrides or quick, repeat a model of a dataset or a switch,
    or leave a dataset without one of its two rows."""
    for key in ("preset", "overrides", "quick"):
        if len({str(p[key]) for p in parts}) > 1:
            raise ValueError(f"--merge: the parts differ in {key!r}: {[p[key] for p in parts]}")
    merged: dict[str, dict[str, Any]] = {}
    for e in (e for p in parts for e in p["datasets"]):
        into = merged.setdefault(e["name"], {})
        for label in MODELS.values():
            if label in e and label in into:
                raise ValueError(f"--merge: dataset {e['name']!r} has its {label} row in more than one part")
        into.update({k: v for k, v in e.items() if k not in ("targets", "params_ratio")})
    for name, e in merged.items():
        missing = [label for label in MODELS.values() if label not in e]
        if missing:
            raise ValueError(f"--merge: dataset {name!r} has no {missing[0]} row in any part")
    rows = [a for p in parts for a in p["ablation_ks"]]
    switches = [a["switch"] for a in rows]
    repeated = sorted({n for n in switches if switches.count(n) > 1})
    if repeated:
        raise ValueError(f"--merge: ablation switch {repeated[0]!r} is in more than one part")
    rows.sort(key=lambda a: SWITCHES.index(a["switch"]))
    return {"datasets": [complete(e) for e in merged.values()], "ablation_ks": rows, "preset": parts[0]["preset"],
            "overrides": parts[0]["overrides"], "wall_s": max(p["wall_s"] for p in parts),
            "parts": [{"command": p.get("command"), "wall_s": p["wall_s"], "machine": p.get("machine")} for p in parts]}


def fill_same_as(results: dict[str, Any]) -> None:
    """Copy the ks-l22 stable-fno figures into ablation rows that are that same model."""
    ks = next((e for e in results["datasets"] if e["name"] == "ks-l22"), None)
    for row in results["ablation_ks"]:
        if row.get("same_as") and ks is not None:
            row.update({k: ks[row["same_as"]][k] for k in KEYS})


def report(results: dict[str, Any], quick: bool) -> None:
    """Print the tables, write the results file and (full runs) the spectra plots."""
    entries, ablation = results["datasets"], results["ablation_ks"]
    fill_same_as(results)
    rows = [[e["name"], label, e[label]["params"], e[label]["one_step_rel_l2"], e[label]["valid_steps"],
             e[label]["chaos_valid_steps"], e[label]["blowup_step"], e[label]["spectrum_log_err"], e[label]["train_wall_s"]]
            for e in entries for label in ("vanilla", "stable")]
    header = ["dataset", "model", "params", "one_step", "valid", "chaos_valid", "blowup", "spec_log_err", "train_s"]
    print_table(rows, header)
    for e in entries:
        print(f"{e['name']}: targets {e['targets']}")
    if ablation:
        print_table([[f"{a['switch']}={a['value']}", a.get("params"), a.get("one_step_rel_l2"), a.get("valid_steps"),
                      a.get("chaos_valid_steps"), a.get("blowup_step"), a.get("spectrum_log_err")] for a in ablation],
                    ["ks-l22 stable-fno with", "params", "one_step", "valid", "chaos_valid", "blowup", "spec_log_err"])
    write_results(__file__, results, quick)
    if not quick:
        for e in entries:
            plot_spectra(e["name"], e, REPO / "docs" / "figures" / f"stable_vs_vanilla_fno_{e['name']}_spectrum.png")


def write_part(path: Path, results: dict[str, Any], quick: bool) -> None:
    """This process's share of a parallel run (``--part``), atomically, for ``--merge``."""
    import json
    import os

    from _common import machine_facts

    payload = {**results, "quick": quick, "command": " ".join([Path(sys.executable).name, *sys.argv]),
               "machine": machine_facts()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=lambda o: o.item() if hasattr(o, "item") else str(o)) + "\n")
    os.replace(tmp, path)
    print(f"part written to {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny data, quick preset, short rollouts")
    parser.add_argument("--datasets", nargs="*", default=["ks-l22", "rd-spiral-rollout"], choices=list(DATASETS),
                        help="the fno vs stable-fno comparisons to run (none: only --ablation)")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS),
                        help="train only these on --datasets (the other row comes from another --part)")
    parser.add_argument("--data-dir", type=Path, default=REPO / "data")
    parser.add_argument("--runs", type=Path, default=None, help="write each run's directory here")
    parser.add_argument("--no-ablation", action="store_true")
    parser.add_argument("--ablation", nargs="+", default=None, choices=SWITCHES, metavar="SWITCH",
                        help=f"run the KS ablation for these switches only ({', '.join(SWITCHES)}); default: "
                             "all of them when ks-l22 is among --datasets")
    parser.add_argument("--part", type=Path, default=None,
                        help="write this run's results to PART (no plots) for a later --merge")
    parser.add_argument("--merge", type=Path, nargs="+", default=None, metavar="PART",
                        help="train nothing: merge --part files into the results file and plots")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="extra override for every run (equal budgets), e.g. train.adam_steps=1000")
    args = parser.parse_args(argv)
    if set(args.models) != set(MODELS) and args.datasets and not args.part:
        parser.error("--models with one model needs --part (the results file holds both rows of a dataset)")
    if args.merge:
        import json

        parts = [json.loads(p.read_text()) for p in args.merge]
        try:
            merged = merge(parts)
        except ValueError as exc:
            parser.error(str(exc))  # exit 2, nothing written
        report(merged, quick=bool(parts[0]["quick"]))
        return 0

    import torch

    torch.set_num_threads(1)
    tmp = tempfile.TemporaryDirectory() if args.quick else None
    data_dir = Path(tmp.name) if tmp else args.data_dir
    preset = "quick" if args.quick else "default"
    switches = args.ablation if args.ablation is not None else (
        list(SWITCHES) if "ks-l22" in args.datasets and not args.no_ablation else [])
    entries, ablation, started = [], [], time.perf_counter()
    for name in args.datasets:
        setup = dataset_setup(name, data_dir, args.quick, args.set)
        run = (lambda label, n=name: args.runs / n / label) if args.runs else (lambda label: None)
        entries.append(compare(name, setup, preset, run, args.models))
    if switches:
        setup = dataset_setup("ks-l22", data_dir, args.quick, args.set)
        run = (lambda label: args.runs / "ks-l22" / label) if args.runs else (lambda label: None)
        ablation = ablate(switches, setup, preset, run)
    results = {"datasets": entries, "ablation_ks": ablation, "preset": preset, "overrides": args.set,
               "wall_s": round(time.perf_counter() - started, 1)}
    if args.part:
        write_part(args.part, results, args.quick)
    else:
        report(results, args.quick)
    if tmp:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
