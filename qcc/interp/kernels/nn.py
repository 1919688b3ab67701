"""Float kernels of the nn ops.

Windowed ops share one idea: pad once, then view the padded array through strides (numpy stride
tricks) so that every window tap, or the whole im2col matrix, is a view rather than a Python loop
over elements. Convolution does one BLAS matmul per group and image on the im2col matrix (a free
view for 1x1 stride-1 convs). Depthwise convolution has too little work per tap for a matmul, so
it accumulates weight * shifted input over the taps, laid out (``_TapGrid``) so that each shifted
input is one contiguous slice. Max and average pooling are separable and reduce one axis at a
time. f16/bf16 operands are computed in float32 and cast back.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from qcc.interp.kernels import kernel
from qcc.ops.nn import transposed_output_size, window_output_size

Arrays = Sequence[np.ndarray]
Attrs = Mapping[str, Any]


# ---- helpers ------------------------------------------------------------------------------------


def _compute_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype arithmetic runs in: float32 for the 16-bit floats, the input's own otherwise."""
    if dtype == np.float16 or dtype.name == "bfloat16":
        return np.dtype(np.float32)
    return dtype


def _as_compute(*arrays: np.ndarray) -> list[np.ndarray]:
    return [a.astype(_compute_dtype(a.dtype), copy=False) for a in arrays]


def _spatial_split(pads: Sequence[int]) -> tuple[Sequence[int], Sequence[int]]:
    half = len(pads) // 2
    return pads[:half], pads[half:]


def pad_spatial(x: np.ndarray, begin: Sequence[int], end: Sequence[int], value: Any) -> np.ndarray:
    """x with its spatial axes (2, 3, ...) padded by ``value``; x itself when nothing is padded."""
    if not any(begin) and not any(end):
        return x
    shape = x.shape[:2] + tuple(d + b + e for d, b, e in zip(x.shape[2:], begin, end))
    out = np.full(shape, value, dtype=x.dtype)
    out[(slice(None), slice(None)) + tuple(slice(b, b + d) for b, d in zip(begin, x.shape[2:]))] = x
    return out


def sliding_windows(xp: np.ndarray, kernel_shape: Sequence[int], strides: Sequence[int], dilations: Sequence[int], out_shape: Sequence[int]) -> np.ndarray:
    """Read-only view [N, C, k1, ..., kn, o1, ..., on] of a padded input: element
    [n, c, *k, *o] is xp[n, c, o*stride + k*dilation]. Reshaping a channel block of it to
    [C*K, O] is im2col."""
    sn, sc, *sx = xp.strides
    shape = xp.shape[:2] + tuple(kernel_shape) + tuple(out_shape)
    strides_ = (sn, sc, *(s * d for s, d in zip(sx, dilations)), *(s * t for s, t in zip(sx, strides)))
    return as_strided(xp, shape, strides_, writeable=False)


def _tap(xp: np.ndarray, tap: Sequence[int], strides: Sequence[int], dilations: Sequence[int], out_shape: Sequence[int]) -> np.ndarray:
    """View [N, C, o1, ...] of the input element each output position sees at kernel tap ``tap``."""
    index = tuple(slice(t * d, t * d + (o - 1) * s + 1, s) for t, s, d, o in zip(tap, strides, dilations, out_shape))
    return xp[(slice(None), slice(None)) + index]


class _TapGrid:
    """Output positions of a windowed op laid out so that every kernel tap is one contiguous
    slice, which numpy streams through several times faster than a strided 2-D view.

    The padded input is split into stride phases (padded position p goes to phase p % stride at
    p // stride; a single phase when all strides are 1) and each phase is flattened. Output
    position o then sits at grid index q = sum(o_i * Q_i), Q being the phase's row-major strides,
    and tap k reads phase (k*d) % s at q + sum((k_i*d_i // s_i) * Q_i) for every q at once. Grid
    entries between rows are junk that ``extract`` drops. Padding and phase split are one copy.
    """

    def __init__(self, x: np.ndarray, begin: Sequence[int], end: Sequence[int], attrs: Attrs, out_shape: Sequence[int], fill: Any) -> None:
        n, c, *size = x.shape
        strides = self.strides = tuple(attrs["strides"])
        self.dilations, self.out_shape = tuple(attrs["dilations"]), tuple(out_shape)
        phase_shape = [-(-(d + b + e) // s) for d, b, e, s in zip(size, begin, end, strides)]
        if all(s == 1 for s in strides):
            phases = np.ascontiguousarray(pad_spatial(x, begin, end, fill))[:, :, None]
        else:
            phases = np.full((n, c, math.prod(strides), *phase_shape), fill, dtype=x.dtype)
            for index, phase in enumerate(np.ndindex(*strides)):
                # phase slot j holds padded position j*s + a, i.e. input position j*s + a - begin
                first = [-(-(b - a) // s) if b > a else 0 for a, b, s in zip(phase, begin, strides)]
                src = tuple(slice(j * s + a - b, None, s) for j, a, b, s in zip(first, phase, begin, strides))
                part = x[(slice(None), slice(None), *src)]
                dst = tuple(slice(j, j + d) for j, d in zip(first, part.shape[2:]))
                slot: tuple[int | slice, ...] = (slice(None), slice(None), index, *dst)
                phases[slot] = part
        self.flat = phases.reshape(n, c, math.prod(strides), -1)
        self.row = [math.prod(phase_shape[i + 1 :]) for i in range(len(phase_shape))]
        self.length = sum((o - 1) * q for o, q in zip(out_shape, self.row)) + 1

    def tap(self, tap: Sequence[int]) -> np.ndarray:
        """[N, C, L] view of what every grid position sees at kernel tap ``tap``."""
        reach = [t * d for t, d in zip(tap, self.dilations)]
        phase = int(np.ravel_multi_index([r % s for r, s in zip(reach, self.strides)], self.strides))
        start = sum((r // s) * q for r, s, q in zip(reach, self.strides, self.row))
        return self.flat[:, :, phase, start : start + self.length]

    def extract(self, grid: np.ndarray) -> np.ndarray:
        """The output positions [..., o1, ..., on] of a [..., L] grid array, as a new array."""
        size = grid.itemsize
        view = as_strided(grid, grid.shape[:-1] + self.out_shape, grid.strides[:-1] + tuple(q * size for q in self.row), writeable=False)
        return view.copy()


def _pool_separably(xp: np.ndarray, kernel_shape: Sequence[int], attrs: Attrs, out_shape: Sequence[int], combine: np.ufunc, dtype: np.dtype) -> np.ndarray:
    """Combine each window of a padded input with ``combine`` (maximum or add), one spatial axis
    at a time: both are separable, so a k1 x k2 window costs k1 + k2 passes, not k1 * k2."""
    y = xp
    for axis, (k, s, d, o) in enumerate(zip(kernel_shape, attrs["strides"], attrs["dilations"], out_shape), start=2):
        acc = _axis_tap(y, axis, 0, s, d, o).astype(dtype, copy=True)
        for t in range(1, k):
            combine(acc, _axis_tap(y, axis, t, s, d, o), out=acc)
        y = acc
    return y


def _axis_tap(y: np.ndarray, axis: int, tap: int, stride: int, dilation: int, out: int) -> np.ndarray:
    """View of what each of ``out`` window positions along one axis sees at tap ``tap``."""
    index = [slice(None)] * y.ndim
    index[axis] = slice(tap * dilation, tap * dilation + (out - 1) * stride + 1, stride)
    return y[tuple(index)]


def window_geometry(x: np.ndarray, kernel_shape: Sequence[int], attrs: Attrs, ceil_mode: bool = False) -> tuple[list[int], list[int], list[int]]:
    """Output spatial shape and the begin/end padding a windowed op needs to read every tap,
    including the extra end padding that a ceil_mode window reaching past the input needs."""
    begin, end = _spatial_split(attrs["pads"])
    strides, dilations = attrs["strides"], attrs["dilations"]
    out, pad_end = [], []
    for i, size in enumerate(x.shape[2:]):
        o = window_output_size(size, kernel_shape[i], strides[i], dilations[i], begin[i], end[i], ceil_mode)
        out.append(o)
        needed = (o - 1) * strides[i] + (kernel_shape[i] - 1) * dilations[i] + 1
        pad_end.append(max(end[i], needed - size - begin[i]))
    return out, list(begin), pad_end


def _channel_shape(c: np.ndarray, rank: int) -> np.ndarray:
    """A per-channel [C] vector shaped to broadcast against [N, C, D1, ...]."""
    return c.reshape((1, -1) + (1,) * (rank - 2))


def _finish(y: np.ndarray, attrs: Attrs, dtype: np.dtype) -> list[np.ndarray]:
    """Apply the fused clamp (in place: ``y`` is the kernel's own new array) and return to the
    op's result dtype."""
    lo, hi = attrs.get("act_min", -np.inf), attrs.get("act_max", np.inf)
    if lo != -np.inf or hi != np.inf:
        np.clip(y, lo, hi, out=y)
    return [y.astype(dtype, copy=False)]


# ---- convolution --------------------------------------------------------------------------------


@kernel("conv")
def conv(xs: Arrays, attrs: Attrs) -> list[np.ndarray]:
    x, w = _as_compute(xs[0], xs[1])
    kernel_shape = w.shape[2:]
    out_shape, begin, end = window_geometry(x, kernel_shape, attrs)
    group, c_in = attrs["group"], x.shape[1]
    if group > 1 and group == c_in:
        y = _conv_depthwise(_TapGrid(x, begin, end, attrs, out_shape, 0), w)
    else:
        y = _conv_im2col(pad_spatial(x, begin, end, 0), w, attrs, out_shape)
    if len(xs) > 2:
        y += _channel_shape(xs[2].astype(y.dtype, copy=False), y.ndim)
    return _finish(y, attrs, xs[0].dtype)


def _conv_im2col(xp: np.ndarray, w: np.ndarray, attrs: Attrs, out_shape: Sequence[int]) -> np.ndarray:
    """Grouped N-d convolution as one matmul per image and group: W_g [M/g, C/g*K] @ im2col
    [C/g*K, O]. A 1x1 stride-1 conv needs no copy at all (the im2col reshape is a view)."""
    n, c_in = xp.shape[:2]
    group, c_out = attrs["group"], w.shape[0]
    cg, mg = c_in // group, c_out // group
    positions = math.prod(out_shape)
    taps = cg * math.prod(w.shape[2:])
    win = sliding_windows(xp, w.shape[2:], attrs["strides"], attrs["dilations"], out_shape)
    wm = w.reshape(group, mg, taps)
    y = np.empty((n, c_out, positions), dtype=np.result_type(xp, w))
    for b in range(n):
        for g in range(group):
            cols = win[b, g * cg : (g + 1) * cg].reshape(taps, positions)
            np.matmul(wm[g], cols, out=y[b, g * mg : (g + 1) * mg])
    return y.reshape(n, c_out, *out_shape)


def _conv_depthwise(grid: _TapGrid, w: np.ndarray) -> np.ndarray:
    """Depthwise convolution (group == C_in, C_out = multiplier * C_in): every output channel
    sees one input channel, so accumulate weight[tap] * shifted slice over the kernel taps."""
    n, c = grid.flat.shape[:2]
    mult = w.shape[0] // c
    wt = w.reshape(c, mult, *w.shape[2:])
    y = np.empty((n, c, mult, grid.length), dtype=np.result_type(grid.flat, w))
    scratch = np.empty_like(y)
    for i, tap in enumerate(np.ndindex(*w.shape[2:])):
        window = grid.tap(tap)[:, :, None]
        weight = wt[(slice(None), slice(None), *tap)].reshape(1, c, mult, 1)
        if i == 0:
            np.multiply(window, weight, out=y)
        else:
            np.multiply(window, weight, out=scratch)
            y += scratch
    return grid.extract(y).reshape(n, c * mult, *grid.out_shape)


@kernel("conv_transpose")
def conv_transpose(xs: Arrays, attrs: Attrs) -> list[np.ndarray]:
    """Per image and group, one matmul W_g^T @ x gives every tap's contribution; each tap's
    contribution is then added into a strided slice of the uncropped result (col2im), which is
    finally cropped by the pads."""
    x, w = _as_compute(xs[0], xs[1])
    n, c_in = x.shape[:2]
    group = attrs["group"]
    cg, mg = c_in // group, w.shape[1]
    kernel_shape, in_shape = w.shape[2:], x.shape[2:]
    strides, dilations, out_pad = attrs["strides"], attrs["dilations"], attrs["output_padding"]
    begin, end = _spatial_split(attrs["pads"])
    full_shape = [transposed_output_size(i, k, s, d, 0, 0, p) for i, k, s, d, p in zip(in_shape, kernel_shape, strides, dilations, out_pad)]
    dtype = np.result_type(x, w)
    full = np.zeros((n, mg * group, *full_shape), dtype=dtype)
    wt = w.reshape(group, cg, mg * math.prod(kernel_shape)).transpose(0, 2, 1)
    for b in range(n):
        for g in range(group):
            cols = (wt[g] @ x[b, g * cg : (g + 1) * cg].reshape(cg, -1)).reshape(mg, *kernel_shape, *in_shape)
            target = full[b, g * mg : (g + 1) * mg]
            for tap in np.ndindex(*kernel_shape):
                index = tuple(slice(t * d, t * d + (i - 1) * s + 1, s) for t, s, d, i in zip(tap, strides, dilations, in_shape))
                target[(slice(None), *index)] += cols[(slice(None), *tap)]
    crop = tuple(slice(b_, f - e) for b_, e, f in zip(begin, end, full_shape))
    y = np.ascontiguousarray(full[(slice(None), slice(None), *crop)])
    if len(xs) > 2:
        y += _channel_shape(xs[2].astype(dtype, copy=False), y.ndim)
    return _finish(y, attrs, xs[0].dtype)


# ---- matrix products ----------------------------------------------------------------------------


@kernel("gemm")
def gemm(xs: Arrays, attrs: Attrs) -> list[np.ndarray]:
    a, b = _as_compute(xs[0], xs[1])
    a = a.T if attrs["trans_a"] else a
    b = b.T if attrs["trans_b"] else b
    y = a @ b
    if attrs["alpha"] != 1.0:
        y = (y * attrs["alpha"]).astype(y.dtype, copy=False)
    if len(xs) > 2 and attrs["beta"] != 0.0:
        c = xs[2].astype(y.dtype, copy=False)
        y = y + (c if attrs["beta"] == 1.0 else (c * attrs["beta"]).astype(y.dtype, copy=False))
    return _finish(y, attrs, xs[0].dtype)


@kernel("matmul")
def matmul(xs: Arrays, attrs: Attrs) -> list[np.ndarray]:
    a, b = _as_compute(xs[0], xs[1])
    return _finish(np.matmul(a, b), attrs, xs[0].dtype)


# ---- pooling ------------------------------------------------------------------------------------


def _lowest(dtype: np.dtype) -> Any:
    """The value that never wins a maximum: -inf, the integer minimum, or False."""
    if dtype.kind == "f" or dtype.name == "bfloat16":
        return -np.inf
    if dtype.kind == "b":
        return False
    return np.iinfo(dtype).min


@kernel("max_pool")
def max_pool(xs: Arrays, attrs: Attrs) -> list[np.ndarray]:
    x = xs[0]
    kernel_shape = attrs["kernel_shape"]
    out_shape, begin, end = window_geometry(x, kernel_shape, attrs, attrs["ceil_mode"])
    xp = pad_spatial(x, begin, end, _lowest(x.dtype))
    return [_pool_separably(xp, kernel_shape, attrs, out_shape, np.maximum, x.dtype)]


@kernel("max_pool_indices")
def max_pool_indices(xs: Arrays, attrs: Attrs) -> list[np.ndarray]:
    """Track, per output, the first tap holding the window's maximum; taps on padding are masked
    out so that they never win, even against an input equal to the padding value."""
    x = xs[0]
    kernel_shape, strides, dilations = attrs["kernel_shape"], attrs["strides"], attrs["dilations"]
    out_shape, begin, end = window_geometry(x, kernel_shape, attrs, attrs["ceil_mode"])
    lowest = _lowest(x.dtype)
    xp = pad_spatial(x, begin, end, lowest)
    in_shape = x.shape[2:]
    # flat offset contributed by a spatial position along each axis (row- or column-major)
    order = range(len(in_shape)) if attrs["storage_order"] else reversed(range(len(in_shape)))
    step, unit = [0] * len(in_shape), 1
    for axis in order:
        step[axis], unit = unit, unit * in_shape[axis]
    base = (np.arange(x.shape[0] * x.shape[1], dtype=np.int64) * unit).reshape(x.shape[0], x.shape[1], *([1] * len(in_shape)))
    best = np.full((*x.shape[:2], *out_shape), lowest, dtype=x.dtype)
    index = np.full(best.shape, -1, dtype=np.int64)
    for tap in np.ndindex(*kernel_shape):
        pos = [np.arange(o) * s - b + t * d for o, s, b, t, d in zip(out_shape, strides, begin, tap, dilations)]
        valid = _outer([(p >= 0) & (p < size) for p, size in zip(pos, in_shape)], np.logical_and)
        offset = _outer([p * st for p, st in zip(pos, step)], np.add)
        window = _tap(xp, tap, strides, dilations, out_shape)
        better = valid & ((index < 0) | (window > best))
        np.copyto(best, window, where=better)
        np.copyto(index, base + offset, where=better)
    return [index]


def _outer(vectors: Sequence[np.ndarray], ufunc: Callable[..., np.ndarray]) -> np.ndarray:
    """Combine one vector per spatial axis into a [o1, ..., on] grid with ``ufunc``."""
    nsp = len(vectors)
    grid = vectors[0].reshape((-1,) + (1,) * (nsp - 1))
    for axis, v in enumerate(vectors[1:], start=1):
        grid = ufunc(grid, v.reshape((1,) * axis + (-1,) + (1,) * (nsp - 1 - axis)))
    return grid


@kernel("avg_pool")
def avg_pool(xs: Arrays, attrs: Attrs) -> list[np.ndarray]:
    (x,) = _as_compute(xs[0])
    kernel_shape, strides, dilations = attrs["kernel_shape"], attrs["strides"], attrs["dilations"]
    out_shape, begin, end = window_geometry(x, kernel_shape, attrs, attrs["ceil_mode"])
    total = _pool_separably(pad_spatial(x, begin, end, 0), kernel_shape, attrs, out_shape, np.add, x.dtype)
    # divisor: taps inside the input, or inside input plus explicit pads (never the ceil overhang)
    _, pads_end = _spatial_split(attrs["pads"])
    counts = []
    for i, size in enumerate(x.shape[2:]):
        lo, hi = (-begin[i], size + pads_end[i]) if attrs["count_include_pad"] else (0, size)
        pos = (np.arange(out_shape[i]) * strides[i] - begin[i])[:, None] + np.arange(kernel_shape[i]) * dilations[i]
        counts.append(((pos >= lo) & (pos < hi)).sum(axis=1))
    total /= _outer(counts, np.multiply).astype(x.dtype)
    return [total.astype(xs[0].dtype, copy=False)]


def _spatial_axes(x: np.ndarray) -> tuple[int, ...]:
    return tuple(range(2, x.ndim))


@kernel("global_avg_pool")
def global_avg_pool(xs: Arrays, attrs: Attrs) -> list[np.ndarray]:
    (x,) = _as_compute(xs[0])
    return [x.mean(axis=_spatial_axes(x), keepdims=True).astype(xs[0].dtype, copy=False)]


@kernel("global_max_pool")
def global_max_pool(xs: Arrays, attrs: Attrs) -> list[np.ndarray]:
    return [xs[0].max(axis=_spatial_axes(xs[0]), keepdims=True)]


# ---- normalization and softmax ------------------------------------------------------------------


@kernel("batch_norm")
def batch_norm(xs: Arrays, attrs: Attrs) -> list[np.ndarray]:
    """Folded to one multiply-add per element: y = x * a + b with a = scale / sqrt(var + eps),
    b = bias - mean * a."""
    (x,) = _as_compute(xs[0])
    scale, bias, mean, var = (p.astype(x.dtype, copy=False) for p in xs[1:])
    a = scale / np.sqrt(var + x.dtype.type(attrs["epsilon"]))
    b = bias - mean * a
    y = x * _channel_shape(a, x.ndim)
    y += _channel_shape(b, x.ndim)
    return [y.astype(xs[0].dtype, copy=False)]


def _stats_dtype(dtype: np.dtype) -> np.dtype:
    """Normalization statistics run in float32 (float64 for f64 inputs), as ONNX's stash_type=1."""
    return np.dtype(np.float64) if dtype == np.float64 else np.dtype(np.float32)


def _layer_moments(x: np.ndarray, axis: int, epsilon: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x - mean, mean, 1/sqrt(var + epsilon)) over axes [axis, rank), in the statistics dtype."""
    xf = x.astype(_stats_dtype(x.dtype), copy=False)
    axes = tuple(range(axis, x.ndim))
    mean = xf.mean(axis=axes, keepdims=True)
    centered = xf - mean
    var = np.mean(np.square(centered), axis=axes, keepdims=True)
    inv_std = 1 / np.sqrt(var + xf.dtype.type(epsilon))
    return centered, mean, inv_std


@kernel("layer_norm")
def layer_norm(xs: Arrays, attrs: Attrs) -> list[np.ndarray]:
    centered, _, inv_std = _layer_moments(xs[0], attrs["axis"], attrs["epsilon"])
    y = centered * inv_std
    y *= xs[1].astype(y.dtype, copy=False)
    if len(xs) > 2:
        y += xs[2].astype(y.dtype, copy=False)
    return [y.astype(xs[0].dtype, copy=False)]


@kernel("layer_norm_stats")
def layer_norm_stats(xs: Arrays, attrs: Attrs) -> list[np.ndarray]:
    _, mean, inv_std = _layer_moments(xs[0], attrs["axis"], attrs["epsilon"])
    return [mean.astype(np.float32, copy=False), inv_std.astype(np.float32, copy=False)]


@kernel("lrn")
def lrn(xs: Arrays, attrs: Attrs) -> list[np.ndarray]:
    (x,) = _as_compute(xs[0])
    size, c = attrs["size"], x.shape[1]
    below = (size - 1) // 2
    square = np.square(x)
    padded = np.zeros((x.shape[0], c + size - 1, *x.shape[2:]), dtype=x.dtype)
    padded[:, below : below + c] = square
    window_sum = np.zeros_like(x)
    for j in range(size):
        window_sum += padded[:, j : j + c]
    t = x.dtype.type
    y = x / (t(attrs["bias"]) + t(attrs["alpha"] / size) * window_sum) ** t(attrs["beta"])
    return [y.astype(xs[0].dtype, copy=False)]


@kernel("softmax")
def softmax(xs: Arrays, attrs: Attrs) -> list[np.ndarray]:
    (x,) = _as_compute(xs[0])
    axis = attrs["axis"]
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    e /= e.sum(axis=axis, keepdims=True)
    return [e.astype(xs[0].dtype, copy=False)]


# ---- reductions ---------------------------------------------------------------------------------


def _reduce_mean(x: np.ndarray, axes: tuple[int, ...], keepdims: bool) -> np.ndarray:
    (xc,) = _as_compute(x)
    return np.mean(xc, axis=axes, keepdims=keepdims)


def _reduce_sum(x: np.ndarray, axes: tuple[int, ...], keepdims: bool) -> np.ndarray:
    (xc,) = _as_compute(x)
    return np.sum(xc, axis=axes, keepdims=keepdims, dtype=xc.dtype)


def _reduce_max(x: np.ndarray, axes: tuple[int, ...], keepdims: bool) -> np.ndarray:
    return np.max(x, axis=axes, keepdims=keepdims, initial=_lowest(x.dtype))


_REDUCERS: dict[str, Callable[[np.ndarray, tuple[int, ...], bool], np.ndarray]] = {
    "reduce_mean": _reduce_mean,
    "reduce_sum": _reduce_sum,
    "reduce_max": _reduce_max,
}


def _reduction(op: str) -> Callable[[Arrays, Attrs], list[np.ndarray]]:
    reducer = _REDUCERS[op]

    def run(xs: Arrays, attrs: Attrs) -> list[np.ndarray]:
        x = xs[0]
        y = reducer(x, tuple(attrs["axes"]), attrs["keepdims"])
        return [np.asarray(y).astype(x.dtype, copy=False)]

    return run


for _op in _REDUCERS:
    kernel(_op)(_reduction(_op))
