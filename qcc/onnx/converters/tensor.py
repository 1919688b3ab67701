"""Converters of ONNX tensor and shape ops.

Operands that are really parameters (shapes, axes, pads, starts/ends, scales/sizes, split sizes)
are read as constants and resolved here into the IR's canonical attributes: non-negative axes,
clamped slice bounds, fully resolved shapes. Ops that only describe shapes or constants (Shape,
Size, Constant, ConstantOfShape, Range) become constants at once, and ``ctx.emit`` folds every op
whose operands are all constant, so shape arithmetic vanishes at import. Ops that do nothing at
inference (Identity, Dropout, no-op reshapes/slices/casts) return their input and emit no node.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx

from qcc.errors import ModelImportError
from qcc.ir.core import Value
from qcc.ir.ops import broadcast_shapes, normalize_axis
from qcc.ir.types import DType
from qcc.limits import check_shape
from qcc.onnx.converters import NodeContext, converter, dtype_from_onnx, read_tensor
from qcc.ops.tensor import COORDINATE_MODES, NEAREST_MODES, PAD_MODES, RESIZE_MODES, resize_axis_is_identity

# ---- shared helpers ----------------------------------------------------------------------------


def _invalid(ctx: NodeContext, message: str) -> ModelImportError:
    """An error for a node whose operands or attributes contradict the ONNX spec (raise it)."""
    return ModelImportError(f"{ctx.where}: {message}")


def _ints(values: Any) -> list[int]:
    return [int(v) for v in np.asarray(values).reshape(-1)]


def _floats(values: Any) -> list[float]:
    return [float(v) for v in np.asarray(values, dtype=np.float64).reshape(-1)]


def _given(array: np.ndarray | None) -> np.ndarray | None:
    """An optional operand that may also be 'omitted' by passing an empty tensor."""
    return None if array is None or array.size == 0 else array


def _axes(ctx: NodeContext, axes: Sequence[int], rank: int) -> list[int]:
    """Normalize axes to [0, rank) and reject repeats."""
    out = [normalize_axis(ctx.proto.op_type, int(a), rank) for a in axes]
    if len(set(out)) != len(out):
        raise _invalid(ctx, f"axes {list(axes)} repeat an axis")
    return out


def _required(ctx: NodeContext, index: int, what: str) -> np.ndarray:
    """A required operand that must be a constant (a clean error when it is missing)."""
    ctx.input(index)  # raises "missing required input" when absent
    value = ctx.static(index, what)
    assert value is not None
    return value


def _param(ctx: NodeContext, attr_until: int, index: int, name: str) -> np.ndarray | None:
    """A parameter that was an attribute before opset ``attr_until`` and an operand since."""
    if ctx.opset < attr_until:
        value = ctx.attr(name)
        return None if value is None else np.asarray(value)
    return ctx.static(index, name)


def _out(ctx: NodeContext, i: int = 0) -> str:
    return ctx.proto.output[i] if ctx.output_used(i) else f"{ctx.name}_{i}"


def _reshape(ctx: NodeContext, x: Value, shape: Sequence[int]) -> Value:
    """A reshape node, or ``x`` itself when the shape does not change."""
    shape = tuple(int(d) for d in shape)
    if shape == x.type.static_shape:
        return x
    return ctx.emit("reshape", [x], {"shape": shape})


def _constant_array(ctx: NodeContext, name: str) -> np.ndarray | None:
    """A tensor attribute as an array, with its element type checked against what the IR holds."""
    for a in ctx.proto.attribute:
        if a.name == name:
            if a.type != onnx.AttributeProto.TENSOR:
                raise _invalid(ctx, f"attribute '{name}' must be a tensor")
            return read_tensor(a.t, f"{ctx.where}: attribute '{name}'")
    return None


# ---- constants and shape queries ---------------------------------------------------------------


@converter("Constant")
def constant(ctx: NodeContext) -> Sequence[Value]:
    for name in ("sparse_value", "value_string", "value_strings"):
        if name in ctx.attr_names():
            raise ctx.unsupported(f"attribute '{name}' is not supported (only numeric dense constants)")
    array = _constant_array(ctx, "value")
    if array is None:
        typed = {"value_float": np.float32, "value_floats": np.float32, "value_int": np.int64, "value_ints": np.int64}
        given = [n for n in typed if n in ctx.attr_names()]
        if len(given) != 1:
            raise _invalid(ctx, "exactly one value attribute must be given")
        array = np.asarray(ctx.attr(given[0]), dtype=typed[given[0]])
    return [ctx.const(array, _out(ctx))]


@converter("ConstantOfShape")
def constant_of_shape(ctx: NodeContext) -> Sequence[Value]:
    shape = _ints(_required(ctx, 0, "shape"))
    if any(d < 0 for d in shape):
        raise _invalid(ctx, f"shape {shape} has a negative dim")
    check_shape(shape, f"{ctx.where}: the result")
    value = _constant_array(ctx, "value")
    if value is None:
        value = np.zeros(1, np.float32)
    if value.size != 1:
        raise _invalid(ctx, f"attribute 'value' must hold one element, it holds {value.size}")
    return [ctx.const(np.full(shape, value.reshape(()), dtype=value.dtype), _out(ctx))]


@converter("Shape")
def shape(ctx: NodeContext) -> Sequence[Value]:
    dims = ctx.input(0).type.static_shape
    # Python slicing clamps start/end exactly as ONNX Shape-15 does.
    start, end = ctx.attr("start", 0), ctx.attr("end", None)
    return [ctx.const(np.array(dims[start:end], dtype=np.int64), _out(ctx))]


@converter("Size")
def size(ctx: NodeContext) -> Sequence[Value]:
    return [ctx.const(np.array(math.prod(ctx.input(0).type.static_shape), dtype=np.int64), _out(ctx))]


@converter("Range")
def range_(ctx: NodeContext) -> Sequence[Value]:
    start, limit, delta = (_required(ctx, i, n) for i, n in enumerate(("start", "limit", "delta")))
    dtype = start.dtype
    if delta.item() == 0:
        raise _invalid(ctx, "delta is 0")
    # Like the ONNX reference: integers exactly, floats in f64, except that f16/bf16 accumulate in
    # stash_type (f32 by default) from opset 27 on.
    low_precision = dtype.name in ("float16", "bfloat16")
    stash = ctx.attr("stash_type", onnx.TensorProto.FLOAT) if ctx.opset >= 27 else None
    if dtype.kind in "iu":
        work: type = np.int64
    elif low_precision and stash == onnx.TensorProto.FLOAT:
        work = np.float32
    else:
        work = np.float64
    bounds: list[float] = [np.asarray(v).astype(work).item() for v in (start, limit, delta)]  # python ints for integer work
    lo, hi, step = bounds
    if not all(math.isfinite(b) for b in bounds):
        raise _invalid(ctx, f"start, limit and delta must be finite (got {lo}, {hi}, {step})")
    check_shape((max(math.ceil((hi - lo) / step), 0),), f"{ctx.where}: the result")
    return [ctx.const(np.arange(lo, hi, step, dtype=work).astype(dtype), _out(ctx))]


# ---- no-ops at inference -------------------------------------------------------------------------


@converter("Identity")
def identity(ctx: NodeContext) -> Sequence[Value]:
    return [ctx.input(0)]


@converter("Dropout")
def dropout(ctx: NodeContext) -> Sequence[Value]:
    """Dropout is the identity at inference; its mask, if asked for, keeps everything."""
    x = ctx.input(0)
    if ctx.opset >= 12:
        training = ctx.static(2, "training_mode")
        if training is not None and bool(training.reshape(-1)[0]):
            ratio = ctx.static(1, "ratio")
            if ratio is None or float(ratio.reshape(-1)[0]) != 0.0:
                raise ctx.unsupported("training_mode=True (random dropout) is not supported; export the model for inference")
    outputs = [x]
    if ctx.output_used(1):
        mask_dtype = np.bool_ if ctx.opset >= 10 else x.type.dtype.numpy  # Dropout-7 had a mask of x's type
        outputs.append(ctx.const(np.ones(x.type.static_shape, mask_dtype), _out(ctx, 1)))
    return outputs


# ---- element type --------------------------------------------------------------------------------


def _cast(ctx: NodeContext, x: Value, to: DType) -> Value:
    return x if x.type.dtype is to else ctx.emit("cast", [x], {"to": to})


@converter("Cast")
def cast(ctx: NodeContext) -> Sequence[Value]:
    return [_cast(ctx, ctx.input(0), dtype_from_onnx(ctx.require_attr("to"), ctx.where))]


@converter("CastLike")
def cast_like(ctx: NodeContext) -> Sequence[Value]:
    return [_cast(ctx, ctx.input(0), ctx.input(1).type.dtype)]


# ---- reshapes ------------------------------------------------------------------------------------


@converter("Reshape")
def reshape(ctx: NodeContext) -> Sequence[Value]:
    x = ctx.input(0)
    src = x.type.static_shape
    shape = _ints(_required(ctx, 1, "shape"))
    allowzero = bool(ctx.attr("allowzero", 0))
    out: list[int] = []
    infer_at: int | None = None
    for i, d in enumerate(shape):
        if d == -1:
            if infer_at is not None:
                raise _invalid(ctx, f"shape {shape} has more than one -1")
            infer_at = i
            out.append(1)
        elif d == 0 and not allowzero:  # 0 copies the operand's dim
            if i >= len(src):
                raise _invalid(ctx, f"shape {shape} copies dim {i} (0), but the operand {list(src)} has rank {len(src)}")
            out.append(src[i])
        elif d < 0:
            raise _invalid(ctx, f"shape {shape} has a negative dim {d}")
        else:
            out.append(d)
    if infer_at is not None:
        known, total = math.prod(out), math.prod(src)
        if known == 0 or total % known:
            raise _invalid(ctx, f"cannot reshape {list(src)} to {shape}: the -1 dim cannot be inferred")
        out[infer_at] = total // known
    return [_reshape(ctx, x, out)]


@converter("Flatten")
def flatten(ctx: NodeContext) -> Sequence[Value]:
    x = ctx.input(0)
    src = x.type.static_shape
    axis = ctx.attr("axis", 1)
    if not -len(src) <= axis <= len(src):
        raise _invalid(ctx, f"axis {axis} is out of range for rank {len(src)}")
    if axis < 0:
        axis += len(src)
    return [_reshape(ctx, x, (math.prod(src[:axis]), math.prod(src[axis:])))]


@converter("Squeeze")
def squeeze(ctx: NodeContext) -> Sequence[Value]:
    x = ctx.input(0)
    src = x.type.static_shape
    given = _given(_param(ctx, 13, 1, "axes"))
    if given is None:  # no axes: drop every length-1 axis
        axes = [i for i, d in enumerate(src) if d == 1]
    else:
        axes = _axes(ctx, _ints(given), len(src))
        for a in axes:
            if src[a] != 1:
                raise _invalid(ctx, f"cannot squeeze axis {a} of shape {list(src)}: its length is not 1")
    return [_reshape(ctx, x, [d for i, d in enumerate(src) if i not in axes])]


@converter("Unsqueeze")
def unsqueeze(ctx: NodeContext) -> Sequence[Value]:
    x = ctx.input(0)
    src = list(x.type.static_shape)
    given = _param(ctx, 13, 1, "axes")
    if given is None:
        raise _invalid(ctx, "axes are required")
    axes = _axes(ctx, _ints(given), len(src) + given.size)
    out = iter(src)
    return [_reshape(ctx, x, [1 if i in axes else next(out) for i in range(len(src) + len(axes))])]


@converter("Transpose")
def transpose(ctx: NodeContext) -> Sequence[Value]:
    x = ctx.input(0)
    perm = list(ctx.attr("perm", tuple(reversed(range(x.type.rank)))))
    if perm == list(range(x.type.rank)):
        return [x]
    return [ctx.emit("transpose", [x], {"perm": perm})]


@converter("Expand")
def expand(ctx: NodeContext) -> Sequence[Value]:
    x = ctx.input(0)
    target = broadcast_shapes("expand", x.type.static_shape, _ints(_required(ctx, 1, "shape")))
    if target == x.type.static_shape:
        return [x]
    return [ctx.emit("expand", [x], {"shape": target})]


@converter("Tile")
def tile(ctx: NodeContext) -> Sequence[Value]:
    x = ctx.input(0)
    repeats = _ints(_required(ctx, 1, "repeats"))
    if repeats == [1] * x.type.rank:
        return [x]
    return [ctx.emit("tile", [x], {"repeats": repeats})]


# ---- joining and cutting -------------------------------------------------------------------------


@converter("Concat")
def concat(ctx: NodeContext) -> Sequence[Value]:
    xs = ctx.inputs()
    if len(xs) == 1:
        return xs
    axis = normalize_axis("Concat", ctx.require_attr("axis"), xs[0].type.rank)
    return [ctx.emit("concat", xs, {"axis": axis})]


@converter("Split")
def split(ctx: NodeContext) -> Sequence[Value]:
    x = ctx.input(0)
    src = x.type.static_shape
    axis = normalize_axis("Split", ctx.attr("axis", 0), len(src))
    dim, parts = src[axis], ctx.num_outputs
    given = _given(_param(ctx, 13, 1, "split"))
    num_outputs = ctx.attr("num_outputs") if ctx.opset >= 18 else None
    if given is not None:
        sizes = _ints(given)
    elif num_outputs is not None:
        if num_outputs != parts:
            raise _invalid(ctx, f"num_outputs={num_outputs} but the node has {parts} outputs")
        # Opset 18: equal pieces of ceil(dim / n), the last one smaller.
        chunk = -(-dim // num_outputs)
        sizes = [chunk] * (num_outputs - 1) + [dim - chunk * (num_outputs - 1)]
        if sizes[-1] < 0:
            raise _invalid(ctx, f"cannot split length {dim} into {num_outputs} pieces of {chunk}")
    elif dim % parts:
        raise _invalid(ctx, f"cannot split length {dim} of axis {axis} into {parts} equal pieces")
    else:
        sizes = [dim // parts] * parts
    if len(sizes) != parts:
        raise _invalid(ctx, f"{len(sizes)} split sizes {sizes} for {parts} outputs")
    if parts == 1:
        return [x]
    return ctx.emit_multi("split", [x], {"axis": axis, "sizes": sizes}, names=[_out(ctx, i) for i in range(parts)])


def _clamp(value: int, lo: int, hi: int) -> int:
    return max(lo, min(value, hi))


@converter("Slice")
def slice_(ctx: NodeContext) -> Sequence[Value]:
    x = ctx.input(0)
    src = x.type.static_shape
    if ctx.opset < 10:
        starts, ends = _ints(ctx.require_attr("starts")), _ints(ctx.require_attr("ends"))
        axes_given, steps_given = ctx.attr("axes"), None
    else:
        starts, ends = _ints(_required(ctx, 1, "starts")), _ints(_required(ctx, 2, "ends"))
        axes_given, steps_given = ctx.static(3, "axes"), ctx.static(4, "steps")
    axes = _axes(ctx, _ints(axes_given) if axes_given is not None else range(len(starts)), len(src))
    steps = _ints(steps_given) if steps_given is not None else [1] * len(starts)
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise _invalid(ctx, "starts, ends, axes and steps have different lengths")
    entries = []
    for start, end, axis, step in sorted(zip(starts, ends, axes, steps), key=lambda e: e[2]):
        dim = src[axis]
        if step == 0:
            raise _invalid(ctx, f"step of axis {axis} is 0")
        start += dim if start < 0 else 0
        end += dim if end < 0 else 0
        if dim == 0:
            start = end = 0
        elif step > 0:
            start, end = _clamp(start, 0, dim), _clamp(end, 0, dim)
        else:
            start, end = _clamp(start, 0, dim - 1), _clamp(end, -1, dim - 1)
        entries.append((start, end, axis, step))
    if all(e[0] == 0 and e[1] == src[e[2]] and e[3] == 1 for e in entries):
        return [x]
    starts, ends, axes, steps = (list(column) for column in zip(*entries))
    attrs: dict[str, Any] = {"starts": starts, "ends": ends, "axes": axes}
    if any(s != 1 for s in steps):
        attrs["steps"] = steps
    return [ctx.emit("slice", [x], attrs)]


@converter("Pad")
def pad(ctx: NodeContext) -> Sequence[Value]:
    x = ctx.input(0)
    rank = x.type.rank
    modes = PAD_MODES if ctx.opset >= 19 else tuple(m for m in PAD_MODES if m != "wrap")
    mode = ctx.check_attr_in("mode", modes, "constant")
    if ctx.opset < 11:
        pads, value, axes_given = _ints(ctx.require_attr("pads")), float(ctx.attr("value", 0.0)), None
    else:
        pads = _ints(_required(ctx, 1, "pads"))
        fill = _given(ctx.static(2, "constant_value"))
        value = float(fill.reshape(-1)[0]) if fill is not None else 0.0
        axes_given = ctx.static(3, "axes") if ctx.opset >= 18 else None
    axes = _axes(ctx, _ints(axes_given), rank) if axes_given is not None else list(range(rank))
    if len(pads) != 2 * len(axes):
        raise _invalid(ctx, f"pads {pads} must have 2 entries per padded axis ({len(axes)} axes)")
    full = [0] * (2 * rank)
    for i, axis in enumerate(axes):
        full[axis], full[axis + rank] = pads[i], pads[i + len(axes)]
    if not any(full):
        return [x]
    attrs: dict[str, Any] = {"pads": full, "mode": mode}
    if mode == "constant":
        attrs["value"] = value
    return [ctx.emit("pad", [x], attrs)]


# ---- indexing ------------------------------------------------------------------------------------


@converter("Gather", "GatherElements")
def gather(ctx: NodeContext) -> Sequence[Value]:
    data, indices = ctx.input(0), ctx.input(1)
    axis = normalize_axis(ctx.proto.op_type, ctx.attr("axis", 0), data.type.rank)
    op = "gather" if ctx.proto.op_type == "Gather" else "gather_elements"
    return [ctx.emit(op, [data, indices], {"axis": axis})]


# ---- resize --------------------------------------------------------------------------------------


def _legacy_nearest_mode(ctx: NodeContext, scales: Sequence[float]) -> str:
    """Resize-10 and Upsample had no nearest_mode: onnxruntime (the reference in practice) floors
    when upsampling and ceils when downsampling."""
    down, up = any(s < 1 for s in scales), any(s > 1 for s in scales)
    if down and up:
        raise ctx.unsupported("nearest resize that upsamples some axes and downsamples others (opset < 11)")
    return "ceil" if down else "floor"


def _resize_geometry(
    ctx: NodeContext, src: Sequence[int], axes: Sequence[int], scales: np.ndarray | None, sizes: np.ndarray | None, policy: str
) -> tuple[list[int], list[float] | None]:
    """The full result shape and, when they are not simply ``sizes / dims``, the per-axis scales."""
    rank = len(src)
    if scales is not None:
        given = _floats(scales)
        if len(given) != len(axes) or not all(s > 0 for s in given):
            raise _invalid(ctx, f"scales {given} must be {len(axes)} positive numbers")
        full_scales = [1.0] * rank
        for axis, s in zip(axes, given):
            full_scales[axis] = s
        return [math.floor(d * s) for d, s in zip(src, full_scales)], full_scales
    assert sizes is not None
    wanted = _ints(sizes)
    if len(wanted) != len(axes) or any(s < 0 for s in wanted):
        raise _invalid(ctx, f"sizes {wanted} must be {len(axes)} dims >= 0")
    if any(src[a] == 0 for a in axes):
        raise _invalid(ctx, f"cannot resize the empty operand {list(src)}")
    full_sizes = list(src)
    for axis, s in zip(axes, wanted):
        full_sizes[axis] = s
    if policy == "stretch":
        return full_sizes, None
    ratios = [s / src[a] for a, s in zip(axes, wanted)]
    scale = min(ratios) if policy == "not_larger" else max(ratios)
    full_scales = [scale if i in axes else 1.0 for i in range(rank)]
    return [int(scale * d + 0.5) if i in axes else d for i, d in enumerate(src)], full_scales


def _emit_resize(ctx: NodeContext, x: Value, sizes: list[int], scales: list[float] | None, attrs: dict[str, Any]) -> Value:
    """Emit a resize in canonical form: scales only when they differ from sizes / dims, and x
    itself when no axis changes."""
    src = x.type.static_shape
    if scales is not None and all(s == (o / d if d else 1.0) for s, o, d in zip(scales, sizes, src)):
        scales = None
    effective = scales or [o / d if d else 1.0 for o, d in zip(sizes, src)]
    roi = attrs.get("roi")
    rank = len(src)
    if all(
        resize_axis_is_identity(d, o, s, (roi[i], roi[i + rank]) if roi else None)
        for i, (d, o, s) in enumerate(zip(src, sizes, effective))
    ):
        return x
    if attrs.get("antialias") and all(s >= 1 for s in effective):
        del attrs["antialias"]  # antialiasing only changes downsampling
    attrs["sizes"] = sizes
    if scales is not None:
        attrs["scales"] = scales
    return ctx.emit("resize", [x], attrs)


def _legacy_resize(ctx: NodeContext) -> Sequence[Value]:
    """Resize-10 and Upsample-9/10: scales only, asymmetric coordinates."""
    x = ctx.input(0)
    mode = ctx.check_attr_in("mode", ("nearest", "linear"), "nearest")
    src = x.type.static_shape
    sizes, scales = _resize_geometry(ctx, src, range(len(src)), _required(ctx, 1, "scales"), None, "stretch")
    assert scales is not None
    attrs: dict[str, Any] = {"mode": mode, "coordinate_transformation_mode": "asymmetric"}
    if mode == "nearest":
        attrs["nearest_mode"] = _legacy_nearest_mode(ctx, scales)
    return [_emit_resize(ctx, x, sizes, scales, attrs)]


@converter("Upsample")
def upsample(ctx: NodeContext) -> Sequence[Value]:
    return _legacy_resize(ctx)


@converter("Resize")
def resize(ctx: NodeContext) -> Sequence[Value]:
    if ctx.opset < 11:
        return _legacy_resize(ctx)
    x = ctx.input(0)
    src = x.type.static_shape
    rank = len(src)
    mode = ctx.check_attr_in("mode", RESIZE_MODES, "nearest")
    coord = ctx.check_attr_in("coordinate_transformation_mode", COORDINATE_MODES, "half_pixel")
    axes = _axes(ctx, ctx.attr("axes", range(rank)), rank) if ctx.opset >= 18 else list(range(rank))
    policy = ctx.check_attr_in("keep_aspect_ratio_policy", ("stretch", "not_larger", "not_smaller"), "stretch")
    scales, sizes = _given(ctx.static(2, "scales")), _given(ctx.static(3, "sizes"))
    if (scales is None) == (sizes is None):
        raise _invalid(ctx, "exactly one of the scales and sizes operands must be given")
    out_sizes, out_scales = _resize_geometry(ctx, src, axes, scales, sizes, policy)
    attrs: dict[str, Any] = {"mode": mode, "coordinate_transformation_mode": coord}
    if coord == "tf_crop_and_resize":
        given = _given(ctx.static(1, "roi"))
        if given is None or given.size != 2 * len(axes):
            raise _invalid(ctx, f"tf_crop_and_resize needs a roi of 2 entries per resized axis ({len(axes)} axes)")
        roi = [0.0] * rank + [1.0] * rank
        for i, axis in enumerate(axes):
            roi[axis], roi[axis + rank] = _floats(given)[i], _floats(given)[i + len(axes)]
        attrs["roi"] = roi
        attrs["extrapolation_value"] = float(ctx.attr("extrapolation_value", 0.0))
    if mode == "nearest":
        attrs["nearest_mode"] = ctx.check_attr_in("nearest_mode", NEAREST_MODES, "round_prefer_floor")
    else:
        attrs["exclude_outside"] = bool(ctx.attr("exclude_outside", 0))
        attrs["antialias"] = bool(ctx.attr("antialias", 0))
        if mode == "cubic":
            attrs["cubic_coeff_a"] = float(ctx.attr("cubic_coeff_a", -0.75))
    return [_emit_resize(ctx, x, out_sizes, out_scales, attrs)]
