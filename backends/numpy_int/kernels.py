"""Kernels of the integer reference executor: one function per integer op.

They follow docs/arithmetic.md exactly, with int64 intermediates and the shared helpers of
``arith``. Reductions over int8/int16 products run as float64 matrix products: every partial sum is
an integer below 2^53 (|acc| < 2^47 is a precondition of every rule), so BLAS computes them
exactly, and fast.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from qcc.arith.fixedpoint import (
    INT32_MAX,
    INT32_MIN,
    activation_range,
    bit_length,
    integer_sqrt,
    multiply_by_quantized_multiplier,
    quantize_real,
    requantize,
    rounding_divide,
    rounding_divide_by_pot,
)
from qcc.arith.fixedpoint import (
    dequantize as dequantize_ints,
)
from qcc.arith.lut import lut_lookup_int16
from qcc.backends.numpy_int.blocks import blockwise
from qcc.backends.numpy_int.windows import window_sums
from qcc.interp.interpreter import evaluate
from qcc.ir.core import Node
from qcc.ops.quantized import RESIZE_WEIGHT_BITS
from qcc.registry import Registry

IntKernel = Callable[[Node, Sequence[np.ndarray]], list[np.ndarray]]
INT_KERNELS: Registry[IntKernel] = Registry("integer reference kernel")
int_kernel = INT_KERNELS.register  # @int_kernel("q.op", ...) registers the reference kernel of integer ops


def _exact(values: np.ndarray) -> np.ndarray:
    """Float results of integer products back to int64 (exact: see ``_product_dtype``)."""
    return np.rint(values).astype(np.int64)


FLOAT64 = np.dtype(np.float64)


def _centered(x: np.ndarray, zp: int, dtype: np.dtype = FLOAT64) -> np.ndarray:
    return x.astype(dtype) - dtype.type(zp)


FLOAT32_EXACT = 1 << 24  # every integer of magnitude up to 2^24 is a float32


def _max_centered(x: np.ndarray, zp: int) -> int:
    """max |x - zp| over the array (0 when empty)."""
    if not x.size:
        return 0
    return max(int(x.max()) - zp, zp - int(x.min()), 0)


def _product_dtype(x_bound: int, weight_sums: np.ndarray) -> np.dtype:
    """The float type an integer sum of products is computed in, exactly: float32 when every partial
    sum is an integer of magnitude at most 2^24 (``x_bound`` = max |x|, ``weight_sums`` = sum of
    |w| over each output's terms, so every partial sum is within x_bound * max(weight_sums)); then
    any summation order BLAS picks, fused multiply-adds included, gives the exact integer. float64
    otherwise (exact below 2^53, which the int32 accumulator check and int64 widths stay far under).
    float32 halves the memory and roughly doubles BLAS speed: the PTQ guards and the calibration
    search run this reference on every candidate (docs/recipes.md, "PTQ wall time")."""
    worst = x_bound * (int(weight_sums.max()) if weight_sums.size else 0)
    return np.dtype(np.float32) if worst <= FLOAT32_EXACT else np.dtype(np.float64)


def _check_accumulator(acc: np.ndarray, attrs: Mapping[str, Any], node: Node) -> None:
    """An int32 accumulator the quantize pass proved safe must really fit: if not, qcc has a bug."""
    if attrs.get("acc_bits", 32) == 32 and acc.size and (acc.min() < INT32_MIN or acc.max() > INT32_MAX):
        raise OverflowError(f"node '{node.name}' ({node.op}): int32 accumulator overflow the quantize pass should have ruled out")


def _output_stage(acc: np.ndarray, attrs: Mapping[str, Any], channel_axis: int | None) -> np.ndarray:
    """requantize + zero point + clamp, per channel along ``channel_axis`` when multipliers are
    per channel, and cast to the result type."""
    multiplier, shift = attrs["multiplier"], attrs["shift"]
    if not isinstance(multiplier, int):
        multiplier, shift = multiplier.array.astype(np.int64), shift.array.astype(np.int64)
        if multiplier.size > 1 and channel_axis is not None:
            shape = [1] * acc.ndim
            shape[channel_axis] = multiplier.size
            multiplier, shift = multiplier.reshape(shape), shift.reshape(shape)
        elif multiplier.size == 1:
            multiplier, shift = multiplier.reshape(()), shift.reshape(())
    out_zp, qmin, qmax, rounding, acc_bits = attrs["out_zp"], attrs["qmin"], attrs["qmax"], attrs["rounding"], attrs.get("acc_bits", 32)
    return blockwise(lambda a, m, s: requantize(a, m, s, out_zp, qmin, qmax, rounding, acc_bits), acc.shape, attrs["dtype"].numpy, acc, multiplier, shift)


# ---- boundary ------------------------------------------------------------------------------------


@int_kernel("quantize")
def quantize(node: Node, xs: Sequence[np.ndarray]) -> list[np.ndarray]:
    q = node.result.quant
    dtype = node.attr("dtype")
    qmin, qmax = activation_range(q.bits)  # the grid's range: narrower than the storage below 8 bits
    return [quantize_real(xs[0], q.scale_value(), q.zero_point_value(), qmin, qmax).astype(dtype.numpy)]


@int_kernel("dequantize")
def dequantize(node: Node, xs: Sequence[np.ndarray]) -> list[np.ndarray]:
    q = node.inputs[0].quant
    if q.axis is not None:  # a joined graph output (docs/arithmetic.md §3.17): one (scale, zp) per index
        scale = along_axis(np.asarray(q.scale, dtype=np.float64), q.axis, xs[0].ndim)
        return [dequantize_ints(xs[0], scale, along_axis(np.asarray(q.zero_point, dtype=np.int64), q.axis, xs[0].ndim))]
    return [dequantize_ints(xs[0], q.scale_value(), q.zero_point_value())]


def along_axis(values: np.ndarray, axis: int, ndim: int) -> np.ndarray:
    """Per-index parameters shaped to broadcast along ``axis`` of a rank-``ndim`` tensor."""
    shape = [1] * ndim
    shape[axis] = -1
    return values.reshape(shape)


# ---- requantizing ops ----------------------------------------------------------------------------


def conv_accumulator(node: Node, xs: Sequence[np.ndarray], float_op: str) -> np.ndarray:
    """bias + sum (x - in_zp) * w of a q.conv-like node (docs/arithmetic.md §3.1), int64, checked
    against the accumulator width the quantize pass proved."""
    attrs = node.attrs
    keys = ("strides", "pads", "dilations", "group") + (("output_padding",) if float_op == "conv_transpose" else ())
    w = xs[1]
    # |w| summed per output channel: conv [C_out, C_in/g, k...] over all but axis 0; conv_transpose
    # [C_in, C_out/g, k...] over all but axis 1 (all groups together: a bound, never too small)
    out_axis = 1 if float_op == "conv_transpose" else 0
    sums = np.abs(w.astype(np.int64)).sum(axis=tuple(a for a in range(w.ndim) if a != out_axis))
    dtype = _product_dtype(_max_centered(xs[0], attrs["in_zp"]), sums)
    products = evaluate(float_op, [_centered(xs[0], attrs["in_zp"], dtype), w.astype(dtype)], {k: attrs[k] for k in keys})[0]
    acc = _exact(products)
    if len(xs) > 2:
        acc += xs[2].astype(np.int64).reshape((1, -1) + (1,) * (acc.ndim - 2))
    _check_accumulator(acc, attrs, node)
    return acc


def gemm_accumulator(node: Node, xs: Sequence[np.ndarray]) -> np.ndarray:
    """bias + (a - in_zp) @ op(b) of a q.gemm-like node, int64, checked like ``conv_accumulator``."""
    attrs = node.attrs
    b = xs[1].T if attrs["trans_b"] else xs[1]  # [K, N]
    dtype = _product_dtype(_max_centered(xs[0], attrs["in_zp"]), np.abs(b.astype(np.int64)).sum(axis=0))
    a = _centered(xs[0], attrs["in_zp"], dtype)
    a = a.T if attrs["trans_a"] else a
    acc = _exact(a @ b.astype(dtype))
    if len(xs) > 2:
        acc += xs[2].astype(np.int64)
    _check_accumulator(acc, attrs, node)
    return acc


@int_kernel("q.conv", "q.conv_transpose")
def qconv(node: Node, xs: Sequence[np.ndarray]) -> list[np.ndarray]:
    acc = conv_accumulator(node, xs, node.op.removeprefix("q."))
    return [_output_stage(acc, node.attrs, channel_axis=1)]


@int_kernel("q.gemm")
def qgemm(node: Node, xs: Sequence[np.ndarray]) -> list[np.ndarray]:
    acc = gemm_accumulator(node, xs)
    return [_output_stage(acc, node.attrs, channel_axis=acc.ndim - 1)]


@int_kernel("q.matmul")
def qmatmul(node: Node, xs: Sequence[np.ndarray]) -> list[np.ndarray]:
    attrs = node.attrs
    b = xs[1].astype(np.int64) - attrs["b_zp"]  # [..., K, N] or [K]
    dtype = _product_dtype(_max_centered(xs[0], attrs["a_zp"]), np.abs(b).sum(axis=-2 if b.ndim > 1 else 0))
    acc = _exact(np.matmul(_centered(xs[0], attrs["a_zp"], dtype), b.astype(dtype)))
    _check_accumulator(acc, attrs, node)
    return [_output_stage(acc, attrs, channel_axis=acc.ndim - 1)]


@int_kernel("q.add")
def qadd(node: Node, xs: Sequence[np.ndarray]) -> list[np.ndarray]:
    attrs = node.attrs
    shift = attrs["left_shift"]
    rounding = attrs["rounding"]

    def scaled_sum(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        a = multiply_by_quantized_multiplier((x.astype(np.int64) - attrs["a_zp"]) << shift, attrs["a_multiplier"], attrs["a_shift"], rounding)
        b = multiply_by_quantized_multiplier((y.astype(np.int64) - attrs["b_zp"]) << shift, attrs["b_multiplier"], attrs["b_shift"], rounding)
        return a - b if attrs["subtract"] else a + b

    acc = blockwise(scaled_sum, np.broadcast_shapes(xs[0].shape, xs[1].shape), np.dtype(np.int64), xs[0], xs[1])
    return [_output_stage(acc, attrs, channel_axis=None)]


@int_kernel("q.mul")
def qmul(node: Node, xs: Sequence[np.ndarray]) -> list[np.ndarray]:
    attrs = node.attrs
    acc = (xs[0].astype(np.int64) - attrs["a_zp"]) * (xs[1].astype(np.int64) - attrs["b_zp"])
    return [_output_stage(acc, attrs, channel_axis=None)]


@int_kernel("q.requantize")
def qrequantize(node: Node, xs: Sequence[np.ndarray]) -> list[np.ndarray]:
    attrs = node.attrs
    return [_output_stage(xs[0].astype(np.int64) - attrs["in_zp"], attrs, channel_axis=None)]


@int_kernel("q.requantize_axis")
def qrequantize_axis(node: Node, xs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """§3.17: requantize(x - in_zp[i], multiplier[i], shift[i]) + out_zp[i] for index i along axis."""
    attrs = node.attrs
    per_index = {k: along_axis(attrs[k].array.astype(np.int64), attrs["axis"], xs[0].ndim) for k in ("in_zp", "multiplier", "shift", "out_zp")}
    out = requantize(xs[0].astype(np.int64) - per_index["in_zp"], per_index["multiplier"], per_index["shift"], per_index["out_zp"],
                     attrs["qmin"], attrs["qmax"], attrs["rounding"])
    return [out.astype(attrs["dtype"].numpy)]


@int_kernel("q.from_int")
def qfrom_int(node: Node, xs: Sequence[np.ndarray]) -> list[np.ndarray]:
    attrs = node.attrs
    return [_output_stage(np.clip(xs[0].astype(np.int64), attrs["in_min"], attrs["in_max"]), attrs, channel_axis=None)]


@int_kernel("q.mean")
def qmean(node: Node, xs: Sequence[np.ndarray]) -> list[np.ndarray]:
    attrs = node.attrs
    axes = tuple(attrs["axes"])
    centered = xs[0].astype(np.int64) - attrs["in_zp"]
    acc = centered.sum(axis=axes, keepdims=attrs["keepdims"])
    return [_output_stage(acc, attrs, channel_axis=None)]  # §3.5: the sum, requantized once by s_in / (n s_out)


@int_kernel("q.avg_pool")
def qavg_pool(node: Node, xs: Sequence[np.ndarray]) -> list[np.ndarray]:

    attrs = node.attrs
    x = xs[0]
    sums, counts = window_sums(
        x.astype(np.int64), attrs["kernel_shape"], attrs["strides"], attrs["pads"], attrs["dilations"],
        attrs["ceil_mode"], attrs["count_include_pad"], pad_value=attrs["zp"],
    )
    info = np.iinfo(x.dtype)
    return [np.clip(rounding_divide(sums, counts), info.min, info.max).astype(x.dtype)]


@int_kernel("q.lut")
def qlut(node: Node, xs: Sequence[np.ndarray]) -> list[np.ndarray]:
    table = node.attr("table").array
    x = xs[0]
    if x.dtype == np.int8:
        return [table[x.astype(np.int64) + 128].astype(node.attr("dtype").numpy)]
    return [lut_lookup_int16(table, x).astype(node.attr("dtype").numpy)]


# ---- softmax, linear resize, layer norm, LRN, PRelu (docs/arithmetic.md §3.8-§3.12) --------------



@int_kernel("q.softmax")
def qsoftmax(node: Node, xs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """§3.8: e = E[max - q], R = 2^38 // sum(e), out = min(((e * R + 2^29) >> 30) - 128, 127)."""
    axis = node.attr("axis")
    table = node.attr("table").array.astype(np.int64)
    q = xs[0].astype(np.int64)
    e = table[q.max(axis=axis, keepdims=True) - q]
    total = e.sum(axis=axis, keepdims=True)  # in [2^16, 2^31 - 2^16] for rows of at most 32767
    reciprocal = (np.int64(1) << 38) // total
    y = (e * reciprocal + (1 << 29)) >> 30
    return [np.minimum(y - 128, 127).astype(np.int8)]


@int_kernel("q.resize")
def qresize(node: Node, xs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """§3.9, separably and unrounded: per interpolated axis acc = w0 * acc[idx0] + w1 * acc[idx1]
    (int64, exact), then one rounding division by 2^(11 k)."""
    sizes, axes = node.attr("sizes"), node.attr("axes")
    index = node.attr("index").array.astype(np.int64)
    weight = node.attr("weight").array.astype(np.int64)
    acc = xs[0].astype(np.int64)
    start = 0
    for axis in axes:
        rows = slice(start, start + sizes[axis])
        start += sizes[axis]
        along = (-1,) + (1,) * (acc.ndim - axis - 1)
        acc = (np.take(acc, index[rows, 0], axis=axis) * weight[rows, 0].reshape(along)
               + np.take(acc, index[rows, 1], axis=axis) * weight[rows, 1].reshape(along))
    return [rounding_divide_by_pot(acc, RESIZE_WEIGHT_BITS * len(axes)).astype(xs[0].dtype)]


@int_kernel("q.layer_norm")
def qlayer_norm(node: Node, xs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """§3.10: D = N d - sum d, T = sum D^2 + eps, Q = isqrt(T * 4^p), u = D * 2^(p+30) / Q
    (rounded half away from zero), out = requantize(sign(gamma) * u) per normalized element."""
    attrs = node.attrs
    x = xs[0]
    axes = tuple(range(attrs["axis"], x.ndim))
    n = int(np.prod([x.shape[a] for a in axes]))
    d = x.astype(np.int64) - attrs["in_zp"]
    centered = n * d - d.sum(axis=axes, keepdims=True)
    total = (centered * centered).sum(axis=axes, keepdims=True) + attrs["eps"]
    p = np.maximum((62 - bit_length(total)) >> 1, 0)  # T >= 2^62: p = 0, Q = isqrt(T) < 2^31.5
    root = integer_sqrt(total << (2 * p))
    # T == 0 only for a constant row with eps 0: every D is 0 and u is 0 (the divisor is a dummy 1)
    u = rounding_divide(centered << (p + 30), np.maximum(root, 1))
    acc = attrs["gamma_sign"].array.astype(np.int64) * u
    out = requantize(acc, attrs["multiplier"].array.astype(np.int64), attrs["shift"].array.astype(np.int64),
                     attrs["out_zp"] + attrs["beta"].array.astype(np.int64), attrs["qmin"], attrs["qmax"], attrs["rounding"])
    return [out.astype(attrs["dtype"].numpy)]


@int_kernel("q.lrn")
def qlrn(node: Node, xs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """§3.11: S = windowed sum over channels of d^2, F = int16 table lookup of S >> r,
    out = requantize(d * F)."""
    attrs = node.attrs
    x = xs[0]
    size, channels = attrs["size"], x.shape[1]
    below = (size - 1) // 2
    d = x.astype(np.int64) - attrs["in_zp"]
    padded = np.zeros((x.shape[0], channels + size - 1, *x.shape[2:]), dtype=np.int64)
    padded[:, below : below + channels] = d * d
    sums = np.zeros_like(d)
    for j in range(size):  # channel c sums channels [c - below, c - below + size - 1]
        sums += padded[:, j : j + channels]
    factor = lut_lookup_int16(attrs["table"].array, np.minimum(sums >> attrs["square_shift"], 65535) - 32768)
    return [_output_stage(d * factor, attrs, channel_axis=None)]


@int_kernel("q.prelu")
def qprelu(node: Node, xs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """§3.12: d = q - in_zp; d >= 0 requantized with the positive multiplier, d < 0 as
    sign(slope) * d with the slope element's multiplier."""
    attrs = node.attrs
    d = xs[0].astype(np.int64) - attrs["in_zp"]
    stage = (attrs["out_zp"], attrs["qmin"], attrs["qmax"], attrs["rounding"])
    positive = requantize(d, attrs["multiplier"], attrs["shift"], *stage)
    sign = attrs["neg_sign"].array.astype(np.int64)
    negative = requantize(sign * d, attrs["neg_multiplier"].array.astype(np.int64), attrs["neg_shift"].array.astype(np.int64), *stage)
    return [np.where(d >= 0, positive, negative).astype(attrs["dtype"].numpy)]
