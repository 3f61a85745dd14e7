"""Per-step time of the shipped PINN presets with each derivative engine, in one run.

A step is what the trainer does in the Adam phase: the objective's loss (resampling, the
network on a Taylor jet or nested reverse mode, the causal weights, soft terms), the backward
pass and a fused Adam update, in float32 on one torch thread.  For every preset the engines
run in interleaved rounds of ``--steps`` steps (so the shared host's drift hits them alike)
and the median round is reported:

* ``compiled``: jets with the numba kernels of :mod:`sciml_core.nn.jet_kernels` (``jet_engine = compiled``);
* ``tensor``: jets with the tensor rules, differentiated by autograd (``jet_engine = tensor``, the CUDA path);
* ``reverse``: nested reverse mode (``derivatives = autograd``; on one time window, see ``ONE_WINDOW``).

``--baseline DIR`` also times every preset's default engine with the package tree ``DIR`` on
the path (e.g. an export of an earlier commit), in a subprocess of this run, just before the
preset's own rounds:
``before_ms``, and ``after_over_before`` = compiled / before.  With ``--baseline-only`` that is
all the run does; its figures are kept in the results file (``before_first_run``) by later runs.

    python benchmarks/pinn_derivative_engines.py [--quick] [--baseline DIR [--baseline-only]]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine_facts, print_table, write_results

#: (pde, solver, preset): the causal-PINN defaults, the vanilla PINN's, and the demo.
PRESETS = [("allen-cahn", "causal-pinn", "default"), ("kuramoto-sivashinsky", "causal-pinn", "default"),
           ("burgers", "causal-pinn", "default"), ("burgers", "pinn", "default"), ("burgers", "pinn", "quick")]
QUICK = [("burgers", "causal-pinn", "quick")]
ENGINES = {"compiled": {"jet_engine": "compiled"}, "tensor": {"jet_engine": "tensor"},
           "reverse": {"derivatives": "autograd"}, "default": {}}
#: Reverse mode cannot march (the previous window's end state enters as a jet); a step of one
#: window costs the same as a step of window k, so it times the preset on one window.
ONE_WINDOW = {"causal": {"windows": 1}}


def build(pde: str, solver: str, preset: str, overrides: dict) -> tuple[torch.nn.Module, object, torch.optim.Optimizer]:
    """The preset's network, objective and fused Adam, as ``sciml solve`` builds them (float32, CPU)."""
    from sciml_core.config import build_config, deep_merge
    from sciml_core.registry import get_pde, get_solver
    from sciml_core.solver import RunContext

    cls = get_solver(solver)
    cfg = build_config(cls.Config, deep_merge(cls.preset_config(preset, pde), overrides))
    torch.manual_seed(0)
    run = cls(get_pde(pde)(), cfg, RunContext(progress=False))
    net = run.build_network().to(dtype=torch.float32)
    objective = run.build_objective(net)
    params = [p for p in net.parameters() if p.requires_grad]
    return net, objective, torch.optim.Adam(params, lr=cfg.train.lr, fused=True)


def timer(pde: str, solver: str, preset: str, engine: str):
    """A function running ``n`` training steps of the preset with ``engine`` and returning seconds per step."""
    overrides = {**ENGINES[engine], **(ONE_WINDOW if engine == "reverse" and solver == "causal-pinn" else {})}
    net, objective, optimizer = build(pde, solver, preset, overrides)
    state = {"step": 0}

    def run(n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            optimizer.zero_grad(set_to_none=True)
            loss, _ = objective.loss(state["step"])
            loss.backward()
            optimizer.step()
            state["step"] += 1
        return (time.perf_counter() - start) / n

    return run


def measure(presets: list, engines: list[str], rounds: int, steps: int) -> dict[str, dict[str, float]]:
    """Median seconds per step of every (preset, engine), engines interleaved round by round."""
    out = {}
    for pde, solver, preset in presets:
        runs = {e: timer(pde, solver, preset, e) for e in engines}
        for run in runs.values():
            run(3)  # warm-up: kernels compiled, allocator primed
        times: dict[str, list[float]] = {e: [] for e in engines}
        for _ in range(rounds):
            for e, run in runs.items():
                # reverse mode is up to 10x slower: fewer steps per round keep the run short
                times[e].append(run(max(1, steps // 4) if e == "reverse" else steps))
        out[f"{pde}/{solver}/{preset}"] = {e: 1e3 * statistics.median(v) for e, v in times.items()}
    return out


def baseline(tree: Path, presets: list, rounds: int, steps: int) -> dict[str, float]:
    """The default engine's ms per step with the package tree ``tree`` first on the path."""
    code = (f"import sys, json; sys.path[:0] = [{str(tree)!r}, {str(Path(__file__).parent)!r}]; "
            "import torch; torch.set_num_threads(1); import pinn_derivative_engines as b; "
            f"print(json.dumps(b.measure({presets!r}, ['default'], {rounds}, {steps})))")
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return {k: v["default"] for k, v in json.loads(done.stdout.strip().splitlines()[-1]).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="the quick Burgers preset, few steps")
    parser.add_argument("--baseline", type=Path, help="package tree to time the presets' default engine with")
    parser.add_argument("--baseline-only", action="store_true", help="time only the baseline tree")
    parser.add_argument("--baseline-label", default="", help="what the baseline tree is (e.g. its commit)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(1)
    presets = QUICK if args.quick else PRESETS
    rounds, steps = (1, 2) if args.quick else (args.rounds, args.steps)
    previous = RESULTS / "pinn_derivative_engines.json"
    first = json.loads(previous.read_text()).get("before_first_run") if previous.exists() and not args.quick else None
    if args.baseline_only:
        before = baseline(args.baseline, presets, rounds, steps)
        print_table([[k, v] for k, v in before.items()], header=["preset", "before ms"])
        first = {"tree": str(args.baseline), "label": args.baseline_label, "date": machine_facts()["date"], "ms": before}
        write_results(__file__, {"before_first_run": first, "threads": 1, "rounds": rounds, "steps_per_round": steps},
                      args.quick)
        return
    measured, before = {}, {}
    for preset in presets:  # the baseline right before each preset's own rounds: the host drifts little in between
        before.update(baseline(args.baseline, [preset], rounds, steps) if args.baseline else {})
        measured.update(measure([preset], ["compiled", "tensor", "reverse"], rounds, steps))
    rows, results = [], {}
    for name, ms in measured.items():
        entry = {f"{e}_ms": v for e, v in ms.items()}
        entry["compiled_speedup_vs_tensor"] = ms["tensor"] / ms["compiled"]
        entry["compiled_speedup_vs_reverse"] = ms["reverse"] / ms["compiled"]
        if name in before:
            entry["before_ms"] = before[name]
            entry["after_over_before"] = ms["compiled"] / before[name]
        results[name] = entry
        rows.append([name, ms["compiled"], ms["tensor"], ms["reverse"], f"{entry['compiled_speedup_vs_tensor']:.2f}x",
                     f"{before[name]:.4g}" if name in before else "-",
                     f"{entry['after_over_before']:.2f}" if name in before else "-"])
    print_table(rows, header=["preset", "compiled ms", "tensor ms", "reverse ms", "tensor / compiled",
                              "before ms", "after / before"])
    write_results(__file__, {"presets": results, "threads": 1, "rounds": rounds, "steps_per_round": steps,
                             "baseline_tree": str(args.baseline) if args.baseline else None,
                             "baseline_label": args.baseline_label,
                             **({"before_first_run": first} if first else {})}, args.quick)


if __name__ == "__main__":
    main()
