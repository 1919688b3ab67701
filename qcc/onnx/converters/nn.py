"""Converters of ONNX nn ops: Conv, ConvTranspose, Gemm, MatMul, the pools, the normalizations,
Softmax and the Reduce ops.

Their job beyond renaming is to make every parameter explicit: auto_pad and output_shape become
pads (and output_padding), absent strides/dilations/pads become their all-ones/all-zeros lists,
axes become sorted non-negative lists, and the opset-dependent forms (Softmax before 13, axes as
attribute or operand) all map onto the one IR form.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from qcc.errors import ModelImportError
from qcc.ir.core import Value
from qcc.ir.ops import normalize_axis
from qcc.onnx.converters import NodeContext, converter
from qcc.ops.nn import transposed_output_size

_AUTO_PADS = ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID")


# ---- shared attribute handling ------------------------------------------------------------------


def _spatial_rank(ctx: NodeContext, x: Value) -> int:
    """Number of spatial axes of a channels-first operand, or a clean error."""
    if x.type.rank < 3:
        raise ModelImportError(f"{ctx.where}: input must be [N, C, D1, ...] with at least one spatial axis, got {x.type}")
    return x.type.rank - 2


def _per_axis(ctx: NodeContext, name: str, count: int, fill: int) -> tuple[int, ...]:
    """An ints attribute with one entry per axis, ``fill`` everywhere when absent."""
    value = ctx.attr(name)
    if value is None:
        return (fill,) * count
    if len(value) != count:
        raise ModelImportError(f"{ctx.where}: attribute {name}={list(value)} must have {count} entries")
    return tuple(int(v) for v in value)


def _split_total(total: int, upper: bool) -> tuple[int, int]:
    """Split a total padding into (begin, end); SAME_UPPER puts the odd one at the end."""
    small = total // 2
    return (small, total - small) if upper else (total - small, small)


def _window_pads(ctx: NodeContext, x: Value, kernel: Sequence[int], strides: Sequence[int], dilations: Sequence[int]) -> tuple[tuple[int, ...], str]:
    """Explicit pads of a Conv or pool, resolving auto_pad (SAME_*: output = ceil(input/stride));
    also returns the auto_pad value."""
    auto_pad = ctx.check_attr_in("auto_pad", _AUTO_PADS, "NOTSET")
    n = len(kernel)
    if auto_pad == "NOTSET":
        return _per_axis(ctx, "pads", 2 * n, 0), auto_pad
    if auto_pad == "VALID":
        return (0,) * (2 * n), auto_pad
    begin, end = [], []
    for size, k, s, d in zip(x.type.static_shape[2:], kernel, strides, dilations):
        out = -(-size // s)
        b, e = _split_total(max(0, (out - 1) * s + (k - 1) * d + 1 - size), auto_pad == "SAME_UPPER")
        begin.append(b)
        end.append(e)
    return tuple(begin + end), auto_pad


def _weight_kernel(ctx: NodeContext, x: Value, w: Value) -> tuple[int, ...]:
    """Kernel size of a Conv/ConvTranspose: the weight's spatial dims (kernel_shape must agree)."""
    n = _spatial_rank(ctx, x)
    if w.type.rank != n + 2:
        raise ModelImportError(f"{ctx.where}: weight {w.type} must have rank {n + 2} like the input {x.type}")
    kernel = tuple(int(d) for d in w.type.shape[2:])
    given = ctx.attr("kernel_shape")
    if given is not None and tuple(given) != kernel:
        raise ModelImportError(f"{ctx.where}: kernel_shape={list(given)} disagrees with the weight's spatial shape {list(kernel)}")
    return kernel


def _operands(*values: Value | None) -> list[Value]:
    """Operand list without trailing absent optional operands."""
    return [v for v in values if v is not None]


# ---- convolutions and matrix products -----------------------------------------------------------


@converter("Conv")
def conv(ctx: NodeContext) -> Sequence[Value]:
    x, w, b = ctx.input(0), ctx.input(1), ctx.optional_input(2)
    kernel = _weight_kernel(ctx, x, w)
    n = len(kernel)
    strides, dilations = _per_axis(ctx, "strides", n, 1), _per_axis(ctx, "dilations", n, 1)
    pads, _ = _window_pads(ctx, x, kernel, strides, dilations)
    attrs = {"strides": strides, "pads": pads, "dilations": dilations, "group": ctx.attr("group", 1)}
    return [ctx.emit("conv", _operands(x, w, b), attrs)]


@converter("ConvTranspose")
def conv_transpose(ctx: NodeContext) -> Sequence[Value]:
    x, w, b = ctx.input(0), ctx.input(1), ctx.optional_input(2)
    kernel = _weight_kernel(ctx, x, w)
    n = len(kernel)
    strides, dilations = _per_axis(ctx, "strides", n, 1), _per_axis(ctx, "dilations", n, 1)
    output_padding = list(_per_axis(ctx, "output_padding", n, 0))
    auto_pad = ctx.check_attr_in("auto_pad", _AUTO_PADS, "NOTSET")
    in_shape = x.type.static_shape[2:]
    output_shape = ctx.attr("output_shape")
    if output_shape is not None or auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        # ONNX: an output_shape (default for SAME_*: input * stride) overrides pads
        if output_shape is None:
            target = [i * s for i, s in zip(in_shape, strides)]
        elif len(output_shape) in (n, n + 2):
            target = [int(v) for v in output_shape[-n:]]
        else:
            raise ModelImportError(f"{ctx.where}: output_shape={list(output_shape)} must have {n} entries")
        begin, end = [], []
        for i in range(n):
            natural = transposed_output_size(in_shape[i], kernel[i], strides[i], dilations[i], 0, 0, output_padding[i])
            pb, pe = _split_total(natural - target[i], auto_pad == "SAME_UPPER")
            if pb < 0:
                raise ctx.unsupported(f"output_shape {target} needs output before the first input position (axis {i})")
            if pe < 0:  # a longer output than the natural one: extra zero rows at the end
                output_padding[i] -= pe
                pe = 0
            begin.append(pb)
            end.append(pe)
        pads = tuple(begin + end)
    elif auto_pad == "VALID":
        pads = (0,) * (2 * n)
    else:
        pads = _per_axis(ctx, "pads", 2 * n, 0)
    attrs = {
        "strides": strides,
        "pads": pads,
        "dilations": dilations,
        "group": ctx.attr("group", 1),
        "output_padding": tuple(output_padding),
    }
    return [ctx.emit("conv_transpose", _operands(x, w, b), attrs)]


@converter("Gemm")
def gemm(ctx: NodeContext) -> Sequence[Value]:
    attrs = {
        "alpha": float(ctx.attr("alpha", 1.0)),
        "beta": float(ctx.attr("beta", 1.0)),
        "trans_a": bool(ctx.attr("transA", 0)),
        "trans_b": bool(ctx.attr("transB", 0)),
    }
    return [ctx.emit("gemm", _operands(ctx.input(0), ctx.input(1), ctx.optional_input(2)), attrs)]


@converter("MatMul")
def matmul(ctx: NodeContext) -> Sequence[Value]:
    return [ctx.emit("matmul", [ctx.input(0), ctx.input(1)])]


# ---- pooling ------------------------------------------------------------------------------------


def _pool_attrs(ctx: NodeContext, x: Value) -> dict[str, Any]:
    """kernel_shape, strides, pads, dilations and ceil_mode of MaxPool/AveragePool, explicit."""
    n = _spatial_rank(ctx, x)
    kernel = tuple(int(k) for k in ctx.require_attr("kernel_shape"))
    if len(kernel) != n:
        raise ModelImportError(f"{ctx.where}: kernel_shape={list(kernel)} must have {n} entries for input {x.type}")
    strides, dilations = _per_axis(ctx, "strides", n, 1), _per_axis(ctx, "dilations", n, 1)
    pads, auto_pad = _window_pads(ctx, x, kernel, strides, dilations)
    # with auto_pad the output size is fixed by it; ceil_mode cannot change it any more
    ceil_mode = bool(ctx.attr("ceil_mode", 0)) and auto_pad == "NOTSET"
    return {"kernel_shape": kernel, "strides": strides, "pads": pads, "dilations": dilations, "ceil_mode": ceil_mode}


@converter("MaxPool")
def max_pool(ctx: NodeContext) -> Sequence[Value]:
    x = ctx.input(0)
    attrs = _pool_attrs(ctx, x)
    outputs = [ctx.emit("max_pool", [x], attrs)]
    if ctx.output_used(1):
        storage_order = ctx.check_attr_in("storage_order", (0, 1), 0)
        outputs.append(ctx.emit("max_pool_indices", [x], {**attrs, "storage_order": storage_order}, name=ctx.proto.output[1]))
    return outputs


@converter("AveragePool")
def avg_pool(ctx: NodeContext) -> Sequence[Value]:
    x = ctx.input(0)
    attrs = {**_pool_attrs(ctx, x), "count_include_pad": bool(ctx.attr("count_include_pad", 0))}
    return [ctx.emit("avg_pool", [x], attrs)]


@converter("GlobalAveragePool")
def global_avg_pool(ctx: NodeContext) -> Sequence[Value]:
    return [ctx.emit("global_avg_pool", [ctx.input(0)])]


@converter("GlobalMaxPool")
def global_max_pool(ctx: NodeContext) -> Sequence[Value]:
    return [ctx.emit("global_max_pool", [ctx.input(0)])]


# ---- normalization and softmax ------------------------------------------------------------------


@converter("BatchNormalization")
def batch_norm(ctx: NodeContext) -> Sequence[Value]:
    if ctx.attr("training_mode", 0):
        raise ctx.unsupported("training_mode=1 is not supported (inference only)")
    if ctx.attr("spatial", 1) != 1:
        raise ctx.unsupported("spatial=0 (per-element statistics) is not supported")
    if any(ctx.output_used(i) for i in range(1, ctx.num_outputs)):
        raise ctx.unsupported("outputs beyond Y (training statistics) are not supported (inference only)")
    operands = [ctx.input(i) for i in range(5)]
    return [ctx.emit("batch_norm", operands, {"epsilon": float(ctx.attr("epsilon", 1e-5))})]


@converter("LayerNormalization")
def layer_norm(ctx: NodeContext) -> Sequence[Value]:
    x = ctx.input(0)
    attrs = {
        "axis": normalize_axis("LayerNormalization", int(ctx.attr("axis", -1)), x.type.rank),
        "epsilon": float(ctx.attr("epsilon", 1e-5)),
    }
    outputs = [ctx.emit("layer_norm", _operands(x, ctx.input(1), ctx.optional_input(2)), attrs)]
    if ctx.output_used(1) or ctx.output_used(2):
        ctx.check_attr_in("stash_type", (1,), 1)  # the statistics outputs are float32
        names = [ctx.proto.output[i] if ctx.output_used(i) else f"{ctx.name}_stat{i}" for i in (1, 2)]
        outputs += ctx.emit_multi("layer_norm_stats", [x], attrs, names=names)
    return outputs


@converter("LRN")
def lrn(ctx: NodeContext) -> Sequence[Value]:
    attrs = {
        "size": int(ctx.require_attr("size")),
        "alpha": float(ctx.attr("alpha", 1e-4)),
        "beta": float(ctx.attr("beta", 0.75)),
        "bias": float(ctx.attr("bias", 1.0)),
    }
    return [ctx.emit("lrn", [ctx.input(0)], attrs)]


@converter("Softmax")
def softmax(ctx: NodeContext) -> Sequence[Value]:
    """Opset 13+ normalizes one axis. Before 13 the input is seen as 2-D [prod(dims[:axis]),
    prod(dims[axis:])] and rows are normalized: the same thing when axis is the last one, else
    reshape -> softmax(axis=1) -> reshape."""
    x = ctx.input(0)
    shape = tuple(x.type.shape)
    axis = normalize_axis("Softmax", int(ctx.attr("axis", -1 if ctx.opset >= 13 else 1)), len(shape))
    if ctx.opset >= 13 or axis == len(shape) - 1:
        return [ctx.emit("softmax", [x], {"axis": axis})]
    rows = ctx.emit("reshape", [x], {"shape": (math.prod(shape[:axis]), math.prod(shape[axis:]))}, name=f"{ctx.name}_2d")
    normalized = ctx.emit("softmax", [rows], {"axis": 1}, name=f"{ctx.name}_rows")
    return [ctx.emit("reshape", [normalized], {"shape": shape})]


# ---- reductions ---------------------------------------------------------------------------------


def _reduce(ctx: NodeContext, op: str) -> Sequence[Value]:
    """Axes come as an attribute (older opsets) or as operand 1 (ReduceSum 13+, the rest 18+).
    No axes means all axes, unless noop_with_empty_axes makes the node an identity."""
    x = ctx.input(0)
    rank = x.type.rank
    axes = ctx.static(1, "axes") if ctx.has_input(1) else ctx.attr("axes")
    if axes is None or len(axes) == 0:
        if ctx.attr("noop_with_empty_axes", 0):
            return [x]
        axes = range(rank)
    normalized = sorted({normalize_axis(ctx.proto.op_type, int(a), rank) for a in axes})
    if len(normalized) != len(axes):
        raise ModelImportError(f"{ctx.where}: axes {[int(a) for a in axes]} name an axis twice")
    return [ctx.emit(op, [x], {"axes": tuple(normalized), "keepdims": bool(ctx.attr("keepdims", 1))})]


@converter("ReduceMean")
def reduce_mean(ctx: NodeContext) -> Sequence[Value]:
    return _reduce(ctx, "reduce_mean")


@converter("ReduceSum")
def reduce_sum(ctx: NodeContext) -> Sequence[Value]:
    return _reduce(ctx, "reduce_sum")


@converter("ReduceMax")
def reduce_max(ctx: NodeContext) -> Sequence[Value]:
    return _reduce(ctx, "reduce_max")
