"""Data-movement and shape float ops: concat, split, slice, reshape, transpose, resize, pad, ...

Every parameter ONNX passes as a data operand (shapes, axes, pads, starts/ends, sizes/scales) is a
typed, fully resolved attribute here: axes are non-negative, slice bounds are clamped, shapes have no
0 or -1. So a pass or a backend reads one canonical form and never re-derives ONNX's defaulting
rules. Only values that really flow at run time (gather indices) are operands.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from qcc.ir.ops import Attr, define_op, fail, same_dtype
from qcc.ir.types import Dim, DType, TensorType

INDEX_DTYPES = (DType.I32, DType.I64)


def _check_axis(op: str, axis: int, rank: int) -> None:
    """Attributes hold normalized axes: reject anything outside [0, rank)."""
    if not 0 <= axis < rank:
        raise fail(op, f"axis {axis} is out of range for rank {rank} (axes are stored non-negative)")


def _check_axes(op: str, axes: Sequence[int], rank: int) -> None:
    for axis in axes:
        _check_axis(op, axis, rank)
    if len(set(axes)) != len(axes):
        raise fail(op, f"axes {list(axes)} repeat an axis")


def _check_index_operand(op: str, indices: TensorType) -> None:
    if indices.dtype not in INDEX_DTYPES:
        raise fail(op, f"indices must be i32 or i64, got {indices.dtype}")


@define_op("reshape", ["x"], [Attr("shape", "ints", doc="the full static result shape (no 0 or -1)")])
def _reshape(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Same elements in row-major order, new shape. ONNX Reshape, Flatten, Squeeze and Unsqueeze
    all import as this op once shapes are static."""
    x = types[0]
    shape = tuple(attrs["shape"])
    if any(d < 0 for d in shape):
        raise fail("reshape", f"shape {list(shape)} must be fully resolved (no negative dims)")
    if math.prod(shape) != math.prod(x.static_shape):
        raise fail("reshape", f"cannot reshape {list(x.shape)} ({math.prod(x.static_shape)} elements) to {list(shape)}")
    return [TensorType(x.dtype, shape)]


@define_op("concat", ["xs"], [Attr("axis", "int", doc="the joined axis, non-negative")], variadic=True)
def _concat(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Join the operands along ``axis``; all other dims must agree (ONNX Concat)."""
    dtype = same_dtype("concat", types)
    first = types[0].static_shape
    axis = attrs["axis"]
    _check_axis("concat", axis, len(first))
    total = 0
    for t in types:
        shape = t.static_shape
        if len(shape) != len(first) or any(a != b for i, (a, b) in enumerate(zip(shape, first)) if i != axis):
            raise fail("concat", f"operand shapes {list(first)} and {list(shape)} differ outside axis {axis}")
        total += shape[axis]
    return [TensorType(dtype, first[:axis] + (total,) + first[axis + 1 :])]


@define_op(
    "split",
    ["x"],
    [
        Attr("axis", "int", 0, "the split axis, non-negative"),
        Attr("sizes", "ints", doc="length of each piece along axis; they sum to the axis length"),
    ],
)
def _split(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Cut ``x`` along ``axis`` into consecutive pieces of the given sizes, one result per piece
    (ONNX Split with its split sizes or num_outputs resolved)."""
    x = types[0]
    shape = x.static_shape
    axis, sizes = attrs["axis"], attrs["sizes"]
    _check_axis("split", axis, len(shape))
    if not sizes or any(s < 0 for s in sizes) or sum(sizes) != shape[axis]:
        raise fail("split", f"sizes {list(sizes)} do not add up to the length {shape[axis]} of axis {axis}")
    return [TensorType(x.dtype, shape[:axis] + (s,) + shape[axis + 1 :]) for s in sizes]


def slice_length(start: int, end: int, step: int) -> int:
    """Number of elements a resolved (clamped) slice selects; ``end == -1`` with a negative step
    means 'through index 0'."""
    if step > 0:
        return max(0, -(-(end - start) // step))
    return max(0, -(-(start - end) // -step))


@define_op(
    "slice",
    ["x"],
    [
        Attr("starts", "ints", doc="first index per listed axis, clamped into the axis"),
        Attr("ends", "ints", doc="exclusive end per listed axis, clamped; -1 with a negative step = before index 0"),
        Attr("axes", "ints", doc="the sliced axes, non-negative, ascending"),
        Attr("steps", "ints", (), "stride per listed axis; empty = all 1"),
    ],
)
def _slice(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Strided sub-tensor: along each listed axis take ``starts[i]:ends[i]:steps[i]`` (ONNX Slice,
    with negative and out-of-range bounds already resolved: for step > 0 bounds lie in [0, dim],
    for step < 0 start lies in [0, dim-1] and end in [-1, dim-1]; an empty axis has 0:0)."""
    x = types[0]
    shape = list(x.static_shape)
    starts, ends, axes = attrs["starts"], attrs["ends"], attrs["axes"]
    steps = attrs["steps"] or (1,) * len(axes)
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise fail("slice", "starts, ends, axes and steps must have one entry per sliced axis")
    _check_axes("slice", axes, len(shape))
    for start, end, axis, step in zip(starts, ends, axes, steps):
        dim = shape[axis]
        if step == 0:
            raise fail("slice", f"step of axis {axis} is 0")
        if dim == 0:
            resolved = start == end == 0
        elif step > 0:
            resolved = 0 <= start <= dim and 0 <= end <= dim
        else:
            resolved = 0 <= start < dim and -1 <= end < dim
        if not resolved:
            raise fail("slice", f"bounds {start}:{end}:{step} of axis {axis} (length {dim}) are not resolved")
        shape[axis] = slice_length(start, end, step)
    return [TensorType(x.dtype, tuple(shape))]


@define_op("transpose", ["x"], [Attr("perm", "ints", doc="result axis i is operand axis perm[i]")])
def _transpose(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Permute the axes: result axis i is operand axis ``perm[i]`` (ONNX Transpose, with the
    default reversed order filled in)."""
    x = types[0]
    perm = attrs["perm"]
    if sorted(perm) != list(range(x.rank)):
        raise fail("transpose", f"perm {list(perm)} is not a permutation of the {x.rank} axes of {list(x.shape)}")
    return [TensorType(x.dtype, tuple(x.shape[p] for p in perm))]


PAD_MODES = ("constant", "reflect", "edge", "wrap")


@define_op(
    "pad",
    ["x"],
    [
        Attr("pads", "ints", doc="[begin_0, ..., begin_n-1, end_0, ..., end_n-1], one pair per axis; negative crops"),
        Attr("mode", "str", "constant", "constant, reflect, edge or wrap"),
        Attr("value", "float", 0.0, "fill value of constant mode"),
    ],
)
def _pad(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Grow (or, with negative pads, crop) every axis at both ends (ONNX Pad, with pads given for
    every axis). New elements are ``value`` (constant), the mirror image without the edge element
    (reflect), the edge element (edge) or the other end of the axis (wrap). Cropping happens first."""
    x = types[0]
    shape = x.static_shape
    pads, mode = attrs["pads"], attrs["mode"]
    if mode not in PAD_MODES:
        raise fail("pad", f"mode '{mode}' is not one of {', '.join(PAD_MODES)}")
    if len(pads) != 2 * len(shape):
        raise fail("pad", f"pads {list(pads)} must have 2 entries per axis of {list(shape)}")
    out = []
    for axis, dim in enumerate(shape):
        begin, end = pads[axis], pads[axis + len(shape)]
        kept = dim + min(begin, 0) + min(end, 0)
        if kept < 0:
            raise fail("pad", f"negative pads {begin}, {end} remove more than the {dim} elements of axis {axis}")
        grow = max(begin, 0) + max(end, 0)
        if mode != "constant" and grow and kept == 0:
            raise fail("pad", f"{mode} mode cannot pad axis {axis}, which is empty")
        if mode == "reflect" and max(begin, end) > kept - 1:
            raise fail("pad", f"reflect mode pads axis {axis} by {max(begin, end)}, but it has only {kept} elements")
        out.append(kept + grow)
    return [TensorType(x.dtype, tuple(out))]


def _gather_like(op: str, types: Sequence[TensorType], axis: int) -> tuple[TensorType, TensorType]:
    data, indices = types
    _check_index_operand(op, indices)
    _check_axis(op, axis, data.rank)
    return data, indices


@define_op("gather", ["data", "indices"], [Attr("axis", "int", 0, "the indexed axis, non-negative")])
def _gather(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Pick slices of ``data`` along ``axis`` by the integer ``indices`` (negative counts from the
    end); the indexed axis is replaced by the shape of ``indices`` (ONNX Gather)."""
    axis = attrs["axis"]
    data, indices = _gather_like("gather", types, axis)
    shape = data.shape
    return [TensorType(data.dtype, shape[:axis] + indices.shape + shape[axis + 1 :])]


def _fits_within(index_dim: Dim, data_dim: Dim) -> bool:
    """An index dim fits a data dim no smaller than it; a symbolic dim fits only the same symbol."""
    if isinstance(index_dim, int) and isinstance(data_dim, int):
        return index_dim <= data_dim
    return index_dim == data_dim


@define_op("gather_elements", ["data", "indices"], [Attr("axis", "int", 0, "the indexed axis, non-negative")])
def _gather_elements(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Element-wise indexing along ``axis``: ``out[..i..] = data[..indices[..i..]..]`` with the
    index replacing the coordinate of ``axis`` (ONNX GatherElements); the result has the shape of
    ``indices``."""
    axis = attrs["axis"]
    data, indices = _gather_like("gather_elements", types, axis)
    if indices.rank != data.rank or any(not _fits_within(i, d) for k, (i, d) in enumerate(zip(indices.shape, data.shape)) if k != axis):
        raise fail("gather_elements", f"indices shape {list(indices.shape)} does not fit data shape {list(data.shape)}")
    return [TensorType(data.dtype, indices.shape)]


@define_op("expand", ["x"], [Attr("shape", "ints", doc="the result shape, already broadcast with the operand's")])
def _expand(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Broadcast ``x`` to ``shape`` (ONNX Expand, whose shape operand is broadcast bidirectionally;
    here ``shape`` is that broadcast's result)."""
    x = types[0]
    shape = tuple(attrs["shape"])
    src = x.static_shape
    padded = (1,) * (len(shape) - len(src)) + src
    if len(src) > len(shape) or any(s not in (1, d) for s, d in zip(padded, shape)):
        raise fail("expand", f"operand shape {list(src)} does not broadcast to {list(shape)}")
    return [TensorType(x.dtype, shape)]


@define_op("tile", ["x"], [Attr("repeats", "ints", doc="copies per axis")])
def _tile(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Repeat the whole tensor ``repeats[i]`` times along each axis i (ONNX Tile)."""
    x = types[0]
    repeats = attrs["repeats"]
    if len(repeats) != x.rank or any(r < 0 for r in repeats):
        raise fail("tile", f"repeats {list(repeats)} must give a count >= 0 for each of the {x.rank} axes")
    return [TensorType(x.dtype, tuple(d * r for d, r in zip(x.static_shape, repeats)))]


@define_op("cast", ["x"], [Attr("to", "dtype", doc="the result element type")])
def _cast(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Convert elements to another type (ONNX Cast): float to integer truncates toward zero,
    anything to bool is ``x != 0``, float narrowing rounds to nearest even."""
    to = attrs["to"]
    if to is DType.I4:
        raise fail("cast", "casting to i4 is not supported (i4 exists only for quantized weights)")
    return [TensorType(to, types[0].shape)]


RESIZE_MODES = ("nearest", "linear", "cubic")
COORDINATE_MODES = (
    "half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_crop_and_resize",
    "tf_half_pixel_for_nn",
)
NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")


def resize_scales(in_shape: Sequence[int], attrs: Mapping[str, Any]) -> tuple[float, ...]:
    """The per-axis scale a resize uses in its coordinate transform: the ``scales`` attribute when
    present, else ``sizes / input dims``."""
    if attrs["scales"]:
        return tuple(attrs["scales"])
    return tuple(o / i if i else 1.0 for o, i in zip(attrs["sizes"], in_shape))


def resize_axis_is_identity(in_len: int, out_len: int, scale: float, roi: tuple[float, float] | None) -> bool:
    """Whether a resize leaves an axis as it is: same length, unit scale, whole roi. (A scale
    within rounding of 1 counts as 1, as in the ONNX reference.)"""
    return out_len == in_len and math.isclose(scale, 1.0) and roi in (None, (0.0, 1.0))


@define_op(
    "resize",
    ["x"],
    [
        Attr("sizes", "ints", doc="the full result shape"),
        Attr("scales", "floats", (), "scale per axis for the coordinate transform; empty = sizes / input dims"),
        Attr("roi", "floats", (), "[starts..., ends...] per axis, normalized; only for tf_crop_and_resize"),
        Attr("mode", "str", "nearest", "nearest, linear or cubic"),
        Attr("coordinate_transformation_mode", "str", "half_pixel", "how result coordinates map to operand ones"),
        Attr("nearest_mode", "str", "round_prefer_floor", "rounding of nearest mode"),
        Attr("cubic_coeff_a", "float", -0.75, "the 'a' of the cubic convolution kernel"),
        Attr("exclude_outside", "bool", False, "zero the weights of taps outside the tensor and renormalize"),
        Attr("extrapolation_value", "float", 0.0, "value of points outside the roi (tf_crop_and_resize)"),
        Attr("antialias", "bool", False, "widen linear/cubic filters by 1/scale when downsampling"),
    ],
)
def _resize(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Resample ``x`` to shape ``sizes`` by nearest, N-linear or N-cubic interpolation, separably
    per axis (ONNX Resize / Upsample). Each result coordinate maps to an operand coordinate by
    ``coordinate_transformation_mode`` using the axis scale (``scales``, or ``sizes / dims``).
    ONNX's ``axes`` and ``keep_aspect_ratio_policy`` are resolved into ``sizes`` and ``scales``.
    Where the ONNX text is loose, qcc follows the ONNX reference implementation: align_corners and
    tf_crop_and_resize divide by the fractional length ``scale * dim``; pytorch_half_pixel maps
    to coordinate 0 when the result length is 1 (as the spec and onnxruntime do). Integer
    operands are interpolated in f64 and rounded half to even, saturating."""
    x = types[0]
    rank = x.rank
    sizes, scales, roi = attrs["sizes"], attrs["scales"], attrs["roi"]
    for name, value, allowed in (
        ("mode", attrs["mode"], RESIZE_MODES),
        ("coordinate_transformation_mode", attrs["coordinate_transformation_mode"], COORDINATE_MODES),
        ("nearest_mode", attrs["nearest_mode"], NEAREST_MODES),
    ):
        if value not in allowed:
            raise fail("resize", f"{name} '{value}' is not one of {', '.join(allowed)}")
    if len(sizes) != rank or any(s < 0 for s in sizes):
        raise fail("resize", f"sizes {list(sizes)} must give one dim >= 0 for each of the {rank} axes")
    if scales and (len(scales) != rank or not all(s > 0 and math.isfinite(s) for s in scales)):
        raise fail("resize", f"scales {list(scales)} must give one finite scale > 0 for each of the {rank} axes")
    if attrs["coordinate_transformation_mode"] == "tf_crop_and_resize":
        if len(roi) != 2 * rank:
            raise fail("resize", f"tf_crop_and_resize needs a roi of 2 entries per axis, got {list(roi)}")
    elif roi:
        raise fail("resize", "roi is only used by tf_crop_and_resize")
    if any(i == 0 and o != 0 for i, o in zip(x.static_shape, sizes)):
        raise fail("resize", f"cannot resize an empty axis of {list(x.shape)} to {list(sizes)}")
    return [TensorType(x.dtype, tuple(sizes))]
