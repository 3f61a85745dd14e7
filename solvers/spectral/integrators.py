"""Time integrators for diagonal semilinear systems  u_t = L u + N(u)  in Fourier space.

``L`` is a diagonal linear symbol (one value per field and mode), ``N`` the (dealiased)
nonlinear term evaluated pseudo-spectrally.  Every integrator advances a state array
``(batch, n_fields, *spectral)`` with :meth:`Integrator.advance`, which lands exactly on the
requested time and keeps its controller state between calls (``state_dict`` for checkpoints).

* :class:`ETDRK4` -- exponential time differencing RK4 of Cox & Matthews (J. Comput. Phys.
  176, 2002), coefficients by the contour integral of Kassam & Trefethen (SIAM J. Sci.
  Comput. 26, 2005); fixed step.  Fourth order, stiff linear part exact.
* :class:`IFRungeKutta` -- explicit Runge-Kutta on the integrating-factor (Lawson 1967)
  form: with ``E(s) = exp(s L)``, stage ``i`` is
  ``U_i = E(c_i h) U_n + h sum_j a_ij E((c_i - c_j) h) N(U_j)``; only non-negative
  exponents occur because ``c`` is non-decreasing, so hyperdiffusion never overflows.
  With the classical RK4 tableau it is a fixed-step 4th-order method; with Dormand-Prince
  5(4) (Dormand & Prince 1980) it is adaptive: embedded error in the grid L2 norm,
  ``err = ||e|| / (atol + rtol ||u||)`` (worst sample of the batch), PI step control
  (Gustafsson 1991, exponents 0.7/5 and 0.4/5) and FSAL.  Steps are clipped to hit output
  times; the controller's proposal survives the clipped step, so saving does not disturb it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, ClassVar

import numpy as np

from .fourier import SpectralOps

Nonlinear = Callable[[Any], Any]


class Integrator:
    """Shared bookkeeping: ``steps`` (accepted), ``rejected``, ``rhs_evals``."""

    order: ClassVar[int]
    adaptive: ClassVar[bool] = False

    def __init__(self, L: np.ndarray, nonlinear: Nonlinear, ops: SpectralOps) -> None:
        self.L_np = np.asarray(L)
        self.L = ops.asarray(self.L_np)
        self._nonlinear = nonlinear
        self.ops = ops
        # a complex symbol with one imaginary part (a rotation, e.g. -i beta) exponentiates as
        # exp(s Re L) times a scalar phase: a real exp, 20x cheaper than a complex one
        imag = self.L_np.imag if np.iscomplexobj(self.L_np) else None
        self._rotation = float(imag.flat[0]) if imag is not None and np.all(imag == imag.flat[0]) else None
        self._L_re = ops.asarray(self.L_np.real) if self._rotation is not None else None
        self.steps = 0
        self.rejected = 0
        self.rhs_evals = 0

    def N(self, U: Any) -> Any:
        self.rhs_evals += 1
        return self._nonlinear(U)

    def exp_L(self, s: float) -> Any:
        """``exp(s L)`` on the back end."""
        if self._rotation is not None:
            return self.ops.xp.exp(self._L_re * s) * complex(np.exp(1j * self._rotation * s))
        return self.ops.xp.exp(self.L * s)

    def state_dict(self) -> dict[str, Any]:
        return {"steps": self.steps, "rejected": self.rejected, "rhs_evals": self.rhs_evals}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.steps, self.rejected, self.rhs_evals = state["steps"], state["rejected"], state["rhs_evals"]

    def advance(self, U: Any, t: float, t_target: float) -> Any:
        """Return the state at ``t_target`` from the state ``U`` at ``t``."""
        raise NotImplementedError


class FixedStep(Integrator):
    """Fixed step ``dt``: each output interval is split into ``ceil(span / dt)`` equal steps."""

    def __init__(self, L: np.ndarray, nonlinear: Nonlinear, ops: SpectralOps, dt: float) -> None:
        super().__init__(L, nonlinear, ops)
        self.dt = dt
        self._cache: dict[float, Any] = {}

    def advance(self, U: Any, t: float, t_target: float) -> Any:
        span = t_target - t
        if span <= 0:
            return U
        m = max(1, math.ceil(span / self.dt - 1e-9))
        h = span / m
        # Coefficients per exact step: spans of evenly spaced outputs differ in the last bit, so a
        # few are kept; keying on the exact h makes a resumed run (fresh cache) bit-identical.
        if h not in self._cache:
            if len(self._cache) >= 4:
                self._cache.pop(next(iter(self._cache)))
            self._cache[h] = self.coefficients(h)
        coeffs = self._cache[h]
        for _ in range(m):
            U = self.step(U, h, coeffs)
            self.steps += 1
        return U

    def coefficients(self, h: float) -> Any:
        raise NotImplementedError

    def step(self, U: Any, h: float, coeffs: Any) -> Any:
        raise NotImplementedError


def etdrk4_coefficients(hL: np.ndarray, contour_points: int = 32) -> dict[str, np.ndarray]:
    """Kassam-Trefethen contour-integral ETDRK4 coefficients for ``hL`` (any shape).

    With ``z = hL + r``, ``r`` on the unit circle, the means over the contour of
    ``Q = (e^{z/2} - 1)/z``, ``f1 = (-4 - z + e^z (4 - 3z + z^2))/z^3``,
    ``f2 = (2 + z + e^z (z - 2))/z^3``, ``f3 = (-4 - 3z - z^2 + e^z (4 - z))/z^3``
    (each times h by the caller).  Real ``hL`` uses the upper half circle and the real part
    (the integrand is conjugate-symmetric); complex ``hL`` the full circle.
    """
    real = not np.iscomplexobj(hL)
    m = contour_points
    roots = np.exp(1j * np.pi * (np.arange(1, m + 1) - 0.5) / m) if real else \
        np.exp(2j * np.pi * (np.arange(1, 2 * m + 1) - 0.5) / (2 * m))
    acc = {name: np.zeros(hL.shape, dtype=complex) for name in ("Q", "f1", "f2", "f3")}
    for r in roots:
        z = hL + r
        ez = np.exp(z)
        z3 = z**3
        acc["Q"] += (np.exp(z / 2) - 1) / z
        acc["f1"] += (-4 - z + ez * (4 - 3 * z + z * z)) / z3
        acc["f2"] += (2 + z + ez * (z - 2)) / z3
        acc["f3"] += (-4 - 3 * z - z * z + ez * (4 - z)) / z3
    return {k: (v.real if real else v) / len(roots) for k, v in acc.items()}


class ETDRK4(FixedStep):
    """ETDRK4 (Cox-Matthews stages, Kassam-Trefethen coefficients), 4 evaluations of N per step."""

    order = 4

    def __init__(self, L: np.ndarray, nonlinear: Nonlinear, ops: SpectralOps, dt: float,
                 contour_points: int = 32) -> None:
        super().__init__(L, nonlinear, ops, dt)
        self.contour_points = contour_points

    def coefficients(self, h: float) -> dict[str, Any]:
        hL = h * self.L_np
        c = etdrk4_coefficients(hL, self.contour_points)
        out = {"E": np.exp(hL), "E2": np.exp(hL / 2), "Q": h * c["Q"],
               "f1": h * c["f1"], "f2": 2 * h * c["f2"], "f3": h * c["f3"]}
        return {k: self.ops.asarray(v) for k, v in out.items()}

    def step(self, U: Any, h: float, c: dict[str, Any]) -> Any:
        E2, Q = c["E2"], c["Q"]
        Nu = self.N(U)
        E2U = E2 * U
        a = E2U + Q * Nu
        Na = self.N(a)
        b = E2U + Q * Na
        Nb = self.N(b)
        cc = E2 * a + Q * (2 * Nb - Nu)
        Nc = self.N(cc)
        return c["E"] * U + Nu * c["f1"] + (Na + Nb) * c["f2"] + Nc * c["f3"]


@dataclass(frozen=True)
class Tableau:
    """Butcher tableau ``(a, b, c)``; ``e = b - b_hat`` for an embedded error estimate."""

    a: tuple[tuple[float, ...], ...]
    b: tuple[float, ...]
    c: tuple[float, ...]
    order: int
    e: tuple[float, ...] | None = None
    fsal: bool = False


RK4_TABLEAU = Tableau(
    a=((), (0.5,), (0.0, 0.5), (0.0, 0.0, 1.0)), b=(1 / 6, 1 / 3, 1 / 3, 1 / 6), c=(0.0, 0.5, 0.5, 1.0), order=4
)

DOPRI5_TABLEAU = Tableau(
    a=(
        (),
        (1 / 5,),
        (3 / 40, 9 / 40),
        (44 / 45, -56 / 15, 32 / 9),
        (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
        (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
        (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84),
    ),
    b=(35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0),
    c=(0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0),
    order=5,
    e=(71 / 57600, 0.0, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40),
    fsal=True,
)


class _LawsonStages:
    """Integrating-factor stages of an explicit tableau (mixin for fixed and adaptive steps).

    The factors ``E(delta h)`` needed by a step (``delta`` in ``{c_i - c_j, c_i, 1 - c_j}``)
    are integer multiples ``m / D`` of ``1 / D`` (D: common denominator of ``c``, 90 for
    Dormand-Prince); from the single ``exp`` of ``h L / D`` each is built as a product
    ``E(a / D) E((m - a) / D)`` of two already computed factors, or by repeated squaring, so a
    Dormand-Prince step costs one ``exp`` and about 15 products instead of 13 ``exp``.
    """

    tableau: Tableau
    ops: SpectralOps
    exp_L: Any
    N: Any
    _rotation: float | None
    _L_re: Any

    @functools.cached_property
    def denominator(self) -> int:
        den = 1
        for ci in self.tableau.c:
            den = math.lcm(den, Fraction(ci).limit_denominator(10_000).denominator)
        return den

    def exponentials(self, h: float) -> dict[int, Any]:
        """``E(m h / D)`` for every multiple ``m`` a step needs (class docstring).  With a
        uniform rotation, ``L = L_re + i omega``, the products run on the real factors
        ``exp(s L_re)`` (half the bytes of complex ones) and each needed factor gets its scalar
        phase ``exp(i omega s)`` at the end."""
        t, den = self.tableau, self.denominator
        deltas = {ci - t.c[j] for i, ci in enumerate(t.c) for j, a in enumerate(t.a[i]) if a}
        deltas |= set(t.c) | {1 - cj for j, cj in enumerate(t.c) if t.b[j] or (t.e and t.e[j])}
        needed = sorted({round(d * den) for d in deltas} - {0})
        rotation = self._rotation
        E: dict[int, Any] = {1: self.exp_L(h / den) if rotation is None else self.ops.xp.exp(self._L_re * (h / den))}

        def power(m: int) -> Any:  # E(1/D)^m by halving, memoised in E
            if m not in E:
                half = power(m // 2)
                E[m] = half * half if m % 2 == 0 else half * half * E[1]
            return E[m]

        for m in needed:
            a = next((a for a in E if m - a in E), None)
            E[m] = E[a] * E[m - a] if a is not None else power(m)
        if rotation is None:
            return E
        return {m: E[m] * complex(np.exp(1j * rotation * m * h / den)) for m in needed}

    def step_coefficients(self, h: float) -> dict[str, dict[Any, Any]]:
        """Per-step weights as ``(scale, factor)`` pairs, ``factor`` an exponential or None
        for 1: ``U[i] = E(c_i h)``, ``a[i, j] = (h a_ij, E((c_i - c_j) h))``,
        ``b[j] = (h b_j, E((1 - c_j) h))`` and ``e[j]`` likewise.  The pairs are applied by
        :meth:`SpectralOps.accumulate`, one fused pass per term on the torch back end."""
        t, den, E = self.tableau, self.denominator, self.exponentials(h)

        def factor(d: float) -> Any:
            m = round(d * den)
            return None if m == 0 else E[m]

        return {
            "U": {i: factor(ci) for i, ci in enumerate(t.c)},
            "a": {(i, j): (h * aij, factor(t.c[i] - t.c[j])) for i, row in enumerate(t.a)
                  for j, aij in enumerate(row) if aij},
            "b": {j: (h * bj, factor(1.0 - t.c[j])) for j, bj in enumerate(t.b) if bj},
            "e": {j: (h * ej, factor(1.0 - t.c[j])) for j, ej in enumerate(t.e or ()) if ej},
        }

    def combine(self, start: Any, terms: Any) -> Any:
        """``start + sum scale * factor * K`` over ``terms`` of ``((scale, factor), K)``
        (``start`` is updated in place; None starts a new array)."""
        for (scale, factor), K in terms:
            start = self.ops.accumulate(start, scale, factor, K)
        return start

    def stages(self, U: Any, W: dict[str, dict[Any, Any]], K1: Any) -> tuple[Any, list[Any]]:
        """Return ``(U_new, K)`` with ``K[j] = N(U_j)``; with FSAL the last stage is ``U_new``."""
        t = self.tableau
        K = [K1]
        for i in range(1, len(t.c)):
            if t.fsal and i == len(t.c) - 1:
                break
            # c_i > 0: a new array, safe to update in place
            acc = self.combine(W["U"][i] * U, ((W["a"][i, j], K[j]) for j in range(i) if (i, j) in W["a"]))
            K.append(self.N(acc))
        U_new = self.combine(W["U"][len(t.c) - 1] * U, ((w, K[j]) for j, w in W["b"].items()))
        if t.fsal:
            K.append(self.N(U_new))
        return U_new, K

    def error_estimate(self, W: dict[str, dict[Any, Any]], K: list[Any]) -> Any:
        """The embedded error ``h sum_j e_j E((1 - c_j) h) K[j]``."""
        return self.combine(None, ((w, K[j]) for j, w in W["e"].items()))


class IFRungeKutta(_LawsonStages, FixedStep):
    """Fixed-step integrating-factor Runge-Kutta (the classical RK4 tableau by default)."""

    def __init__(self, L: np.ndarray, nonlinear: Nonlinear, ops: SpectralOps, dt: float,
                 tableau: Tableau = RK4_TABLEAU) -> None:
        super().__init__(L, nonlinear, ops, dt)
        self.tableau = tableau
        self.order = tableau.order

    def coefficients(self, h: float) -> dict[str, dict[Any, Any]]:
        return self.step_coefficients(h)

    def step(self, U: Any, h: float, W: dict[str, dict[Any, Any]]) -> Any:
        return self.stages(U, W, self.N(U))[0]


class AdaptiveIFRungeKutta(_LawsonStages, Integrator):
    """Adaptive integrating-factor Dormand-Prince 5(4) with PI control (see module docstring)."""

    adaptive = True
    safety, min_factor, max_factor = 0.9, 0.2, 5.0

    def __init__(self, L: np.ndarray, nonlinear: Nonlinear, ops: SpectralOps, rtol: float = 1e-6,
                 atol: float = 1e-9, dt0: float | None = None, max_steps: int = 10_000_000,
                 tableau: Tableau = DOPRI5_TABLEAU) -> None:
        super().__init__(L, nonlinear, ops)
        self.tableau = tableau
        self.order = tableau.order
        self.rtol, self.atol, self.max_steps = rtol, atol, max_steps
        self.h = dt0
        self.err_prev = 1.0
        self._K1: Any = None
        self._norm_U: Any = None

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "h": self.h, "err_prev": self.err_prev}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.h, self.err_prev = state["h"], state["err_prev"]
        self._K1 = self._norm_U = None  # recomputed: identical values, one extra evaluation

    def _norm(self, x: Any) -> Any:
        return self.ops.sq_norm(x) ** 0.5

    def _initial_step(self, U: Any, K1: Any, span: float) -> float:
        """Hairer, Norsett & Wanner's starting step (Solving ODEs I, II.4) on the IF form: from
        ``|N(u0)|`` and the change of N over a trial integrating-factor Euler step, both
        scaled by ``atol + rtol |u0|``; ``h = min(100 h0, (0.01 / max(d1, d2))^(1/order))``."""
        scale = self.atol + self.rtol * self._norm(U)
        d0, d1 = float((self._norm(U) / scale).max()), float((self._norm(K1) / scale).max())
        h0 = min(0.01 * d0 / d1 if d0 > 1e-5 and d1 > 1e-5 else 1e-6, 0.01 * span)
        E0 = self.exp_L(h0)
        K2 = self.N(E0 * (U + h0 * K1))
        d2 = float((self._norm(K2 - E0 * K1) / scale).max()) / h0
        dmax = max(d1, d2)
        h1 = (0.01 / dmax) ** (1.0 / self.order) if dmax > 1e-15 else max(1e-6, 1e-3 * h0)
        return min(100 * h0, h1, span)

    def advance(self, U: Any, t: float, t_target: float) -> Any:
        q = self.tableau.order  # error of the embedded pair is O(h^q)
        alpha, beta = 0.7 / q, 0.4 / q
        while t < t_target:
            if self._K1 is None:
                self._K1 = self.N(U)
            if self.h is None:
                self.h = self._initial_step(U, self._K1, t_target - t)
            clipped = t + self.h >= t_target - 1e-12 * max(1.0, abs(t_target))
            h = t_target - t if clipped else self.h
            W = self.step_coefficients(h)
            U_new, K = self.stages(U, W, self._K1)
            err_vec = self.error_estimate(W, K)
            norm_new = self._norm(U_new)
            if self._norm_U is None:
                self._norm_U = self._norm(U)
            scale = self.atol + self.rtol * self.ops.xp.maximum(self._norm_U, norm_new)
            err = max(float((self._norm(err_vec) / scale).max()), 1e-10)
            if not math.isfinite(err):
                err = 1e10
            if err <= 1.0:
                t = t_target if clipped else t + h
                U, self._K1, self._norm_U = U_new, (K[-1] if self.tableau.fsal else None), norm_new
                self.steps += 1
                factor = self.safety * err ** (-alpha) * self.err_prev**beta
                new_h = h * min(self.max_factor, max(self.min_factor, factor))
                if clipped:  # a step shortened to hit an output time leaves the controller alone
                    self.h = max(self.h, new_h)
                else:
                    self.h, self.err_prev = new_h, err
            else:
                self.rejected += 1
                self.h = h * max(self.min_factor, self.safety * err ** (-1.0 / q))
                if self.h < 1e-14 * max(1.0, abs(t)):
                    raise FloatingPointError(f"step size underflow at t = {t:.6g} (err = {err:.3g})")
            if self.steps + self.rejected > self.max_steps:
                raise RuntimeError(f"max_steps = {self.max_steps} reached at t = {t:.6g}")
        return U
