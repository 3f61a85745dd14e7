"""Fourier grids and transforms shared by the pseudo-spectral integrators.

A periodic box ``[lo_d, hi_d)`` with ``n_d`` points per dim is represented by the real FFT of
its fields: state arrays have shape ``(batch, n_fields, *spectral)`` with ``spectral`` the
``rfftn`` shape (last dim ``n_x // 2 + 1``).  Two back ends do the transforms:

* ``numpy`` -- :mod:`scipy.fft` (pocketfft) with ``workers`` threads;
* ``torch`` -- :mod:`torch.fft` on any device (GPU included).

PDE hooks see a :class:`SpectralOps` object: ``ops.fft`` / ``ops.ifft`` (over the spatial
axes, any leading dims), ``ops.k[dim]`` and ``ops.ik[dim]`` (wavenumbers broadcast to the
spectral shape; ``ik`` has the Nyquist mode zeroed so odd derivatives stay real), and
``ops.xp`` (the array module, so ``ops.xp.stack`` works for both back ends).

A PDE whose fields (a, b) form a complex pair (``pde.spectral_complex_pair()``) may be
evolved as the single complex field ``a + i b`` with full complex FFTs (same cost as two real
ones); then a linear rotation between a and b fits the diagonal symbol.

Dealiasing (Orszag's 2/3 rule) zeroes every mode with ``|k_d| > (2/3) k_max,d`` in some dim.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import scipy.fft

from sciml_core.errors import DataError

Backend = Literal["numpy", "torch"]


class SpectralOps:
    """Transforms, wavenumbers and masks of one periodic grid on one back end."""

    def __init__(
        self,
        bounds: Mapping[str, tuple[float, float]],
        n: Mapping[str, int],
        backend: Backend = "numpy",
        dtype: str = "float64",
        device: Any = "cpu",
        workers: int = -1,
        complex_pair: tuple[str, str] | None = None,
    ) -> None:
        self.dims = tuple(bounds)
        self.shape = tuple(int(n[d]) for d in self.dims)
        self.backend = backend
        self.workers = workers
        self.complex_pair = complex_pair  # fields (a, b) evolved as one complex field a + i b
        self.axes = tuple(range(-len(self.dims), 0))
        self.real_dtype = np.dtype(dtype)
        self.complex_dtype = np.result_type(self.real_dtype, np.complex64)
        self.coords = {d: bounds[d][0] + (bounds[d][1] - bounds[d][0]) * np.arange(m) / m
                       for d, m in zip(self.dims, self.shape)}
        k_np, ik_np, keep = {}, {}, np.ones((), dtype=bool)
        for i, (d, m) in enumerate(zip(self.dims, self.shape)):
            length = bounds[d][1] - bounds[d][0]
            last = i == len(self.dims) - 1 and complex_pair is None
            modes = np.arange(m // 2 + 1) if last else np.fft.fftfreq(m, 1.0 / m)
            shape = [1] * len(self.dims)
            shape[i] = modes.size
            k = (2 * np.pi / length) * modes.reshape(shape)
            k_np[d] = k
            ik_np[d] = 1j * np.where(np.abs(modes.reshape(shape)) == m / 2, 0.0, k)
            keep = keep & (np.abs(modes.reshape(shape)) <= m / 3)
        self.spectral_shape = tuple(np.broadcast_shapes(*(a.shape for a in k_np.values())))
        self.k_numpy = k_np
        weights = np.full(self.spectral_shape, 2.0 if complex_pair is None else 1.0)
        if complex_pair is None:  # rfft: the kx = 0 and Nyquist columns count once
            weights[..., 0] = 1.0
            if self.shape[-1] % 2 == 0:
                weights[..., -1] = 1.0
        self._weights_np = weights / float(np.prod(self.shape)) ** 2
        if backend == "torch":
            import torch

            self.xp = torch
            self.device = torch.device(device)
            self._torch_real = getattr(torch, str(self.real_dtype))
        else:
            self.xp = np
            self.device = None
        self.k = {d: self.asarray(v) for d, v in k_np.items()}
        self.ik = {d: self.asarray(v) for d, v in ik_np.items()}
        self.mask = self.asarray(np.broadcast_to(keep, self.spectral_shape).astype(self.real_dtype))
        self.weights = self.asarray(self._weights_np.astype(self.real_dtype))

    # ---- conversions -------------------------------------------------------------------
    def asarray(self, a: Any) -> Any:
        """Move a numpy array (real or complex) to the back end, in the working precision."""
        a = np.asarray(a)
        dtype = self.complex_dtype if np.iscomplexobj(a) else self.real_dtype
        a = np.ascontiguousarray(a, dtype=dtype)
        if self.backend == "torch":
            import torch

            return torch.as_tensor(a, device=self.device)
        return a

    def to_numpy(self, a: Any) -> np.ndarray:
        if self.backend == "torch":
            return a.detach().cpu().numpy()
        return np.asarray(a)

    # ---- transforms ----------------------------------------------------------------------
    def fft(self, u: Any) -> Any:
        """Forward transform over the spatial (trailing) axes (real, or complex for a pair)."""
        if self.complex_pair is not None:
            if self.backend == "torch":
                return self.xp.fft.fftn(u, dim=self.axes)
            return scipy.fft.fftn(u, axes=self.axes, workers=self.workers)
        if self.backend == "torch":
            return self.xp.fft.rfftn(u, dim=self.axes)
        return scipy.fft.rfftn(u, axes=self.axes, workers=self.workers)

    def ifft(self, u_hat: Any) -> Any:
        """Inverse of :meth:`fft` (``s`` fixed, so odd sizes round-trip)."""
        if self.complex_pair is not None:
            if self.backend == "torch":
                return self.xp.fft.ifftn(u_hat, dim=self.axes)
            return scipy.fft.ifftn(u_hat, axes=self.axes, workers=self.workers)
        if self.backend == "torch":
            return self.xp.fft.irfftn(u_hat, s=self.shape, dim=self.axes)
        return scipy.fft.irfftn(u_hat, s=self.shape, axes=self.axes, workers=self.workers)

    def accumulate(self, acc: Any, scale: float, factor: Any, x: Any) -> Any:
        """``acc + scale * factor * x``, in place on ``acc`` (None: a new array); ``factor``
        is a batch-free array or None for 1.  On torch one fused ``addcmul_`` pass."""
        if acc is not None and self.backend == "torch":
            return acc.add_(x, alpha=scale) if factor is None else acc.addcmul_(factor, x, value=scale)
        term = x * scale if factor is None else (scale * factor) * x  # the scalar folded into the batch-free factor
        if acc is None:
            return term
        acc += term
        return acc

    def sq_norm(self, u_hat: Any) -> Any:
        """Per-sample squared grid-mean L2 norm, ``mean_x |u|^2`` over fields and space (Parseval)."""
        a2 = u_hat.real**2 + u_hat.imag**2
        flat = (a2 * self.weights).reshape(a2.shape[0], -1)
        return flat.sum(1) / a2.shape[1]

    def meshgrid(self) -> dict[str, np.ndarray]:
        """Physical coordinates as broadcastable numpy arrays, e.g. y (ny, 1) and x (1, nx)."""
        grids = np.meshgrid(*(self.coords[d] for d in self.dims), indexing="ij", sparse=True)
        return dict(zip(self.dims, grids))


def state_fields(fields: Sequence[str], ops: SpectralOps) -> list[str]:
    """Names of the evolved components: the fields, with a complex pair (a, b) as ``"a+ib"``."""
    if ops.complex_pair is None:
        return list(fields)
    a, b = ops.complex_pair
    return [f"{a}+i{b}", *(f for f in fields if f not in (a, b))]


def linear_symbol(pde: Any, ops: SpectralOps) -> np.ndarray:
    """Stack the PDE's diagonal linear symbols per component -> ``(n_components, *spectral)``."""
    symbols = pde.spectral_linear(ops.k_numpy)
    return np.stack([np.broadcast_to(np.asarray(symbols[f]), ops.spectral_shape)
                     for f in state_fields(pde.fields, ops)])


def field_stack(initial: Mapping[str, Any], fields: Sequence[str], ops: SpectralOps) -> np.ndarray:
    """``initial[field]`` ``(batch, *space)`` -> ``(batch, n_components, *space)`` (complex for a pair)."""
    shape = ops.shape
    arrays = {}
    for f in fields:
        if f not in initial:
            raise DataError(f"initial state has no field {f!r} (expected {', '.join(fields)})")
        a = np.asarray(initial[f], dtype=np.float64)
        if a.shape[-len(shape):] != shape:
            raise DataError(f"initial[{f!r}] has shape {a.shape}, expected (batch, {', '.join(map(str, shape))})")
        arrays[f] = a.reshape(-1, *shape)
    if ops.complex_pair is not None:
        a, b = ops.complex_pair
        arrays = {f"{a}+i{b}": arrays.pop(a) + 1j * arrays.pop(b), **arrays}
    return np.stack(list(arrays.values()), axis=1)


def split_fields(w: np.ndarray, fields: Sequence[str], ops: SpectralOps) -> dict[str, np.ndarray]:
    """Inverse of :func:`field_stack` on axis -1 - ndim: components -> ``{field: real array}``."""
    axis = w.ndim - len(ops.shape) - 1
    parts = {name: np.take(w, i, axis=axis) for i, name in enumerate(state_fields(fields, ops))}
    if ops.complex_pair is not None:
        a, b = ops.complex_pair
        z = parts.pop(f"{a}+i{b}")
        parts.update({a: z.real, b: z.imag})
    return {f: np.ascontiguousarray(parts[f].real) for f in fields}
