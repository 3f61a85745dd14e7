"""Random initial-condition distributions for dataset generation, a small registry by name.

Each distribution is a pure function ``fn(rng, coords, fields, options) -> (initial, draws)``:
``rng`` is the sample's own generator (``np.random.default_rng([seed, index])``), ``coords``
the solver's 1-D grid arrays in dims order, ``fields`` the PDE's field names, ``options`` the
distribution's validated options dataclass.  ``initial[field]`` has the grid's shape;
``draws`` holds every scalar random choice (each mode's wavenumber, amplitude and phase, a
spiral's centre and arm count, ...), stored per sample as ``ic_<name>`` variables, so a
sample's initial state can be rebuilt from the file alone (the Gaussian random field draws
a whole noise field: it is rebuilt from ``(seed, index)``).  The same ``rng`` state always gives the same arrays.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..config import build_config
from ..errors import ConfigError

Initial = tuple[dict[str, np.ndarray], dict[str, float]]
_IC: dict[str, tuple[type, Callable[..., Initial]]] = {}


def register_ic(name: str, options: type) -> Callable[[Callable[..., Initial]], Callable[..., Initial]]:
    """Register an initial-condition distribution ``name`` with its options dataclass."""

    def decorate(fn: Callable[..., Initial]) -> Callable[..., Initial]:
        _IC[name] = (options, fn)
        return fn

    return decorate


def list_ics() -> list[str]:
    return sorted(_IC)


def build_ic(spec: Mapping[str, Any]) -> Callable[[np.random.Generator, dict[str, np.ndarray], tuple[str, ...]], Initial]:
    """Resolve ``{"kind": name, **options}`` into ``f(rng, coords, fields) -> (initial, draws)``."""
    from ..registry import unknown_name_error

    options = dict(spec)
    kind = options.pop("kind")
    if kind not in _IC:
        raise unknown_name_error("initial condition", kind, list(_IC))
    opts_cls, fn = _IC[kind]
    opts = build_config(opts_cls, options, prefix="initial_condition.")
    return lambda rng, coords, fields: fn(rng, coords, fields, opts)


def _lengths(coords: dict[str, np.ndarray]) -> dict[str, float]:
    """Periodic length of each (uniform) grid: n * spacing."""
    return {d: float(len(c) * (c[1] - c[0])) if len(c) > 1 else 1.0 for d, c in coords.items()}


def _one_field(fields: tuple[str, ...], kind: str) -> str:
    if len(fields) != 1:
        raise ConfigError(f"initial_condition.kind {kind!r} makes one field, the PDE has {list(fields)}")
    return fields[0]


@dataclass
class SineSumOptions:
    """PDEBench-style sum of sines: u0 = sum_i A_i sin(2 pi k_i x / L + phi_i)."""

    n_modes: int = 2
    k_max: int = 4
    amplitude: float = 1.0

    def validate(self) -> None:
        if self.n_modes < 1 or self.k_max < 1:
            raise ConfigError("initial_condition.n_modes and k_max must be >= 1")


@register_ic("sine-sum", SineSumOptions)
def sine_sum(rng: np.random.Generator, coords: dict[str, np.ndarray], fields: tuple[str, ...], o: SineSumOptions) -> Initial:
    """A_i ~ U(0, amplitude), k_i ~ U{1..k_max}, phi_i ~ U(0, 2 pi) (PDEBench's Burgers/advection ICs)."""
    name = _one_field(fields, "sine-sum")
    (dim, x), = coords.items()
    length = _lengths(coords)[dim]
    amp = rng.uniform(0.0, o.amplitude, o.n_modes)
    k = rng.integers(1, o.k_max + 1, o.n_modes)
    phase = rng.uniform(0.0, 2 * np.pi, o.n_modes)
    u = (amp[:, None] * np.sin(2 * np.pi * k[:, None] * (x[None, :] - x[0]) / length + phase[:, None])).sum(0)
    draws = {f"{key}{i}": float(v[i]) for i in range(o.n_modes) for key, v in (("k", k), ("a", amp), ("phi", phase))}
    return {name: u}, draws


@dataclass
class FourierOptions:
    """Random Fourier series: coefficients ~ N(0, k^-decay), rescaled to max |u0| = amplitude."""

    k_max: int = 8
    decay: float = 1.0
    amplitude: float = 1.0
    mean: float = 0.0

    def validate(self) -> None:
        if self.k_max < 1 or self.amplitude <= 0:
            raise ConfigError("initial_condition.k_max must be >= 1 and amplitude > 0")


@register_ic("fourier-series", FourierOptions)
def fourier_series(rng: np.random.Generator, coords: dict[str, np.ndarray], fields: tuple[str, ...], o: FourierOptions) -> Initial:
    """u0 = mean + s * sum_k (a_k cos + b_k sin)(2 pi k x / L), a_k, b_k ~ N(0, k^-2 decay)."""
    name = _one_field(fields, "fourier-series")
    (dim, x), = coords.items()
    length = _lengths(coords)[dim]
    k = np.arange(1, o.k_max + 1)
    a, b = rng.normal(size=(2, o.k_max)) * k ** (-o.decay)
    arg = 2 * np.pi * k[:, None] * (x[None, :] - x[0]) / length
    u = (a[:, None] * np.cos(arg) + b[:, None] * np.sin(arg)).sum(0)
    u = o.mean + o.amplitude * u / max(np.abs(u).max(), 1e-12)
    draws = {f"{key}{i + 1}": float(v[i]) for i in range(o.k_max) for key, v in (("a", a), ("b", b))}
    return {name: u}, draws


@dataclass
class GRFOptions:
    """Gaussian random field with spectrum sigma (tau^2 + |2 pi k / L|^2)^(-alpha/2)."""

    alpha: float = 2.5
    tau: float = 7.0
    sigma: float | None = None

    def validate(self) -> None:
        if self.alpha <= 0 or self.tau <= 0:
            raise ConfigError("initial_condition.alpha and tau must be positive")


@register_ic("gaussian-random-field", GRFOptions)
def gaussian_random_field(rng: np.random.Generator, coords: dict[str, np.ndarray], fields: tuple[str, ...], o: GRFOptions) -> Initial:
    """Zero-mean periodic GRF on the grid (1D or 2D), as in the FNO Navier-Stokes data.

    sigma defaults to tau^(alpha - d/2) (d = number of dims) so that fields are O(1).
    """
    name = _one_field(fields, "gaussian-random-field")
    lengths = _lengths(coords)
    shape = tuple(len(c) for c in coords.values())
    ks = [2 * np.pi * np.fft.fftfreq(n, d=lengths[d] / n) for d, n in zip(coords, shape)]
    k2 = sum(g**2 for g in np.meshgrid(*ks, indexing="ij"))
    sigma = o.sigma if o.sigma is not None else o.tau ** (o.alpha - len(shape) / 2)
    amp = sigma * (o.tau**2 + k2) ** (-o.alpha / 2)
    amp.flat[0] = 0.0
    noise = rng.normal(size=shape) + 1j * rng.normal(size=shape)
    u = np.real(np.fft.ifftn(amp * noise)) * np.sqrt(np.prod(shape))
    return {name: u}, {}


@dataclass
class SpiralOptions:
    """Spiral waves for two-field reaction-diffusion: random centre, arm count, phase."""

    max_arms: int = 3
    centre_fraction: float = 0.5
    radius_scale: float = 1.0

    def validate(self) -> None:
        if self.max_arms < 1 or not 0 <= self.centre_fraction <= 1 or self.radius_scale <= 0:
            raise ConfigError("initial_condition: need max_arms >= 1, 0 <= centre_fraction <= 1, radius_scale > 0")


@register_ic("spiral", SpiralOptions)
def spiral(rng: np.random.Generator, coords: dict[str, np.ndarray], fields: tuple[str, ...], o: SpiralOptions) -> Initial:
    """u = tanh(r) cos(m theta - r + phi), v = tanh(r) sin(m theta - r + phi) about a random centre.

    r is the distance to the centre divided by ``radius_scale``; the centre is uniform in
    the middle ``centre_fraction`` of each axis; m ~ U{1..max_arms}; phi ~ U(0, 2 pi).
    """
    if len(fields) != 2 or len(coords) != 2:
        raise ConfigError(f"initial_condition.kind 'spiral' needs a 2-field 2D PDE, got fields {list(fields)}")
    (_, y), (_, x) = coords.items()
    centre = []
    for c in (y, x):
        mid, half = 0.5 * (c[0] + c[-1]), 0.5 * (c[-1] - c[0]) * o.centre_fraction
        centre.append(rng.uniform(mid - half, mid + half))
    arms = int(rng.integers(1, o.max_arms + 1))
    phase = float(rng.uniform(0.0, 2 * np.pi))
    yy, xx = np.meshgrid(y - centre[0], x - centre[1], indexing="ij")
    r = np.hypot(xx, yy) / o.radius_scale
    arg = arms * np.arctan2(yy, xx) - r + phase
    u, v = np.tanh(r) * np.cos(arg), np.tanh(r) * np.sin(arg)
    return {fields[0]: u, fields[1]: v}, {"cy": centre[0], "cx": centre[1], "arms": float(arms), "phase": phase}


@dataclass
class UniformConstantOptions:
    """A spatially constant state u0 ~ U(low, high) (PDEBench's diffusion-sorption draw)."""

    low: float = 0.0
    high: float = 0.2

    def validate(self) -> None:
        if not self.low < self.high:
            raise ConfigError(f"initial_condition: needs low < high, got low={self.low}, high={self.high}")


@register_ic("uniform-constant", UniformConstantOptions)
def uniform_constant(rng: np.random.Generator, coords: dict[str, np.ndarray], fields: tuple[str, ...],
                     o: UniformConstantOptions) -> Initial:
    """u0 = c everywhere, c ~ U(low, high) (one draw), stored as ``ic_u0``."""
    name = _one_field(fields, "uniform-constant")
    value = float(rng.uniform(o.low, o.high))
    shape = tuple(len(c) for c in coords.values())
    return {name: np.full(shape, value)}, {"u0": value}


@dataclass
class MPForcingOptions:
    """The forcing of the message-passing PDE experiments (Brandstetter et al. 2022); u0 = delta(0, x).

    ``n_waves`` waves with A ~ U(-amplitude, amplitude), omega ~ U(-omega, omega),
    phi ~ U(0, 2 pi) and l ~ U{1..l_max} (the public generator's ``randint(1, 3)``: {1, 2};
    the paper says {1, 2, 3}); ``cell_average``: u0 as cell averages (what a finite-volume
    reference evolves) instead of point values.
    """

    n_waves: int = 5
    amplitude: float = 0.5
    omega: float = 0.4
    l_max: int = 2
    cell_average: bool = True

    def validate(self) -> None:
        if self.n_waves < 1 or self.l_max < 1:
            raise ConfigError("initial_condition.n_waves and l_max must be >= 1")
        if self.amplitude < 0 or self.omega < 0:
            raise ConfigError("initial_condition.amplitude and omega must be non-negative")


@register_ic("mp-forcing", MPForcingOptions)
def mp_forcing(rng: np.random.Generator, coords: dict[str, np.ndarray], fields: tuple[str, ...],
               o: MPForcingOptions) -> Initial:
    """u0 = delta(0, x) of a random forcing; its parameters are the draws ``A<j>``, ``omega<j>``,
    ``l<j>``, ``phi<j>`` (stored per sample, and passed to the solver, which applies the same
    forcing for t > 0)."""
    from ..pdes.combined_equation import draw_forcing, sine_forcing

    name = _one_field(fields, "mp-forcing")
    (dim, x), = coords.items()
    length = _lengths(coords)[dim]
    waves = draw_forcing(rng, o.n_waves, o.amplitude, o.omega, o.l_max)
    cell = length / len(x) if o.cell_average else 0.0
    u = sine_forcing(0.0, x, waves["A"], waves["omega"], waves["l"], waves["phi"], length, cell)
    return {name: u}, {f"{key}{j}": float(v[j]) for key, v in waves.items() for j in range(o.n_waves)}
