"""How far the corner-ramped lid and Ghia et al.'s own table are from each other, measured with a
finite-difference solver: the floor under the hard-BC PINN's centre-line errors.

    python benchmarks/cavity_lid_regularisation.py [--quick]

Steady cavity at Re = 100 by vorticity-stream-function time marching to steady state: second-order
central differences on an n x n grid, Thom's wall vorticity, explicit Euler for the vorticity,
the stream-function Poisson problem by a type-I discrete sine transform.  For the classic lid
(u = 1 up to the corners), the tanh ramps u_lid = (tanh(x / d) tanh((1 - x) / d))^2 of
``lid-driven-cavity`` and the polynomial lid 16 x^2 (1 - x)^2 it prints the rel L2 of the
centre-line profiles against Ghia, Ghia & Shin (1982) at their points, and for the classic lid
the same at n = 65 (grid dependence).  Writes benchmarks/results/cavity_lid_regularisation.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy.fft import dstn, idstn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table, write_results  # noqa: E402

from sciml_core.metrics import rel_l2  # noqa: E402
from sciml_core.pdes.lid_driven_cavity import GHIA_U, GHIA_V, GHIA_X, GHIA_Y  # noqa: E402


def lid_speed(x: np.ndarray, lid: str, width: float) -> np.ndarray:
    if lid == "classic":
        return np.ones_like(x)
    if lid == "polynomial":
        return 16 * x**2 * (1 - x) ** 2
    return (np.tanh(x / width) * np.tanh((1 - x) / width)) ** 2


def steady_cavity(n: int, re: float, lid: str, width: float = 0.0, tol: float = 1e-6,
                  t_max: float = 60.0) -> tuple[np.ndarray, np.ndarray, float]:
    """Centre-line profiles (u on x = 0.5 at GHIA_Y, v on y = 0.5 at GHIA_X) and the final
    max |d omega / dt|; arrays are indexed [y, x]."""
    h = 1.0 / (n - 1)
    x = np.linspace(0.0, 1.0, n)
    psi, w = np.zeros((n, n)), np.zeros((n, n))
    top = lid_speed(x, lid, width)
    k = np.arange(1, n - 1)
    eig = (2 * np.cos(np.pi * k / (n - 1)) - 2) / h**2
    laplace = eig[:, None] + eig[None, :]
    dt = min(0.2 * h * h * re, 0.5 * h)
    rate = np.inf
    for step in range(int(t_max / dt)):
        psi[1:-1, 1:-1] = idstn(dstn(-w[1:-1, 1:-1], type=1) / laplace, type=1)
        w[0, :], w[:, 0], w[:, -1] = -2 * psi[1, :] / h**2, -2 * psi[:, 1] / h**2, -2 * psi[:, -2] / h**2
        w[-1, :] = -2 * psi[-2, :] / h**2 - 2 * top / h
        u = (psi[2:, 1:-1] - psi[:-2, 1:-1]) / (2 * h)
        v = -(psi[1:-1, 2:] - psi[1:-1, :-2]) / (2 * h)
        w_x = (w[1:-1, 2:] - w[1:-1, :-2]) / (2 * h)
        w_y = (w[2:, 1:-1] - w[:-2, 1:-1]) / (2 * h)
        lap = (w[1:-1, 2:] + w[1:-1, :-2] + w[2:, 1:-1] + w[:-2, 1:-1] - 4 * w[1:-1, 1:-1]) / h**2
        change = -(u * w_x + v * w_y) + lap / re
        w[1:-1, 1:-1] += dt * change
        if step % 500 == 0:
            rate = float(np.abs(change).max())
            if rate < tol:
                break
    mid = (n - 1) // 2
    u_line, v_line = np.zeros(n), np.zeros(n)
    u_line[1:-1], u_line[-1] = (psi[2:, mid] - psi[:-2, mid]) / (2 * h), top[mid]
    v_line[1:-1] = -(psi[mid, 2:] - psi[mid, :-2]) / (2 * h)
    return np.interp(GHIA_Y, x, u_line), np.interp(GHIA_X, x, v_line), rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="33 x 33 grid, loose tolerance: a smoke run")
    args = parser.parse_args()
    n = 33 if args.quick else 129
    tol = 1e-3 if args.quick else 1e-6
    cases = [("classic", 0.0, n), ("tanh", 0.02, n), ("tanh", 0.05, n), ("tanh", 0.1, n), ("polynomial", 0.0, n)]
    if not args.quick:
        cases.append(("classic", 0.0, 65))
    rows, results = [], {"re": 100, "cases": []}
    for lid, width, size in cases:
        start = time.perf_counter()
        u, v, rate = steady_cavity(size, 100.0, lid, width, tol)
        case = {"lid": lid, "lid_width": width, "n": size, "u_rel_l2_vs_ghia": rel_l2(u, GHIA_U[100]),
                "v_rel_l2_vs_ghia": rel_l2(v, GHIA_V[100]), "v_min": float(v.min()), "v_max": float(v.max()),
                "u_min": float(u.min()), "final_rate": rate, "wall_s": time.perf_counter() - start}
        results["cases"].append(case)
        rows.append([lid, width, size, case["u_rel_l2_vs_ghia"], case["v_rel_l2_vs_ghia"], case["u_min"],
                     case["v_min"], case["v_max"]])
    print_table(rows, ["lid", "width", "n", "u rel L2 vs Ghia", "v rel L2 vs Ghia", "u min", "v min", "v max"])
    print("Ghia et al. at their points: u min -0.21090, v min -0.24533, v max 0.17527")
    write_results(__file__, results, args.quick)


if __name__ == "__main__":
    main()
