"""Integer ops: ``quantize``/``dequantize`` at the float boundary and the ``q.*`` ops inside.

A quantized node carries every integer it needs (zero points, multipliers, shifts, clamp bounds,
tables) so that the numpy reference and the C kernels consume the same integers and nothing is
recomputed from floats (docs/design.md §3, docs/arithmetic.md). Scales live on the values' types; results' quantization
parameters are declared by whoever builds the node (the quantize pass, or IR text). Shapes follow
the float op of the same name, so their rules are reused rather than restated.

The exact arithmetic of each op is in docs/arithmetic.md; its executable definition is
``qcc.backends.numpy_int``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from qcc.arith.fixedpoint import INT32_MAX, INT64_MAX, activation_range, layer_norm_total_bound, left_shift_fits
from qcc.ir.ops import Attr, define_op, fail, get_op
from qcc.ir.types import ROUNDINGS, Dim, DType, TensorType

INT_DTYPES = (DType.I8, DType.I16)

# ---- attribute groups ----------------------------------------------------------------------------

DTYPE = Attr("dtype", "dtype", DType.I8, "result element type (i8 or i16)")
ROUNDING = Attr("rounding", "str", "double", "requantization rounding: double (gemmlowp) or single")
OUTPUT_STAGE = (
    Attr("out_zp", "int", 0, "zero point of the result"),
    Attr("qmin", "int", -128, "lowest result value (a fused ReLU/ReLU6/Clip raises it)"),
    Attr("qmax", "int", 127, "highest result value"),
    ROUNDING,
    DTYPE,
)
PER_CHANNEL_REQUANT = (
    Attr("multiplier", "tensor", doc="i32 per output channel (or one): M = m * 2^shift, m in [0.5, 1) as Q31"),
    Attr("shift", "tensor", doc="i32 per output channel (or one)"),
)
PER_TENSOR_REQUANT = (
    Attr("multiplier", "int", doc="Q31 multiplier of the output rescale"),
    Attr("shift", "int", doc="power-of-two exponent of the output rescale"),
)
ACC_BITS = Attr("acc_bits", "int", 32, "accumulator width: 32, or 64 when int32 cannot be proven safe")
IN_ZP = Attr("in_zp", "int", 0, "zero point of the input activation")


def float_result_shape(op: str, types: Sequence[TensorType], attrs: Mapping[str, Any], keys: Sequence[str]) -> tuple[Any, ...]:
    """Result shape of the float op ``op`` for operands of these shapes (the q. op's shape rule)."""
    opdef = get_op(op)
    float_types = [TensorType(DType.F32, t.shape) for t in types]
    float_attrs = opdef.normalize_attrs({k: attrs[k] for k in keys}, f"q.{op}")
    return opdef.infer(float_types, float_attrs)[0].shape


def check_int_operand(op: str, *types: TensorType) -> None:
    for t in types:
        if t.dtype not in (DType.I8, DType.I16, DType.I32):
            raise fail(op, f"operand {t} must be an integer tensor")


def check_output_stage(op: str, attrs: Mapping[str, Any]) -> DType:
    dtype = attrs["dtype"]
    if dtype not in INT_DTYPES:
        raise fail(op, f"result type {dtype} must be i8 or i16")
    lo, hi = activation_range(dtype.bits)
    if not lo <= attrs["qmin"] <= attrs["qmax"] <= hi:
        raise fail(op, f"clamp [{attrs['qmin']}, {attrs['qmax']}] is outside the {dtype} activation range [{lo}, {hi}]")
    if attrs["rounding"] not in ROUNDINGS:
        raise fail(op, f"rounding={attrs['rounding']!r} must be 'double' or 'single'")
    return dtype


# ---- boundary ------------------------------------------------------------------------------------


@define_op("quantize", ["x"], [Attr("dtype", "dtype", DType.I8, "result element type (i8 or i16)")])
def _quantize(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Float to integer with the result type's scale and zero point:
    clamp(rint(float32(x / scale)) + zp) (docs/arithmetic.md §1.2, ties to even)."""
    if not types[0].dtype.is_float:
        raise fail("quantize", f"operand {types[0]} must be float")
    if attrs["dtype"] not in INT_DTYPES:
        raise fail("quantize", f"dtype={attrs['dtype']} must be i8 or i16")
    return [TensorType(attrs["dtype"], types[0].shape)]


@define_op("dequantize", ["x"])
def _dequantize(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Integer to float32 with the operand's scale and zero point: scale * (q - zp)."""
    if types[0].quant is None:
        raise fail("dequantize", f"operand {types[0]} has no quantization parameters")
    return [TensorType(DType.F32, types[0].shape)]


# ---- requantizing ops ----------------------------------------------------------------------------

_WINDOW = ("strides", "pads", "dilations", "group")


@define_op(
    "q.conv",
    ["x", "w", "bias"],
    [*(get_op("conv").attr_index[k] for k in _WINDOW), IN_ZP, *PER_CHANNEL_REQUANT, *OUTPUT_STAGE, ACC_BITS],
    optional=1,
)
def _qconv(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Integer convolution: acc = bias + sum (x - in_zp) * w over the window (padding contributes
    nothing: it holds in_zp), then per-output-channel requantization, + out_zp, clamp to
    [qmin, qmax]. Weights are symmetric (zp 0); bias is i32 at scale s_x * s_w[c]."""
    check_int_operand("q.conv", *types)
    return [TensorType(check_output_stage("q.conv", attrs), float_result_shape("conv", types, attrs, _WINDOW))]


@define_op(
    "q.conv_transpose",
    ["x", "w", "bias"],
    [*(get_op("conv_transpose").attr_index[k] for k in (*_WINDOW, "output_padding")), IN_ZP, *PER_CHANNEL_REQUANT, *OUTPUT_STAGE, ACC_BITS],
    optional=1,
)
def _qconv_transpose(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Integer transposed convolution: each (x - in_zp) * w is scattered as in conv_transpose,
    accumulated with the bias, then requantized per output channel like q.conv."""
    check_int_operand("q.conv_transpose", *types)
    return [TensorType(check_output_stage("q.conv_transpose", attrs), float_result_shape("conv_transpose", types, attrs, (*_WINDOW, "output_padding")))]


@define_op(
    "q.gemm",
    ["a", "b", "bias"],
    [
        Attr("trans_a", "bool", False, "use a transposed"), Attr("trans_b", "bool", False, "use b transposed"),
        IN_ZP, *PER_CHANNEL_REQUANT, *OUTPUT_STAGE, ACC_BITS,
    ],
    optional=1,
)
def _qgemm(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Integer Gemm with a constant weight b: acc = bias + (a - in_zp) @ op(b), requantized per
    output column (alpha is folded into the multipliers, beta*c into the bias)."""
    check_int_operand("q.gemm", *types)
    return [TensorType(check_output_stage("q.gemm", attrs), float_result_shape("gemm", types[:2], attrs, ("trans_a", "trans_b")))]


@define_op(
    "q.matmul",
    ["a", "b"],
    [Attr("a_zp", "int", 0, "zero point of a"), Attr("b_zp", "int", 0, "zero point of b"), *PER_CHANNEL_REQUANT, *OUTPUT_STAGE, ACC_BITS],
)
def _qmatmul(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Integer MatMul of two tensors: acc = (a - a_zp) @ (b - b_zp) in the accumulator width, then
    requantized (per last-axis column when b is a per-channel constant, else one multiplier)."""
    check_int_operand("q.matmul", *types)
    return [TensorType(check_output_stage("q.matmul", attrs), float_result_shape("matmul", types, attrs, ()))]


def _max_centered(t: TensorType) -> int:
    """The largest |q - zp| of an integer operand for any zero point in its range (an int32
    operand: only that it fits int32)."""
    if t.dtype is DType.I32:
        return INT32_MAX
    lo, hi = activation_range(t.dtype.bits)
    return hi - lo


@define_op(
    "q.add",
    ["a", "b"],
    [
        Attr("a_zp", "int", 0, "zero point of a"),
        Attr("b_zp", "int", 0, "zero point of b"),
        Attr("left_shift", "int", 20, "headroom shift applied to both operands (20 for int8, 15 for int16)"),
        Attr("a_multiplier", "int", doc="rescale of a to the common scale 2*max(s_a, s_b)"),
        Attr("a_shift", "int", doc=""),
        Attr("b_multiplier", "int", doc="rescale of b to the common scale"),
        Attr("b_shift", "int", doc=""),
        *PER_TENSOR_REQUANT,
        Attr("subtract", "bool", False, "compute a - b instead of a + b"),
        *OUTPUT_STAGE,
    ],
)
def _qadd(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Integer Add/Sub with broadcasting (TFLite add.cc): each operand (q - zp) << left_shift is
    rescaled to the common scale 2*max(s_a, s_b) with its own multiplier, the two are added (or
    subtracted), and the sum is requantized to the output scale."""
    check_int_operand("q.add", *types)
    # (q - zp) * 2^left_shift is computed in int32 (C: (int32_t)1 << left_shift): it must fit for any
    # zero point in range, |q - zp| <= qmax - qmin (255 for int8: left_shift <= 23; int16: <= 15)
    if attrs["left_shift"] < 0 or not left_shift_fits(max(map(_max_centered, types)), attrs["left_shift"]):
        raise fail("q.add", f"left_shift={attrs['left_shift']} must be >= 0 and keep (q - zp) * 2^left_shift within int32")
    return [TensorType(check_output_stage("q.add", attrs), float_result_shape("add", types, attrs, ()))]


@define_op(
    "q.mul",
    ["a", "b"],
    [Attr("a_zp", "int", 0, "zero point of a"), Attr("b_zp", "int", 0, "zero point of b"), *PER_TENSOR_REQUANT, *OUTPUT_STAGE],
)
def _qmul(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Integer Mul with broadcasting: (a - a_zp) * (b - b_zp) requantized with
    M = s_a * s_b / s_out."""
    check_int_operand("q.mul", *types)
    return [TensorType(check_output_stage("q.mul", attrs), float_result_shape("mul", types, attrs, ()))]


@define_op("q.requantize", ["x"], [IN_ZP, *PER_TENSOR_REQUANT, *OUTPUT_STAGE])
def _qrequantize(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Change scale, zero point, width or clamp: requantize(x - in_zp) with M = s_in / s_out.
    Used to align concat operands, to convert between int8 and int16, and for a ReLU/Clip that could
    not be fused."""
    check_int_operand("q.requantize", *types)
    return [TensorType(check_output_stage("q.requantize", attrs), types[0].shape)]


RAW_INT_DTYPES = (DType.BOOL, DType.I8, DType.I16, DType.I32, DType.I64, DType.U8)
"""Element types of integer data whose values are the reals themselves (bytes, indices, flags)."""


@define_op(
    "q.from_int",
    ["x"],
    [
        Attr("in_min", "int", doc="lowest input value kept (smaller ones saturate to it)"),
        Attr("in_max", "int", doc="highest input value kept"),
        *PER_TENSOR_REQUANT,
        *OUTPUT_STAGE,
    ],
)
def _qfrom_int(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """An integer tensor whose values are the reals (an int graph input, a comparison's 0/1)
    quantized to an activation: requantize(clamp(x, in_min, in_max), M = 1 / s_out)
    (docs/arithmetic.md §3.18); how a float Cast of integer data is lowered."""
    if types[0].dtype not in RAW_INT_DTYPES or types[0].quant is not None:
        raise fail("q.from_int", f"operand {types[0]} must be plain integer data (bool, i8, i16, i32, i64 or u8 without quantization)")
    if not -(1 << 31) <= attrs["in_min"] <= attrs["in_max"] < (1 << 31):
        raise fail("q.from_int", f"input clamp [{attrs['in_min']}, {attrs['in_max']}] must be an int32 interval")
    return [TensorType(check_output_stage("q.from_int", attrs), types[0].shape)]


@define_op(
    "q.mean",
    ["x"],
    [
        Attr("axes", "ints", doc="reduced axes (sorted, non-negative)"), Attr("keepdims", "bool", True, "keep reduced axes as size 1"),
        IN_ZP, *PER_TENSOR_REQUANT, *OUTPUT_STAGE,
    ],
)
def _qmean(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Integer mean over axes (GlobalAveragePool, ReduceMean): acc = sum (x - in_zp), divided by
    the count with rounding half away from zero (docs/arithmetic.md §3.5), then requantized with
    M = s_in / s_out."""
    check_int_operand("q.mean", *types)
    return [TensorType(check_output_stage("q.mean", attrs), float_result_shape("reduce_mean", types, attrs, ("axes", "keepdims")))]


_POOL = ("kernel_shape", "strides", "pads", "dilations", "ceil_mode", "count_include_pad")


@define_op("q.avg_pool", ["x"], [*(get_op("avg_pool").attr_index[k] for k in _POOL), Attr("zp", "int", 0, "zero point shared by input and result")])
def _qavg_pool(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Integer average pooling; input and result share scale and zero point (docs/arithmetic.md §3.5): the
    window sum of q (padding counts as zp when count_include_pad) is divided by the tap count
    with rounding half away from zero."""
    check_int_operand("q.avg_pool", *types)
    return [TensorType(types[0].dtype, float_result_shape("avg_pool", types, attrs, _POOL))]


@define_op("q.lut", ["x"], [Attr("table", "tensor", doc="256 entries (i8 input) or 513 (i16 input, interpolated)"), DTYPE])
def _qlut(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Table lookup for a unary non-linearity (sigmoid, tanh, hard-swish, ...): int8 reads
    table[q + 128]; int16 interpolates a 513-entry table (docs/arithmetic.md)."""
    x = types[0]
    table = attrs["table"].array
    want = 256 if x.dtype is DType.I8 else 513
    if x.dtype not in INT_DTYPES or table.shape != (want,):
        raise fail("q.lut", f"a {x.dtype} input needs a table of {want} entries, got {list(table.shape)}")
    return [TensorType(attrs["dtype"], x.shape)]


# ---- softmax, linear resize, layer norm, LRN, PRelu (docs/arithmetic.md §3.8-§3.12) --------------

import numpy as np  # noqa: E402  (only the definitions below need it)

SOFTMAX_TABLE_SIZE = 256
RESIZE_WEIGHT_BITS = 11
"""Fraction bits of the linear-resize weights: each axis's pair of weights sums to 2^11."""
SOFTMAX_MAX_N = 32767
LRN_MAX_SIZE = 32767


def _check_i8_in(op: str, x: TensorType) -> None:
    if x.dtype is not DType.I8:
        raise fail(op, f"operand {x} must be i8")


def _tensor(op: str, attrs: Mapping[str, Any], key: str, dtype: Any, shape: tuple[int, ...] | None = None) -> Any:
    """A tensor attribute's array, checked for element type and (optionally) shape."""
    array = attrs[key].array
    if array.dtype != dtype:
        raise fail(op, f"{key} must hold {dtype}, got {array.dtype}")
    if shape is not None and tuple(array.shape) != shape:
        raise fail(op, f"{key} must have shape {list(shape)}, got {list(array.shape)}")
    return array


def _broadcasts_to(op: str, key: str, shape: tuple[int, ...], target: tuple[Dim, ...]) -> None:
    if len(shape) > len(target) or any(d not in (1, t) for d, t in zip(reversed(shape), reversed(target))):
        raise fail(op, f"{key} of shape {list(shape)} does not broadcast to {list(target)}")


@define_op(
    "q.softmax",
    ["x"],
    [Attr("axis", "int", doc="the normalized axis (non-negative)"), Attr("table", "tensor", doc="i32[256]: E[d] = round(65536 * exp(-s_in * d))")],
)
def _qsoftmax(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Integer softmax along ``axis`` (docs/arithmetic.md §3.8): e = table[max - q] per element,
    the row sum S, the reciprocal 2^38 / S, y = (e * R + 2^29) >> 30, out = min(y - 128, 127).
    The result is i8 with scale 1/256 and zero point -128 whatever the input."""
    x = types[0]
    _check_i8_in("q.softmax", x)
    if not 0 <= attrs["axis"] < x.rank:
        raise fail("q.softmax", f"axis={attrs['axis']} must be in [0, {x.rank})")
    if x.shape[attrs["axis"]] > SOFTMAX_MAX_N:
        raise fail("q.softmax", f"the softmax axis has {x.shape[attrs['axis']]} elements; at most {SOFTMAX_MAX_N}")
    _tensor("q.softmax", attrs, "table", np.int32, (SOFTMAX_TABLE_SIZE,))
    return [TensorType(DType.I8, x.shape)]


@define_op(
    "q.resize",
    ["x"],
    [
        Attr("sizes", "ints", doc="the full result shape"),
        Attr("axes", "ints", doc="the interpolated axes, increasing (at most 2); the others keep their length"),
        Attr("index", "tensor", doc="i32[sum of result lengths of axes, 2]: the two source indices per result position"),
        Attr("weight", "tensor", doc="i16 like index: the two weights per result position, summing to 2^11"),
    ],
)
def _qresize(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Integer N-linear resize (docs/arithmetic.md §3.9): each result element is the sum over the
    2^k corners of the product of the axes' weights times q (raw, not q - zp), rounded once by
    2^(11k) half away from zero. Input and result share scale and zero point."""
    x = types[0]
    _check_i8_in("q.resize", x)
    sizes, axes = tuple(attrs["sizes"]), tuple(attrs["axes"])
    if len(sizes) != x.rank or any(s < 1 for s in sizes):
        raise fail("q.resize", f"sizes {list(sizes)} must give one dim >= 1 for each of the {x.rank} axes")
    if list(axes) != sorted(set(axes)) or len(axes) > 2 or any(not 0 <= a < x.rank for a in axes):
        raise fail("q.resize", f"axes {list(axes)} must be at most 2 distinct increasing axes in [0, {x.rank})")
    for a in range(x.rank):
        if a not in axes and sizes[a] != x.shape[a]:
            raise fail("q.resize", f"axis {a} changes length ({x.shape[a]} -> {sizes[a]}) but is not interpolated")
    rows = sum(sizes[a] for a in axes)
    index = _tensor("q.resize", attrs, "index", np.int32, (rows, 2))
    weight = _tensor("q.resize", attrs, "weight", np.int16, (rows, 2))
    start = 0
    for a in axes:
        block = index[start : start + sizes[a]]
        if block.size and (block.min() < 0 or block.max() >= x.shape[a]):
            raise fail("q.resize", f"index rows of axis {a} must lie in [0, {x.shape[a] - 1}]")
        start += sizes[a]
    if weight.size and (weight.min() < 0 or np.any(weight.astype(np.int64).sum(axis=1) != 1 << RESIZE_WEIGHT_BITS)):
        raise fail("q.resize", f"each weight pair must be non-negative and sum to 2^{RESIZE_WEIGHT_BITS}")
    return [TensorType(x.dtype, sizes)]


@define_op(
    "q.layer_norm",
    ["x"],
    [
        Attr("axis", "int", doc="first normalized axis (non-negative)"),
        IN_ZP,
        Attr("eps", "int", 0, "epsilon in the integer domain: round(epsilon * N^3 / s_in^2)"),
        Attr("multiplier", "tensor", doc="i32, normalized shape: |gamma| * sqrt(N) / (2^30 * s_out) as Q31"),
        Attr("shift", "tensor", doc="i32, normalized shape"),
        Attr("gamma_sign", "tensor", doc="i8, normalized shape: sign of gamma (-1, 0, 1)"),
        Attr("beta", "tensor", doc="i32, normalized shape: round(beta / s_out), added to the output zero point"),
        *OUTPUT_STAGE,
    ],
)
def _qlayer_norm(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Integer layer normalization over axes [axis, rank) (docs/arithmetic.md §3.10): centered sums
    D = N d - sum d, an exact integer square root of sum D^2 + eps, a Q30 quotient per element,
    then a requantize per normalized element with gamma's sign and beta folded in."""
    x = types[0]
    _check_i8_in("q.layer_norm", x)
    axis = attrs["axis"]
    if not 0 <= axis < x.rank:
        raise fail("q.layer_norm", f"axis={axis} must be in [0, {x.rank})")
    norm_shape = tuple(x.static_dim(a) for a in range(axis, x.rank))
    n = 1
    for d in norm_shape:
        n *= d
    if not 0 <= attrs["eps"] <= 1 << 60:
        raise fail("q.layer_norm", f"eps={attrs['eps']} must be in [0, 2^60]")
    if layer_norm_total_bound(n, attrs["eps"]) > INT64_MAX:
        raise fail("q.layer_norm", f"{n} normalized elements: the sum of squares can pass int64 (docs/arithmetic.md §3.10)")
    for key, array_dtype in (("multiplier", np.int32), ("shift", np.int32), ("gamma_sign", np.int8), ("beta", np.int32)):
        _tensor("q.layer_norm", attrs, key, array_dtype, norm_shape)
    dtype = check_output_stage("q.layer_norm", attrs)
    if dtype is not DType.I8:
        raise fail("q.layer_norm", "result must be i8")
    return [TensorType(dtype, x.shape)]


@define_op(
    "q.lrn",
    ["x"],
    [
        Attr("size", "int", doc="number of channels summed over"),
        IN_ZP,
        Attr("square_shift", "int", 0, "right shift of the sum of squares before the table (r)"),
        Attr("table", "tensor", doc="i16[513]: (bias + alpha/size * s_in^2 * 2^r * u)^-beta / s_f, interpolated"),
        *PER_TENSOR_REQUANT,
        *OUTPUT_STAGE,
    ],
)
def _qlrn(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Integer local response normalization across channels (docs/arithmetic.md §3.11):
    S = windowed sum of (q - in_zp)^2, F = table lookup of S >> square_shift (int16 interpolation),
    out = requantize((q - in_zp) * F)."""
    x = types[0]
    _check_i8_in("q.lrn", x)
    if x.rank < 2:
        raise fail("q.lrn", f"input must be [N, C, ...], got {x}")
    if not 1 <= attrs["size"] <= LRN_MAX_SIZE:
        raise fail("q.lrn", f"size={attrs['size']} must be in [1, {LRN_MAX_SIZE}]")
    if not 0 <= attrs["square_shift"] <= 31:
        raise fail("q.lrn", f"square_shift={attrs['square_shift']} must be in [0, 31]")
    _tensor("q.lrn", attrs, "table", np.int16, (513,))
    return [TensorType(check_output_stage("q.lrn", attrs), x.shape)]


@define_op(
    "q.prelu",
    ["x"],
    [
        IN_ZP,
        *PER_TENSOR_REQUANT,
        Attr("neg_multiplier", "tensor", doc="i32, the slope's shape: |slope| * s_in / s_out as Q31"),
        Attr("neg_shift", "tensor", doc="i32, the slope's shape"),
        Attr("neg_sign", "tensor", doc="i8, the slope's shape: sign of the slope (-1, 0, 1)"),
        *OUTPUT_STAGE,
    ],
)
def _qprelu(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Integer PRelu with a constant slope (docs/arithmetic.md §3.12): d = q - in_zp; d >= 0 is
    requantized with (multiplier, shift) = s_in / s_out, d < 0 as neg_sign * d with the
    per-slope-element (neg_multiplier, neg_shift) = |slope| * s_in / s_out."""
    x = types[0]
    _check_i8_in("q.prelu", x)
    shape = tuple(attrs["neg_multiplier"].array.shape)
    for key, dtype in (("neg_multiplier", np.int32), ("neg_shift", np.int32), ("neg_sign", np.int8)):
        _tensor("q.prelu", attrs, key, dtype, shape)
    _broadcasts_to("q.prelu", "the slope", shape, tuple(x.shape))
    return [TensorType(check_output_stage("q.prelu", attrs), x.shape)]


@define_op(
    "q.requantize_axis",
    ["x"],
    [
        Attr("axis", "int", doc="the axis the parameters run along (non-negative)"),
        Attr("in_zp", "tensor", doc="i32 per index along axis: the input's zero points"),
        Attr("multiplier", "tensor", doc="i32 per index along axis: s_in[i] / s_out[i] as Q31"),
        Attr("shift", "tensor", doc="i32 per index along axis"),
        Attr("out_zp", "tensor", doc="i32 per index along axis: the result's zero points"),
        *OUTPUT_STAGE[1:],
    ],
)
def _qrequantize_axis(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """q.requantize with one (in_zp, multiplier, shift, out_zp) per index along ``axis``: moves a
    tensor with per-axis activation parameters to other per-axis (or per-tensor) parameters, as a
    graph output that joins differently-ranged parts needs (docs/arithmetic.md §3.17)."""
    x = types[0]
    check_int_operand("q.requantize_axis", x)
    axis = attrs["axis"]
    if not 0 <= axis < len(x.shape):
        raise fail("q.requantize_axis", f"axis={axis} is not an axis of {x}")
    for key in ("in_zp", "multiplier", "shift", "out_zp"):
        _tensor("q.requantize_axis", attrs, key, np.int32, (x.shape[axis],))
    return [TensorType(check_output_stage("q.requantize_axis", attrs), x.shape)]
