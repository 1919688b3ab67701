"""Neural-network float ops: convolutions, matrix products, pooling, normalization, softmax,
reductions.

Semantics follow the ONNX operators they import from, with every parameter static and explicit:
no ``auto_pad`` (the importer resolves it to pads), pads always full length in ONNX order
``[x1_begin, x2_begin, ..., x1_end, x2_end]``, strides and dilations always given, axes
non-negative. The window arithmetic (``window_output_size``) lives here so that result-type rules
and the interpreter kernels compute output sizes one way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from qcc.ir.core import Node
from qcc.ir.ops import FUSED_CLAMP, Attr, broadcast_shapes, define_op, fail, same_dtype
from qcc.ir.types import Dim, DType, TensorType

# ---- window arithmetic shared with the kernels ------------------------------------------------


def window_output_size(size: int, kernel: int, stride: int, dilation: int, pad_begin: int, pad_end: int, ceil_mode: bool = False) -> int:
    """Number of window positions along one spatial axis.

    With ``ceil_mode`` a partial last window counts, but only if it starts inside the input or the
    begin padding (ONNX reference semantics, same as PyTorch)."""
    span = (kernel - 1) * dilation + 1
    room = size + pad_begin + pad_end - span
    if room < 0:
        return 0
    if not ceil_mode:
        return room // stride + 1
    out = -(-room // stride) + 1
    if (out - 1) * stride >= size + pad_begin:
        out -= 1
    return out


def transposed_output_size(size: int, kernel: int, stride: int, dilation: int, pad_begin: int, pad_end: int, output_padding: int) -> int:
    """Length of one spatial axis of a transposed convolution's result."""
    return stride * (size - 1) + (kernel - 1) * dilation + 1 + output_padding - pad_begin - pad_end


# ---- attribute schemas --------------------------------------------------------------------------

_STRIDES = Attr("strides", "ints", doc="step of the window per spatial axis (>= 1)")
_PADS = Attr("pads", "ints", doc="explicit padding [x1_begin, x2_begin, ..., x1_end, x2_end] (>= 0)")
_DILATIONS = Attr("dilations", "ints", doc="spacing of the window taps per spatial axis (>= 1)")
_GROUP = Attr("group", "int", 1, "number of channel groups (C_in and C_out are divisible by it)")
_KERNEL_SHAPE = Attr("kernel_shape", "ints", doc="window size per spatial axis")
_CEIL_MODE = Attr("ceil_mode", "bool", False, "count a partial last window (which must start inside input or begin padding)")
_EPSILON = Attr("epsilon", "float", 1e-5, "added to the variance before the square root")
_AXES = Attr("axes", "ints", doc="reduced axes: sorted, distinct, non-negative; empty reduces nothing")
_KEEPDIMS = Attr("keepdims", "bool", True, "keep reduced axes as size-1 dims")
# Batch-norm statistics a weight layer's output had before fold-batchnorm folded the BN into it
# (the BN's gamma and beta: the output's per-channel std |gamma| and mean beta). Recorded for the
# data-free passes (absorb-high-bias, correct-bias{mode=analytic}); empty = none, not printed.
_NO_STATS = np.zeros(0, dtype=np.float32)
_BN_STATS = (
    Attr("bn_gamma", "tensor", _NO_STATS, "f32 [C_out] or empty: gamma of the batch_norm folded into this op (output std |gamma|)"),
    Attr("bn_beta", "tensor", _NO_STATS, "f32 [C_out] or empty: beta of the batch_norm folded into this op (output mean)"),
)


def _spatial_input(op: str, x: TensorType) -> int:
    """Check a channels-first [N, C, D1, ...] operand and return its number of spatial axes."""
    if x.rank < 3:
        raise fail(op, f"input must be [N, C, D1, ...] with at least one spatial axis, got {x}")
    return x.rank - 2


def _check_window_attrs(op: str, nsp: int, attrs: Mapping[str, Any], names: Sequence[str]) -> None:
    """Check lengths and ranges of the per-axis window attributes present in ``names``."""
    for name in names:
        values = attrs[name]
        want = 2 * nsp if name == "pads" else nsp
        if len(values) != want:
            raise fail(op, f"{name}={list(values)} must have {want} entries for {nsp} spatial axes")
        low = 0 if name in ("pads", "output_padding") else 1
        if any(v < low for v in values):
            raise fail(op, f"{name}={list(values)} must all be >= {low}")


def _pooled_shape(op: str, x: TensorType, kernel: Sequence[int], attrs: Mapping[str, Any], ceil_mode: bool) -> tuple[int, ...]:
    """Spatial result shape of a windowed op (conv or pool)."""
    nsp = x.rank - 2
    pads, strides, dilations = attrs["pads"], attrs["strides"], attrs["dilations"]
    out = []
    for i in range(nsp):
        size = window_output_size(x.static_dim(2 + i), kernel[i], strides[i], dilations[i], pads[i], pads[nsp + i], ceil_mode)
        if size < 1:
            raise fail(
                op,
                f"window of {kernel[i]} (dilation {dilations[i]}) does not fit spatial axis {i} of size "
                f"{x.shape[2 + i]} padded by {pads[i]}+{pads[nsp + i]}",
            )
        out.append(size)
    return tuple(out)


def _broadcasts_to(shape: Sequence[Dim], target: Sequence[Dim]) -> bool:
    """Whether ``shape`` broadcasts to ``target`` one way (target unchanged)."""
    if len(shape) > len(target):
        return False
    return all(d in (1, t) for d, t in zip(reversed(tuple(shape)), reversed(tuple(target))))


def _check_bn_stats(op: str, attrs: Mapping[str, Any], channels: Dim) -> None:
    """bn_gamma and bn_beta are both empty or both one value per output channel."""
    gamma, beta = attrs["bn_gamma"].array, attrs["bn_beta"].array
    if gamma.shape != beta.shape or gamma.shape not in ((0,), (channels,)):
        raise fail(op, f"bn_gamma {list(gamma.shape)} and bn_beta {list(beta.shape)} must both be empty or [{channels}]")


def _check_bias(op: str, bias: TensorType | None, channels: Dim) -> None:
    if bias is not None and tuple(bias.shape) != (channels,):
        raise fail(op, f"bias must be [{channels}] (one per output channel), got {bias}")


def _conv_operands(op: str, types: Sequence[TensorType], attrs: Mapping[str, Any], names: Sequence[str]) -> int:
    """Checks shared by conv and conv_transpose; returns the number of spatial axes."""
    x, w = types[0], types[1]
    same_dtype(op, types)
    nsp = _spatial_input(op, x)
    if w.rank != x.rank:
        raise fail(op, f"weight {w} must have rank {x.rank} like the input {x}")
    _check_window_attrs(op, nsp, attrs, names)
    if attrs["group"] < 1:
        raise fail(op, f"group={attrs['group']} must be >= 1")
    return nsp


# ---- convolutions and matrix products -----------------------------------------------------------


@define_op("conv", ["x", "w", "b"], [_STRIDES, _PADS, _DILATIONS, _GROUP, *FUSED_CLAMP, *_BN_STATS], optional=1)
def _conv(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """N-d convolution (ONNX Conv, cross-correlation): x [N, C_in, D1, ...], w [C_out,
    C_in/group, k1, ...], optional bias b [C_out]. The kernel size comes from w; there is no
    auto_pad. Depthwise convolution is group == C_in (C_out a multiple of it)."""
    x, w = types[0], types[1]
    _conv_operands("conv", types, attrs, ["strides", "pads", "dilations"])
    group, c_in, c_out = attrs["group"], x.static_dim(1), w.static_dim(0)
    if c_in % group or c_out % group:
        raise fail("conv", f"group={group} must divide input channels ({c_in}) and output channels ({c_out})")
    if w.static_dim(1) * group != c_in:
        raise fail("conv", f"weight {w} expects {w.static_dim(1) * group} input channels (group={group}), input {x} has {c_in}")
    _check_bias("conv", types[2] if len(types) > 2 else None, c_out)
    _check_bn_stats("conv", attrs, c_out)
    spatial = _pooled_shape("conv", x, w.static_shape[2:], attrs, False)
    return [TensorType(x.dtype, (x.shape[0], c_out, *spatial))]


@define_op(
    "conv_transpose",
    ["x", "w", "b"],
    [
        _STRIDES, _PADS, _DILATIONS, _GROUP,
        Attr("output_padding", "ints", doc="extra result rows/cols at the end of each spatial axis"), *FUSED_CLAMP, *_BN_STATS,
    ],
    optional=1,
)
def _conv_transpose(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """N-d transposed convolution (ONNX ConvTranspose): x [N, C_in, D1, ...], w [C_in,
    C_out/group, k1, ...], optional bias [C_out]. Result length per axis is
    stride*(in-1) + (k-1)*dilation + 1 + output_padding - pad_begin - pad_end; the importer turns
    output_shape and auto_pad into these explicit pads and output_padding."""
    x, w = types[0], types[1]
    nsp = _conv_operands("conv_transpose", types, attrs, ["strides", "pads", "dilations", "output_padding"])
    group, c_in = attrs["group"], x.static_dim(1)
    if w.shape[0] != c_in:
        raise fail("conv_transpose", f"weight {w} must have {c_in} input channels first, like the input {x}")
    if c_in % group:
        raise fail("conv_transpose", f"group={group} must divide input channels ({c_in})")
    c_out = w.static_dim(1) * group
    _check_bias("conv_transpose", types[2] if len(types) > 2 else None, c_out)
    _check_bn_stats("conv_transpose", attrs, c_out)
    pads, strides, dilations, out_pad = attrs["pads"], attrs["strides"], attrs["dilations"], attrs["output_padding"]
    spatial = []
    for i in range(nsp):
        size = transposed_output_size(x.static_dim(2 + i), w.static_dim(2 + i), strides[i], dilations[i], pads[i], pads[nsp + i], out_pad[i])
        if size < 1:
            raise fail("conv_transpose", f"pads {list(pads)} crop spatial axis {i} to nothing")
        spatial.append(size)
    return [TensorType(x.dtype, (x.shape[0], c_out, *spatial))]


@define_op(
    "gemm",
    ["a", "b", "c"],
    [
        Attr("alpha", "float", 1.0, "scale of the product"),
        Attr("beta", "float", 1.0, "scale of c"),
        Attr("trans_a", "bool", False, "use a transposed"),
        Attr("trans_b", "bool", False, "use b transposed"),
        *FUSED_CLAMP,
        *_BN_STATS,
    ],
    optional=1,
)
def _gemm(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """alpha * op(a) @ op(b) + beta * c (ONNX Gemm), op = transpose when trans_a / trans_b; a and
    b are matrices, c broadcasts (one way) to the [M, N] result."""
    dtype = same_dtype("gemm", types)
    a, b = types[0], types[1]
    if a.rank != 2 or b.rank != 2:
        raise fail("gemm", f"operands must be matrices, got {a} and {b}")
    m, k = a.shape[::-1] if attrs["trans_a"] else a.shape
    k2, n = b.shape[::-1] if attrs["trans_b"] else b.shape
    if k != k2:
        raise fail("gemm", f"inner dimensions differ: op(a) is [{m},{k}], op(b) is [{k2},{n}]")
    if len(types) > 2 and not _broadcasts_to(types[2].shape, (m, n)):
        raise fail("gemm", f"c {types[2]} does not broadcast to the result [{m},{n}]")
    _check_bn_stats("gemm", attrs, n)
    return [TensorType(dtype, (m, n))]


@define_op("matmul", ["a", "b"], FUSED_CLAMP)
def _matmul(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Matrix product with numpy semantics (ONNX MatMul): the last two axes multiply, leading axes
    broadcast; a 1-D a gets a leading 1 and a 1-D b a trailing 1, each removed from the result."""
    dtype = same_dtype("matmul", types)
    a, b = types[0].shape, types[1].shape
    if not a or not b:
        raise fail("matmul", "operands must have rank >= 1")
    a2 = (1, *a) if len(a) == 1 else tuple(a)
    b2 = (*b, 1) if len(b) == 1 else tuple(b)
    if a2[-1] != b2[-2]:
        raise fail("matmul", f"inner dimensions differ: {list(a)} @ {list(b)}")
    batch = broadcast_shapes("matmul", a2[:-2], b2[:-2])
    shape = (*batch, *((a2[-2],) if len(a) > 1 else ()), *((b2[-1],) if len(b) > 1 else ()))
    return [TensorType(dtype, shape)]


# ---- pooling ------------------------------------------------------------------------------------


def _pool(op: str, types: Sequence[TensorType], attrs: Mapping[str, Any]) -> tuple[Dim, ...]:
    """Checks shared by the windowed pools; returns the result shape."""
    x = types[0]
    nsp = _spatial_input(op, x)
    _check_window_attrs(op, nsp, attrs, ["kernel_shape", "strides", "pads", "dilations"])
    kernel, pads = attrs["kernel_shape"], attrs["pads"]
    for i in range(nsp):  # a window made only of padding has nothing to pool (onnxruntime's rule too)
        if max(pads[i], pads[nsp + i]) >= kernel[i]:
            raise fail(op, f"pads {list(pads)} must be smaller than kernel_shape {list(kernel)} on spatial axis {i}")
    return (x.shape[0], x.shape[1], *_pooled_shape(op, x, kernel, attrs, attrs["ceil_mode"]))


_POOL_ATTRS = [_KERNEL_SHAPE, _STRIDES, _PADS, _DILATIONS, _CEIL_MODE]


@define_op("max_pool", ["x"], _POOL_ATTRS)
def _max_pool(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Maximum over each window (ONNX MaxPool, values only); padding never wins."""
    return [TensorType(types[0].dtype, _pool("max_pool", types, attrs))]


@define_op("max_pool_indices", ["x"], [*_POOL_ATTRS, Attr("storage_order", "int", 0, "0: row-major indices, 1: column-major spatial indices")])
def _max_pool_indices(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Where each max_pool window's maximum is (ONNX MaxPool's Indices output): an i64 flat
    index into x (batch and channel included, padding excluded), the first maximum in row-major
    window order. storage_order=1 numbers the spatial positions column-major."""
    if attrs["storage_order"] not in (0, 1):
        raise fail("max_pool_indices", f"storage_order={attrs['storage_order']} must be 0 or 1")
    return [TensorType(DType.I64, _pool("max_pool_indices", types, attrs))]


@define_op("avg_pool", ["x"], [*_POOL_ATTRS, Attr("count_include_pad", "bool", False, "divide by the window size including padding")])
def _avg_pool(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Mean over each window (ONNX AveragePool). The divisor counts the taps inside the input, or
    with count_include_pad also those on explicit padding; taps beyond the end that only
    ceil_mode adds never count."""
    return [TensorType(types[0].dtype, _pool("avg_pool", types, attrs))]


def _global_pool(op: str, types: Sequence[TensorType]) -> list[TensorType]:
    x = types[0]
    nsp = _spatial_input(op, x)
    return [TensorType(x.dtype, (x.shape[0], x.shape[1], *([1] * nsp)))]


@define_op("global_avg_pool", ["x"])
def _global_avg_pool(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Mean over all spatial axes of [N, C, D1, ...], keeping them as size 1 (ONNX
    GlobalAveragePool)."""
    return _global_pool("global_avg_pool", types)


@define_op("global_max_pool", ["x"])
def _global_max_pool(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Maximum over all spatial axes of [N, C, D1, ...], keeping them as size 1 (ONNX
    GlobalMaxPool)."""
    return _global_pool("global_max_pool", types)


# ---- normalization and softmax ------------------------------------------------------------------


@define_op("batch_norm", ["x", "scale", "bias", "mean", "var"], [_EPSILON])
def _batch_norm(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Inference-mode batch normalization (ONNX BatchNormalization, training_mode=0):
    (x - mean) / sqrt(var + epsilon) * scale + bias per channel (axis 1). The four per-channel
    operands are [C] and may have another float type than x."""
    x = types[0]
    if x.rank < 2:
        raise fail("batch_norm", f"input must be [N, C, ...], got {x}")
    for name, t in zip(("scale", "bias", "mean", "var"), types[1:]):
        if tuple(t.shape) != (x.shape[1],):
            raise fail("batch_norm", f"{name} must be [{x.shape[1]}] (one per channel), got {t}")
        if not t.dtype.is_float:
            raise fail("batch_norm", f"{name} must be a float tensor, got {t}")
    return [TensorType(x.dtype, x.shape)]


def _normalized_axis(op: str, x: TensorType, axis: int) -> None:
    if not 0 <= axis < x.rank:
        raise fail(op, f"axis={axis} must be in [0, {x.rank}) (normalized, non-negative) for {x}")


@define_op("layer_norm", ["x", "scale", "bias"], [Attr("axis", "int", doc="first normalized axis (non-negative)"), _EPSILON], optional=1)
def _layer_norm(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Layer normalization (ONNX LayerNormalization, Y only): standardize x over axes
    [axis, rank) with the biased variance plus epsilon, then multiply by scale and add bias, which
    broadcast to x. Statistics are computed in float32 (float64 for f64 inputs)."""
    x = types[0]
    _normalized_axis("layer_norm", x, attrs["axis"])
    for name, t in zip(("scale", "bias"), types[1:]):
        if t.dtype != x.dtype:
            raise fail("layer_norm", f"{name} {t} must have the element type of x ({x.dtype})")
        if not _broadcasts_to(t.shape, x.shape):
            raise fail("layer_norm", f"{name} {t} does not broadcast to x {x}")
    return [TensorType(x.dtype, x.shape)]


@define_op("layer_norm_stats", ["x"], [Attr("axis", "int", doc="first normalized axis (non-negative)"), _EPSILON])
def _layer_norm_stats(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """The statistics layer_norm uses (ONNX LayerNormalization's Mean and InvStdDev outputs):
    the f32 mean and 1/sqrt(variance + epsilon) of x over axes [axis, rank), kept as size-1 dims.
    A separate op so that layer_norm stays single-result for the passes."""
    x = types[0]
    _normalized_axis("layer_norm_stats", x, attrs["axis"])
    shape = (*x.shape[: attrs["axis"]], *([1] * (x.rank - attrs["axis"])))
    return [TensorType(DType.F32, shape), TensorType(DType.F32, shape)]


@define_op(
    "lrn",
    ["x"],
    [
        Attr("size", "int", doc="number of channels summed over"),
        Attr("alpha", "float", 1e-4),
        Attr("beta", "float", 0.75),
        Attr("bias", "float", 1.0),
    ],
)
def _lrn(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Local response normalization across channels (ONNX LRN):
    x / (bias + alpha/size * sum of x^2 over channels [c - (size-1)//2, c + ceil((size-1)/2)])^beta."""
    x = types[0]
    if x.rank < 2:
        raise fail("lrn", f"input must be [N, C, ...], got {x}")
    if attrs["size"] < 1:
        raise fail("lrn", f"size={attrs['size']} must be >= 1")
    return [TensorType(x.dtype, x.shape)]


@define_op("softmax", ["x"], [Attr("axis", "int", doc="the normalized axis (non-negative)")])
def _softmax(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """exp(x) / sum(exp(x)) along one axis (ONNX Softmax-13 semantics), computed as
    exp(x - max) for stability. Older opsets' flatten-to-2-D form imports as reshape, softmax,
    reshape."""
    x = types[0]
    _normalized_axis("softmax", x, attrs["axis"])
    if not x.dtype.is_float:
        raise fail("softmax", f"input must be a float tensor, got {x}")
    return [TensorType(x.dtype, x.shape)]


# ---- reductions ---------------------------------------------------------------------------------


def _reduce(op: str, types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    x = types[0]
    axes = tuple(attrs["axes"])
    if list(axes) != sorted(set(axes)) or any(not 0 <= a < x.rank for a in axes):
        raise fail(op, f"axes={list(axes)} must be sorted, distinct and in [0, {x.rank})")
    if attrs["keepdims"]:
        shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape))
    else:
        shape = tuple(d for i, d in enumerate(x.shape) if i not in axes)
    return [TensorType(x.dtype, shape)]


_REDUCE_ATTRS = [_AXES, _KEEPDIMS]


@define_op("reduce_mean", ["x"], _REDUCE_ATTRS)
def _reduce_mean(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Mean over the listed axes (ONNX ReduceMean); the importer turns "no axes" into all axes."""
    return _reduce("reduce_mean", types, attrs)


@define_op("reduce_sum", ["x"], _REDUCE_ATTRS)
def _reduce_sum(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Sum over the listed axes (ONNX ReduceSum); an empty reduced extent sums to 0."""
    return _reduce("reduce_sum", types, attrs)


@define_op("reduce_max", ["x"], _REDUCE_ATTRS)
def _reduce_max(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Maximum over the listed axes (ONNX ReduceMax); an empty reduced extent gives the lowest
    value of the type (-inf for floats, False for bool)."""
    return _reduce("reduce_max", types, attrs)


def batchnorm_affine(bn: Node) -> tuple[np.ndarray, np.ndarray]:
    """What batch_norm computes (inference mode), as y = s * x + t per channel:
    s = gamma / sqrt(var + eps), t = beta - mean * s. Folding and the integer lowering share it."""
    gamma, beta, mean, var = (np.asarray(v.data, dtype=np.float64) for v in bn.inputs[1:5])
    s = gamma / np.sqrt(var + bn.attr("epsilon"))
    return s, beta - mean * s
