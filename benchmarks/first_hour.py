"""The first hour, timed from a clean clone: ``make demo`` (and with ``--with-test`` ``make test``).

    python benchmarks/first_hour.py [--with-test] [--quick]

Clones this repository's committed HEAD into a temporary directory (nothing of the working
tree, no venv), runs ``make demo`` there and times it: the venv creation and installation
(``make setup``) and the demo itself separately, then the demo run's rel L2 from its
metrics.json.  ``--with-test`` also times ``make test`` in the same clone (about as long as
the suite).  ``--quick`` only clones and dry-runs ``make -n demo``.  Writes
``benchmarks/results/first_hour.json``.  Timings depend on the host (this machine's speed
varies by about 30 %) and on the package cache pip finds.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
ROOT = Path(__file__).resolve().parents[1]


def timed(cmd: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return round(time.perf_counter() - start, 1), proc


def main() -> None:
    from _common import print_table, write_results

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--with-test", action="store_true", help="also time make test")
    parser.add_argument("--quick", action="store_true", help="clone and dry-run make demo only")
    args = parser.parse_args()
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    results: dict = {"commit": commit}
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(tmp) / "clone"
        results["clone_s"], _ = timed(["git", "clone", "-q", str(ROOT), str(clone)], Path(tmp))
        if args.quick:
            _, proc = timed(["make", "-n", "demo"], clone)
            results["demo_commands"] = [line for line in proc.stdout.splitlines() if "sciml solve" in line]
        else:
            results["setup_s"], _ = timed(["make", "setup"], clone)
            results["demo_s"], proc = timed(["make", "demo"], clone)
            out = next(Path(clone, "runs").glob("demo-*"))
            metrics = json.loads((out / "metrics.json").read_text())
            results.update(demo_rel_l2=metrics["rel_l2"], demo_solve_wall_s=metrics["wall_s"],
                           make_demo_total_s=round(results["setup_s"] + results["demo_s"], 1))
            if args.with_test:
                results["test_s"], proc = timed(["make", "test"], clone)
                results["test_summary"] = proc.stdout.strip().splitlines()[-1]
    print_table([(k, v) for k, v in results.items() if not isinstance(v, list)], ["what", "value"])
    write_results(__file__, results, quick=args.quick)


if __name__ == "__main__":
    main()
