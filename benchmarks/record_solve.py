"""Record a ``sciml solve`` run as a results file, so a figure quoted in the README has one.

    python benchmarks/record_solve.py NAME -- PDE --solver S [--preset P] [--set k=v ...]
    python benchmarks/record_solve.py --quick

Runs ``sciml solve ARGS --out <temporary directory>`` in a fresh process (as a user would),
then writes ``benchmarks/results/NAME.json``: the run's metrics.json, the process's wall time
(start-up and plots included), the command and the machine facts.  ``--quick`` records a
small spectral run as ``record_solve.quick``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
ROOT = Path(__file__).resolve().parents[1]

QUICK = ["allen-cahn", "--solver", "spectral-etdrk4", "--set", "n=32", "--set", "frames=3"]


def main() -> None:
    from _common import RESULTS, machine_facts

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", nargs="?", help="results file name (benchmarks/results/NAME.json)")
    parser.add_argument("solve_args", nargs=argparse.REMAINDER, help="-- then the arguments of sciml solve")
    parser.add_argument("--quick", action="store_true", help="record a small spectral run")
    args = parser.parse_args()
    solve_args = [a for a in args.solve_args if a != "--"] if not args.quick else QUICK
    name = "record_solve.quick" if args.quick else args.name
    if not name or not solve_args:
        parser.error("give NAME -- SOLVE ARGS, or --quick")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "sciml_core.cli", "solve", *solve_args, "--out", f"{tmp}/run"],
                              env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            sys.exit(f"sciml solve failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}")
        metrics = json.loads(Path(tmp, "run", "metrics.json").read_text())
    payload = {"name": name, "command": "sciml solve " + " ".join(solve_args), "process_wall_s": round(wall, 1),
               "metrics": metrics, "recorded_by": " ".join(["python", *sys.argv]), "machine": machine_facts()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2) + "\n")
    print(proc.stdout, end="")
    print(f"recorded {payload['command']}: rel_l2 {metrics.get('rel_l2')}, solve {metrics.get('wall_s')} s, "
          f"process {payload['process_wall_s']} s -> {path}")


if __name__ == "__main__":
    main()
