"""Resolution of ``--device`` and ``--dtype`` options, and what the machine can hold
(memory and disk checks that refuse a job too large before it starts)."""

from __future__ import annotations

import os

import torch

from .errors import ConfigError

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without CUDA is a ConfigError."""
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"--device {name}: CUDA is not available on this machine (use --device cpu or auto)")
        return torch.device(name)
    raise ConfigError(f"unknown --device {name!r} (choose auto, cpu or cuda)")


def resolve_dtype(name: str | torch.dtype) -> torch.dtype:
    """``float32`` or ``float64``."""
    if isinstance(name, torch.dtype):
        return name
    try:
        return DTYPES[name]
    except KeyError:
        raise ConfigError(f"unknown --dtype {name!r} (choose float32 or float64)") from None


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def keep_freed_cpu_memory(limit_bytes: int = 1 << 28) -> bool:
    """Let glibc reuse freed blocks up to ``limit_bytes`` instead of returning them to the OS.

    A CPU training step allocates and frees the same multi-megabyte temporaries every step.
    By default glibc serves such blocks by ``mmap`` and unmaps them on free, so every step
    pays a page fault per fresh 4 KiB page: 20 % of a causal-PINN Burgers step (8192 points)
    on our 2-core machine.  Raising the mmap and trim thresholds keeps those pages mapped.
    Process-wide and idempotent; returns False where it does not apply (not glibc).
    """
    import ctypes
    import platform

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(libc.mallopt(m_mmap_threshold, limit_bytes)) and bool(libc.mallopt(m_trim_threshold, 2 * limit_bytes))


def available_memory_bytes() -> int | None:
    """Memory this process can still allocate: Linux ``MemAvailable`` (else physical memory;
    None where neither is known)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, OSError, ValueError):
        return None


def format_bytes(n: float) -> str:
    """``1536`` -> ``'1.5 KiB'``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"


def require_memory(n_bytes: float, what: str) -> None:
    """ConfigError naming both sizes when ``what`` needs more memory than is available."""
    free = available_memory_bytes()
    if free is not None and n_bytes > free:
        raise ConfigError(f"{what} needs about {format_bytes(n_bytes)} of memory; "
                          f"{format_bytes(free)} is available on this machine")


def require_disk(n_bytes: float, path: "str | os.PathLike[str]", what: str) -> None:
    """ConfigError naming both sizes when ``what`` needs more disk than is free where ``path`` goes."""
    import shutil
    from pathlib import Path

    parent = Path(path).resolve().parent
    while not parent.exists():
        parent = parent.parent
    free = shutil.disk_usage(parent).free
    if n_bytes > free:
        raise ConfigError(f"{what} needs {format_bytes(n_bytes)} of disk; {format_bytes(free)} is free in {str(parent)!r}")
