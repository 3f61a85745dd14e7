"""Fused CPU kernels for the jet rules of :mod:`.jet_ops`, generated per layout and compiled
with numba.

In eager PyTorch every term of the Faa di Bruno and Leibniz rules is its own pass over an
``(n, k)`` array, and on a CPU those passes, not the matmuls, dominate a PINN training step.
Here the rules for one layout (the tuple ``counts`` of :class:`~.jet.JetLayout`) are written
out as straight-line code for one element -- every output slot of the forward pass, every
input slot of the backward pass -- and compiled once into a loop that reads and writes each
coefficient once.  The formulas are the ones :mod:`.jet_ops` documents (same notation), and
:func:`available` says whether a tensor can take this path (CPU, float32/float64, numba
importable); otherwise :mod:`.jet_ops` uses its tensor implementation.  Kernels are compiled
on first use (about a second each) and kept for the process.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from math import comb

import torch

try:
    import numba
except ImportError:  # pragma: no cover - numba is a dependency; this keeps CUDA-only installs working
    numba = None

#: s_k of each activation in terms of the kernel's inputs (A: tanh(z) or sin(z), B: cos(z)).
_SIGMA = {
    "tanh": ["A", "s1", "s2", "s3", "s4", "s5"],
    "sin": ["A", "B", "(-A)", "(-B)", "A", "B"],
    "cos": ["B", "(-A)", "(-B)", "A", "B", "(-A)"],
}
_TANH_DERIVATIVES = [
    "s1 = 1.0 - A * A",
    "s2 = -2.0 * A * s1",
    "s3 = -2.0 * s1 * (1.0 - 3.0 * A * A)",
    "s4 = 8.0 * A * s1 * (2.0 - 3.0 * A * A)",
    "s5 = 8.0 * s1 * (2.0 - 15.0 * A * A + 15.0 * A * A * A * A)",
]


def available(*tensors: torch.Tensor) -> bool:
    """Whether the compiled kernels can take these tensors (CPU, one float dtype, numba present)."""
    return numba is not None and all(t.device.type == "cpu" and t.dtype == tensors[0].dtype for t in tensors) \
        and tensors[0].dtype in (torch.float32, torch.float64)


def block_starts(counts: tuple[int, ...]) -> tuple[int, ...]:
    """First stack row of each order block (row 0 is the value)."""
    starts, row = [], 1
    for n in counts:
        starts.append(row)
        row += n
    return tuple(starts)


def _slots(counts: tuple[int, ...]) -> list[list[int]]:
    """``slots[d][m-1]``: stack row of direction d's order-m derivative."""
    starts = block_starts(counts)
    orders = [sum(n > d for n in counts) for d in range(counts[0])] if counts else []
    return [[starts[m] + d for m in range(o)] for d, o in enumerate(orders)]


def _faa_di_bruno(m: int, s: Callable[[int], str], z: Callable[[int], str]) -> str:
    """The order-m Faa di Bruno polynomial (m <= 4) as an expression; order 0 is s(0)."""
    if m == 0:
        return s(0)
    terms = {
        1: [f"{s(1)} * {z(1)}"],
        2: [f"{s(2)} * {z(1)} * {z(1)}", f"{s(1)} * {z(2)}"],
        3: [f"{s(3)} * {z(1)} * {z(1)} * {z(1)}", f"3.0 * {s(2)} * {z(1)} * {z(2)}", f"{s(1)} * {z(3)}"],
        4: [f"{s(4)} * {z(1)} * {z(1)} * {z(1)} * {z(1)}", f"6.0 * {s(3)} * {z(1)} * {z(1)} * {z(2)}",
            f"{s(2)} * (3.0 * {z(2)} * {z(2)} + 4.0 * {z(1)} * {z(3)})", f"{s(1)} * {z(4)}"],
    }[m]
    return " + ".join(terms)


def _compile(name: str, args: str, body: list[str], stack: str) -> Callable[..., None]:
    lines = [f"def {name}({args}):", f"    for i in range({stack}.shape[1]):"] + [f"        {line}" for line in body]
    namespace: dict[str, object] = {}
    exec("\n".join(lines), namespace)  # noqa: S102 - source generated above from integers only
    return numba.njit(fastmath=True, nogil=True)(namespace[name])


def _sigma_lines(name: str, order: int) -> list[str]:
    return _TANH_DERIVATIVES[:order] if name == "tanh" else []


def activation_lines(name: str, counts: tuple[int, ...], at: Callable[[str, int], str]) -> tuple[list[str], list[str]]:
    """Straight-line code for one element of sigma's jet rule: (forward, backward).

    ``at(array, row)`` spells an element of a stack (``Z`` the input, ``H`` the output, ``G``
    the output gradient, ``D`` the input gradient; row 0 is the value).  Both expect ``A`` and
    ``B`` (sigma's base functions at the value: tanh or sin, and cos) to be defined; the
    forward writes every row of ``H``, the backward every row of ``D``."""
    order, slots = len(counts), _slots(counts)
    sig = _SIGMA[name]
    fwd = [*_sigma_lines(name, order), f"{at('H', 0)} = {sig[0]}"]
    for rows in slots:
        fwd += [f"z{m} = {at('Z', r)}" for m, r in enumerate(rows, start=1)]
        fwd += [f"{at('H', r)} = {_faa_di_bruno(m, lambda k: sig[k], lambda k: f'z{k}')}"
                for m, r in enumerate(rows, start=1)]
    bwd = [*_sigma_lines(name, order + 1), f"acc = {at('G', 0)} * {sig[1]}"]
    for rows in slots:
        o = len(rows)
        bwd += [f"z{m} = {at('Z', r)}" for m, r in enumerate(rows, start=1)]
        bwd += [f"g{m} = {at('G', r)}" for m, r in enumerate(rows, start=1)]
        shifted = [_faa_di_bruno(r, lambda k: sig[k + 1], lambda k: f"z{k}") for r in range(o + 1)]
        bwd += [f"acc += g{m} * ({shifted[m]})" for m in range(1, o + 1)]
        for j, row in enumerate(rows, start=1):
            bwd.append(f"{at('D', row)} = " + " + ".join(f"{float(comb(m, j))} * g{m} * ({shifted[m - j]})"
                                                          for m in range(j, o + 1)))
    bwd.append(f"{at('D', 0)} = acc")
    return fwd, bwd


@lru_cache(maxsize=None)
def activation_kernels(name: str, counts: tuple[int, ...]) -> tuple[Callable[..., None], Callable[..., None]]:
    """(forward(A, B, Z, H), backward(A, B, Z, G, D)) for sigma = ``name`` on layout ``counts``."""
    fwd, bwd = activation_lines(name, counts, lambda array, row: f"{array}[{row}, i]")
    base = ["A = A_[i]", "B = B_[i]"]
    return (_compile("forward", "A_, B_, Z, H", base + fwd, "Z"),
            _compile("backward", "A_, B_, Z, G, D", base + bwd, "Z"))


@lru_cache(maxsize=None)
def product_kernels(counts: tuple[int, ...]) -> tuple[Callable[..., None], Callable[..., None]]:
    """(forward(X, Y, P), backward(X, Y, G, DX, DY)) of the Leibniz rule on layout ``counts``."""
    slots = _slots(counts)
    fwd = ["x0 = X[0, i]", "y0 = Y[0, i]", "P[0, i] = x0 * y0"]
    bwd = ["x0 = X[0, i]", "y0 = Y[0, i]", "ax = G[0, i] * y0", "ay = G[0, i] * x0"]
    for rows in slots:
        o = len(rows)
        loads = [f"x{m} = X[{r}, i]" for m, r in enumerate(rows, start=1)]
        loads += [f"y{m} = Y[{r}, i]" for m, r in enumerate(rows, start=1)]
        fwd += loads
        fwd += [f"P[{r}, i] = " + " + ".join(f"{float(comb(m, j))} * x{j} * y{m - j}" for j in range(m + 1))
                for m, r in enumerate(rows, start=1)]
        bwd += loads + [f"g{m} = G[{r}, i]" for m, r in enumerate(rows, start=1)]
        bwd += [f"ax += g{m} * y{m}" for m in range(1, o + 1)] + [f"ay += g{m} * x{m}" for m in range(1, o + 1)]
        for j, row in enumerate(rows, start=1):
            bwd.append(f"DX[{row}, i] = " + " + ".join(f"{float(comb(m, j))} * g{m} * y{m - j}" for m in range(j, o + 1)))
            bwd.append(f"DY[{row}, i] = " + " + ".join(f"{float(comb(m, j))} * g{m} * x{m - j}" for m in range(j, o + 1)))
    bwd += ["DX[0, i] = ax", "DY[0, i] = ay"]
    return _compile("forward", "X, Y, P", fwd, "X"), _compile("backward", "X, Y, G, DX, DY", bwd, "X")


def flat(t: torch.Tensor) -> torch.Tensor:
    """``(C, n, k)`` -> contiguous ``(C, n * k)``, detached (the kernels write numpy views)."""
    return t.detach().contiguous().view(t.shape[0], -1)


def run(kernel: Callable[..., None], *tensors: torch.Tensor) -> None:
    """Call a kernel on numpy views of contiguous CPU tensors (outputs are written in place)."""
    kernel(*(t.numpy() for t in tensors))
