"""Integer ops: ``quantize``/``dequantize`` at the float boundary and the ``q.*`` ops inside.

A quantized node carries every integer it needs (zero points, multipliers, shifts, clamp bounds,
tables) so that the numpy reference and the C kernels consume the same integers and nothing is
recomputed from floats (DESIGN §3, §5). Scales live on the values' types; results' quantization
parameters are declared by whoever builds the node (the quantize pass, or IR text). Shapes follow
the float op of the same name, so their rules are reused rather than restated.

The exact arithmetic of each op is in docs/arithmetic.md; its executable definition is
``qcc.backends.numpy_int``.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from qcc.ir.ops import Attr, define_op, fail, get_op
from qcc.ir.types import DType, TensorType

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


def _float_shape(op: str, types: Sequence[TensorType], attrs: Mapping[str, Any], keys: Sequence[str]) -> tuple[Any, ...]:
    """Result shape of the float op ``op`` for operands of these shapes (the q. op's shape rule)."""
    opdef = get_op(op)
    float_types = [TensorType(DType.F32, t.shape) for t in types]
    float_attrs = opdef.normalize_attrs({k: attrs[k] for k in keys}, f"q.{op}")
    return opdef.infer(float_types, float_attrs)[0].shape


def _check_int(op: str, *types: TensorType) -> None:
    for t in types:
        if t.dtype not in (DType.I8, DType.I16, DType.I32):
            raise fail(op, f"operand {t} must be an integer tensor")


def _check_out(op: str, attrs: Mapping[str, Any]) -> DType:
    dtype = attrs["dtype"]
    if dtype not in INT_DTYPES:
        raise fail(op, f"result type {dtype} must be i8 or i16")
    info_min, info_max = (-128, 127) if dtype is DType.I8 else (-32768, 32767)
    if not info_min <= attrs["qmin"] <= attrs["qmax"] <= info_max:
        raise fail(op, f"clamp [{attrs['qmin']}, {attrs['qmax']}] does not fit {dtype}")
    if attrs["rounding"] not in ("double", "single"):
        raise fail(op, f"rounding={attrs['rounding']!r} must be 'double' or 'single'")
    return dtype


# ---- boundary ------------------------------------------------------------------------------------


@define_op("quantize", ["x"], [Attr("dtype", "dtype", DType.I8, "result element type (i8 or i16)")])
def _quantize(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Float to integer with the result type's scale and zero point:
    clamp(rint(float32(x / scale)) + zp) (DESIGN §5 boundary rule, ties to even)."""
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
    _check_int("q.conv", *types)
    return [TensorType(_check_out("q.conv", attrs), _float_shape("conv", types, attrs, _WINDOW))]


@define_op(
    "q.conv_transpose",
    ["x", "w", "bias"],
    [*(get_op("conv_transpose").attr_index[k] for k in (*_WINDOW, "output_padding")), IN_ZP, *PER_CHANNEL_REQUANT, *OUTPUT_STAGE, ACC_BITS],
    optional=1,
)
def _qconv_transpose(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Integer transposed convolution: each (x - in_zp) * w is scattered as in conv_transpose,
    accumulated with the bias, then requantized per output channel like q.conv."""
    _check_int("q.conv_transpose", *types)
    return [TensorType(_check_out("q.conv_transpose", attrs), _float_shape("conv_transpose", types, attrs, (*_WINDOW, "output_padding")))]


@define_op(
    "q.gemm",
    ["a", "b", "bias"],
    [Attr("trans_a", "bool", False, "use a transposed"), Attr("trans_b", "bool", False, "use b transposed"), IN_ZP, *PER_CHANNEL_REQUANT, *OUTPUT_STAGE, ACC_BITS],
    optional=1,
)
def _qgemm(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Integer Gemm with a constant weight b: acc = bias + (a - in_zp) @ op(b), requantized per
    output column (alpha is folded into the multipliers, beta*c into the bias)."""
    _check_int("q.gemm", *types)
    return [TensorType(_check_out("q.gemm", attrs), _float_shape("gemm", types[:2], attrs, ("trans_a", "trans_b")))]


@define_op(
    "q.matmul",
    ["a", "b"],
    [Attr("a_zp", "int", 0, "zero point of a"), Attr("b_zp", "int", 0, "zero point of b"), *PER_CHANNEL_REQUANT, *OUTPUT_STAGE, ACC_BITS],
)
def _qmatmul(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Integer MatMul of two tensors: acc = (a - a_zp) @ (b - b_zp) in the accumulator width, then
    requantized (per last-axis column when b is a per-channel constant, else one multiplier)."""
    _check_int("q.matmul", *types)
    return [TensorType(_check_out("q.matmul", attrs), _float_shape("matmul", types, attrs, ()))]


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
    _check_int("q.add", *types)
    return [TensorType(_check_out("q.add", attrs), _float_shape("add", types, attrs, ()))]


@define_op(
    "q.mul",
    ["a", "b"],
    [Attr("a_zp", "int", 0, "zero point of a"), Attr("b_zp", "int", 0, "zero point of b"), *PER_TENSOR_REQUANT, *OUTPUT_STAGE],
)
def _qmul(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Integer Mul with broadcasting: (a - a_zp) * (b - b_zp) requantized with
    M = s_a * s_b / s_out."""
    _check_int("q.mul", *types)
    return [TensorType(_check_out("q.mul", attrs), _float_shape("mul", types, attrs, ()))]


@define_op("q.requantize", ["x"], [IN_ZP, *PER_TENSOR_REQUANT, *OUTPUT_STAGE])
def _qrequantize(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Change scale, zero point, width or clamp: requantize(x - in_zp) with M = s_in / s_out.
    Used to align concat operands, to convert between int8 and int16, and for a ReLU/Clip that could
    not be fused."""
    _check_int("q.requantize", *types)
    return [TensorType(_check_out("q.requantize", attrs), types[0].shape)]


@define_op(
    "q.mean",
    ["x"],
    [Attr("axes", "ints", doc="reduced axes (sorted, non-negative)"), Attr("keepdims", "bool", True, "keep reduced axes as size 1"), IN_ZP, *PER_TENSOR_REQUANT, *OUTPUT_STAGE],
)
def _qmean(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Integer mean over axes (GlobalAveragePool, ReduceMean): acc = sum (x - in_zp), divided by
    the count with rounding half away from zero (DESIGN §5), then requantized with
    M = s_in / s_out."""
    _check_int("q.mean", *types)
    return [TensorType(_check_out("q.mean", attrs), _float_shape("reduce_mean", types, attrs, ("axes", "keepdims")))]


_POOL = ("kernel_shape", "strides", "pads", "dilations", "ceil_mode", "count_include_pad")


@define_op("q.avg_pool", ["x"], [*(get_op("avg_pool").attr_index[k] for k in _POOL), Attr("zp", "int", 0, "zero point shared by input and result")])
def _qavg_pool(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Integer average pooling; input and result share scale and zero point (DESIGN §5): the
    window sum of q (padding counts as zp when count_include_pad) is divided by the tap count
    with rounding half away from zero."""
    _check_int("q.avg_pool", *types)
    return [TensorType(types[0].dtype, _float_shape("avg_pool", types, attrs, _POOL))]


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
