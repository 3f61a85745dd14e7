"""``sciml solve --nproc N``: start torchrun for the user, on this machine.

Runs ``torchrun --standalone --nproc-per-node N -m sciml_core.cli solve ...`` in this process
(torch.distributed.run), with rank 0 on the console (its progress bar, its one-line errors)
and the other ranks' output in log files, shown only when one of them fails.  The exit
status is the failing rank's (2 for a user mistake, 3 for divergence), as without --nproc.
For several machines, call torchrun yourself (docs/scaling.md).
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Sequence

from ..errors import ConfigError


def check_nproc(nproc: int, device: str) -> None:
    """Refuse a rank count this machine cannot serve (one GPU per rank on CUDA)."""
    import torch

    if nproc < 1:
        raise ConfigError(f"--nproc must be >= 1, got {nproc}")
    cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if cuda and nproc > torch.cuda.device_count():
        raise ConfigError(f"--nproc {nproc}: this machine has {torch.cuda.device_count()} GPU(s), one per rank "
                          "(use --device cpu for CPU ranks)")


def _last_line(path: Path) -> str:
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1] if lines else ""


def launch(argv: Sequence[str], nproc: int) -> int:
    """Run ``sciml <argv>`` as ``nproc`` ranks under torchrun; return the exit status."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    log_dir = Path(tempfile.mkdtemp(prefix="sciml-ranks-"))
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    redirects = ",".join(f"{r}:3" for r in range(1, nproc))  # ranks 1.. : stdout and stderr to files
    args = get_args_parser().parse_args(["--standalone", f"--nproc-per-node={nproc}", f"--log-dir={log_dir}",
                                         f"--redirects={redirects}", "--module", "sciml_core.cli"])
    args.training_script_args = list(argv)  # not parsed by torchrun's parser (it would claim --nproc)
    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)
    try:
        run(args)
    except ChildFailedError as exc:
        failures = sorted(exc.failures.items())
        # the rank that failed by itself (exit status > 0) rather than one stopped by the launcher
        rank, failure = next(((r, f) for r, f in failures if f.exitcode > 0), failures[0])
        if rank != 0:
            logs = sorted(log_dir.glob(f"*/attempt_*/{failure.local_rank}/stderr.log"))
            detail = _last_line(logs[-1]) if logs else ""
            print(f"sciml: error: rank {rank} of {nproc} exited with status {failure.exitcode}"
                  f"{': ' + detail if detail else ''} (its output: {logs[-1] if logs else log_dir})", file=sys.stderr)
            return failure.exitcode if failure.exitcode > 0 else 1
        shutil.rmtree(log_dir, ignore_errors=True)
        return failure.exitcode if failure.exitcode > 0 else 128 - failure.exitcode
    shutil.rmtree(log_dir, ignore_errors=True)
    return 0
