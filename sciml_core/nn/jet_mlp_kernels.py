"""A whole tanh MLP on a jet, forward and reverse, compiled for a CPU core over blocks of points.

Run layer by layer, a jet network's forward and reverse passes stream every layer's stack
(slots x points x width) through memory several times; at PINN sizes those stacks overflow
the L2 cache and the passes, not the arithmetic, set the time.  Here one compiled loop takes
a block of ``BLOCK`` points through every layer and keeps it in cache:

    forward, per block:  H_0 = the input stack;  Z_l = W_l H_{l-1} (+ b_l on the value slot);
                         H_l = tanh(Z_l) by Faa di Bruno (:func:`.jet_kernels.activation_lines`)
    reverse, per block:  H_{l-1} recomputed from the saved Z_{l-1};
                         dW_l += sum G_l H_{l-1}^T,  db_l += sum G_l[value],
                         G_{l-1} = the adjoint of the jet rule applied to W_l^T G_l.

Inside a block the stacks are feature-major ``(slots, width, BLOCK)``, so every inner loop
runs over contiguous points and vectorises; widths are run-time values (one compiled set of
loops serves every width), matrix products and the weight gradient are unrolled into small
register tiles.  The forward saves, per hidden layer, the pre-activation stack with tanh(value) in place of
the value (``(blocks, slots, width, BLOCK)``, all the reverse pass needs).  tanh itself is
computed in the kernel from expm1 (below), since numba's tanh is a scalar library call.

Kernels are generated per (jet layout, dtype) and compiled on first use (about 6 s); the
drivers again per number of layers.  Used by :func:`.jet_mlp.jet_mlp` for tanh networks up to
``MAX_WIDTH`` on CPU tensors.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from functools import cache

import numpy as np

from . import jet_kernels

#: Points per block: the stacks of a block stay in L1/L2 (4 slots x 20 units x 128 points x 4 B = 40 KB).
BLOCK = 128
#: The widest layer the compiled network takes.  Float32 forward + reverse at 2540 points on one
#: core against the layer-by-layer node (MKL matmuls): 1.7-2.1x faster for a (2, 20, 20, 20, 1)
#: net, 1.2x at four layers of 64, even at 96, 0.93x at 128 (a block's rows outgrow L1).
MAX_WIDTH = 64
#: A matrix product's tile: _ROWS outputs by _UNROLL inputs per inner loop (more streams defeat
#: the vectoriser's alias checks); remaining inputs go in chunks of half, a quarter, ...
_ROWS, _UNROLL = 4, 4
#: Side of the tiles of the weight gradient's accumulators.
_TILE = 4
#: Terms of the expm1 Taylor series on [-0.625, 0] per dtype: the last is below the unit roundoff.
_EXPM1_TERMS = {"float32": 10, "float64": 16}
#: |x| beyond which tanh(x) is 1 in float64 (1 - tanh(20) < 1e-17).
_TANH_CLAMP = 20.0

_FLOAT = re.compile(r"(?<![\w.])(\d+\.\d*(?:e[-+]?\d+)?)")


def _tanh_lines(x: str, terms: int) -> list[str]:
    """``A = tanh(x)`` in vectorisable arithmetic: with u = min(|x|, 20) and d = expm1(-u/32)
    (Taylor series), squaring 1 + d six times gives m = expm1(-2u) through d <- d (2 + d), and
    tanh(u) = -m / (2 + m).  A few ulp in float32 and float64 (no cancellation: m and d keep
    their relative accuracy down to u -> 0)."""
    series = "1.0"
    for k in range(terms, 1, -1):
        series = f"1.0 + r * {1.0 / k!r} * ({series})"
    return [f"u = min(abs({x}), {_TANH_CLAMP})", "r = u * -0.03125", f"d = r * ({series})",
            *["d = d * (2.0 + d)"] * 6, f"A = math.copysign(-d / (2.0 + d), {x})"]


def _function(name: str, args: str, body: list[str]) -> list[str]:
    return [f"def {name}({args}):", *("    " + line for line in body), ""]


def _loop(header: str, body: list[str]) -> list[str]:
    return [header, *("    " + line for line in body)]


def _linear(name: str, transpose: bool, slots: int) -> list[str]:
    """``name(W, b, X, Y)``: Y[s, i, :] = sum_q W[i, q] X[s, q, :] (+ b[i] on slot 0), or with
    ``transpose`` Y[s, i, :] = sum_q W[q, i] X[s, q, :] (b unused).  _ROWS output rows at a time
    share each loaded input row; the inputs go in chunks of _UNROLL (then halves, quarters...),
    the first chunk writing the output so it is not zero-filled first."""
    outputs, inputs = ("W.shape[1]", "W.shape[0]") if transpose else ("W.shape[0]", "W.shape[1]")

    def rows(count: int) -> list[str]:
        def chunk(size: int, first: bool) -> list[str]:
            weights = [f"w{r}_{q} = " + (f"W[k + {q}, i + {r}]" if transpose else f"W[i + {r}, k + {q}]")
                       for r in range(count) for q in range(size)]
            sums = [" + ".join(f"w{r}_{q} * x{q}" for q in range(size)) for r in range(count)]
            return [*weights, *_loop(f"for p in range({BLOCK}):", [
                *(f"x{q} = X[s, k + {q}, p]" for q in range(size)),
                *(f"Y[s, i + {r}, p] = c{r} + {sums[r]}" if first else f"Y[s, i + {r}, p] += {sums[r]}"
                  for r in range(count))]), f"k += {size}"]

        bias = [f"c{r} = 0.0" if transpose else f"c{r} = b[i + {r}] if s == 0 else 0.0" for r in range(count)]
        lines = [*bias, "k = 0", *_loop(f"if n_in >= {_UNROLL}:", chunk(_UNROLL, True)),
                 *_loop("else:", _loop(f"for p in range({BLOCK}):", [f"Y[s, i + {r}, p] = c{r}" for r in range(count)])),
                 *_loop(f"while k + {_UNROLL} <= n_in:", chunk(_UNROLL, False))]
        size = _UNROLL // 2
        while size:
            lines += _loop(f"if k + {size} <= n_in:", chunk(size, False))
            size //= 2
        return [*lines, f"i += {count}"]

    return _function(name, "W, b, X, Y", [f"n_out, n_in = {outputs}, {inputs}", *_loop(f"for s in range({slots}):", [
        "i = 0", *_loop(f"while i + {_ROWS} <= n_out:", rows(_ROWS)), *_loop("while i < n_out:", rows(1))])])


def _weight_gradient(slots: int) -> list[str]:
    """``weight_gradient(GZ, H, dW, db)``: dW[j, k] += sum_{s, p} GZ[s, j, p] H[s, k, p] and
    db[j] += sum_p GZ[0, j, p], over tiles of _TILE x _TILE accumulators so each loaded row
    feeds several products; rows and columns beyond the tiles one by one."""
    def accumulate(js: list[str], ks: list[str]) -> list[str]:
        pairs = [(a, j, b, k) for a, j in enumerate(js) for b, k in enumerate(ks)]
        return [*(f"t{a}_{b} = 0.0" for a, _, b, _ in pairs),
                *_loop(f"for p in range({BLOCK}):", [
                    f"t{a}_{b} += " + " + ".join(f"GZ[{s}, {j}, p] * H[{s}, {k}, p]" for s in range(slots))
                    for a, j, b, k in pairs]),
                *(f"dW[{j}, {k}] += t{a}_{b}" for a, j, b, k in pairs)]

    tile_j = [f"j + {a}" for a in range(_TILE)]
    tile_k = [f"k + {b}" for b in range(_TILE)]
    return _function("weight_gradient", "GZ, H, dW, db", [
        "rows, cols = dW.shape", f"rows_t, cols_t = rows - rows % {_TILE}, cols - cols % {_TILE}",
        *_loop(f"for j in range(0, rows_t, {_TILE}):", [
            *_loop(f"for k in range(0, cols_t, {_TILE}):", accumulate(tile_j, tile_k)),
            *_loop("for k in range(cols_t, cols):", accumulate(tile_j, ["k"]))]),
        *_loop("for j in range(rows_t, rows):", _loop("for k in range(cols):", accumulate(["j"], ["k"]))),
        *_loop("for j in range(rows):", ["t = 0.0", *_loop(f"for p in range({BLOCK}):", ["t += GZ[0, j, p]"]),
                                         "db[j] += t"])])


def _elementwise(name: str, args: str, body: list[str]) -> list[str]:
    return _function(name, args, _loop("for j in range(Z.shape[1]):", _loop(f"for p in range({BLOCK}):", body)))


def _drivers(slots: int) -> list[str]:
    """forward(X, Y, Ws, bs, Zs) and backward(X, G, GX, need_input_grad, Ws, bs, Zs, dWs, dbs)."""
    blocks = ["n = X.shape[1]", "layers = len(Ws)", "wide = X.shape[2]",
              *_loop("for l in range(layers):", ["wide = max(wide, Ws[l].shape[0])"]),
              f"H = np.zeros(({slots}, wide, {BLOCK}), X.dtype)"]
    each_block = [f"for blk in range((n + {BLOCK} - 1) // {BLOCK}):", f"    p0 = blk * {BLOCK}",
                  f"    m = min({BLOCK}, n - p0)"]
    forward = _function("forward", "X, Y, Ws, bs, Zs", [
        *blocks, f"O = np.empty(({slots}, Y.shape[2], {BLOCK}), X.dtype)", *each_block,
        "    load(X, H, p0, m)",
        *_loop("    for l in range(layers - 1):", ["    linear(Ws[l], bs[l], H, Zs[l][blk])",
                                                      "    tanh_forward(Zs[l][blk], H)"]),
        "    linear(Ws[layers - 1], bs[layers - 1], H, O)", "    store(O, Y, p0, m)"])
    backward = _function("backward", "X, G, GX, need_input_grad, Ws, bs, Zs, dWs, dbs", [
        *blocks, f"GZ = np.empty(({slots}, wide, {BLOCK}), X.dtype)", f"GH = np.empty(({slots}, wide, {BLOCK}), X.dtype)",
        *each_block, "    load(G, GZ, p0, m)",
        *_loop("    for l in range(layers - 1, -1, -1):", [
            *_loop("    if l == 0:", ["    load(X, H, p0, m)"]),
            *_loop("    else:", ["    tanh_recompute(Zs[l - 1][blk], H)"]),
            "    weight_gradient(GZ, H, dWs[l], dbs[l])",
            *_loop("    if l > 0:", ["    linear_transposed(Ws[l], bs[l], GZ, GH)",
                                     "    tanh_backward(Zs[l - 1][blk], GH, GZ)"]),
            *_loop("    elif need_input_grad:", ["    linear_transposed(Ws[0], bs[0], GZ, GH)",
                                                 "    store(GH, GX, p0, m)"])])])
    return forward + backward


def _source(counts: tuple[int, ...], dtype: str) -> str:
    """Python source of the helpers (block load/store, matrix products, weight gradient, tanh's
    jet rule forward, recomputed and adjoint) and the two drivers, for one jet layout."""
    slots = 1 + sum(counts)
    fwd_rule, _ = jet_kernels.activation_lines("tanh", counts, lambda a, r: f"{a}[{r}, j, p]")
    names = {"G": "GH", "D": "GZ"}  # the adjoint reads the gradient of H and writes that of Z
    _, bwd_rule = jet_kernels.activation_lines("tanh", counts, lambda a, r: f"{names.get(a, a)}[{r}, j, p]")
    lines = [
        *_function("load", "src, dst, p0, m", _loop(f"for s in range({slots}):", _loop("for k in range(src.shape[2]):", [
            *_loop("for p in range(m):", ["dst[s, k, p] = src[s, p0 + p, k]"]),
            *_loop(f"for p in range(m, {BLOCK}):", ["dst[s, k, p] = 0.0"])]))),
        *_function("store", "src, dst, p0, m", _loop(f"for s in range({slots}):", _loop(
            "for k in range(dst.shape[2]):", _loop("for p in range(m):", ["dst[s, p0 + p, k] = src[s, k, p]"])))),
        *_linear("linear", False, slots), *_linear("linear_transposed", True, slots), *_weight_gradient(slots),
        *_elementwise("tanh_forward", "Z, H", [*_tanh_lines("Z[0, j, p]", _EXPM1_TERMS[dtype]), *fwd_rule,
                                               "Z[0, j, p] = A"]),
        *_elementwise("tanh_recompute", "Z, H", ["A = Z[0, j, p]", *fwd_rule]),
        *_elementwise("tanh_backward", "Z, GH, GZ", ["A = Z[0, j, p]", *bwd_rule]),
    ]
    return "\n".join(lines) + "\n" + "\n".join(_drivers(slots))


@cache
def tanh_mlp_kernels(counts: tuple[int, ...], dtype: str) -> tuple[Callable[..., None], Callable[..., None]]:
    """(forward, backward) for tanh MLPs of any widths (two layers or more) on jet layout ``counts``.

    forward(X, Y, Ws, bs, Zs): X ``(S, n, k_0)`` in, Y ``(S, n, k_L)`` out, the tuples
    Ws = (W_1, ..., W_L) and bs = (b_1, ..., b_L), Zs = (Z_1, ..., Z_{L-1}) with Z_l
    ``(blocks, S, k_l, BLOCK)`` written for the reverse pass.
    backward(X, G, GX, need_input_grad, Ws, bs, Zs, dWs, dbs): G ``(S, n, k_L)`` the output
    gradient; the tuples dWs, dbs zero-initialised and accumulated; GX written when asked.

    Every float literal becomes a constant of ``dtype`` (a float64 literal would promote
    float32 arithmetic)."""
    np_dtype, constants = np.dtype(dtype), {}

    def typed(match: re.Match[str]) -> str:
        key = f"K{len(constants)}"
        constants[key] = np_dtype.type(float(match.group(1)))
        return key

    source = _FLOAT.sub(typed, _source(counts, dtype))
    namespace: dict[str, object] = {"np": np, "math": math, **constants}
    exec(source, namespace)  # noqa: S102 - source generated in this module from integers only
    compile_ = jet_kernels.numba.njit(fastmath=True, nogil=True, error_model="numpy")
    for name in ("load", "store", "linear", "linear_transposed", "weight_gradient", "tanh_forward",
                 "tanh_recompute", "tanh_backward", "forward", "backward"):
        namespace[name] = compile_(namespace[name])  # the drivers call the compiled helpers by name
    return namespace["forward"], namespace["backward"]
