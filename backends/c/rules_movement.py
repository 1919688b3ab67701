"""Lowering rules of pure data movement: reshape (a view), transpose, slice, gather, expand, tile,
pad, nearest resize, concat and split - all one copy kernel with different offset tables.

For the gather-like ops the rule evaluates the float interpreter's own kernel on an index probe
(an arange of the input) and factors the resulting source offsets per axis (an affine step or a
table per axis, or one table per element if no factoring exists), so the C copy moves exactly
the elements the reference executor moves, by construction.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from qcc.backends.c.carrays import Raw
from qcc.backends.c.steps import (
    ACTIVATION_TYPES,
    MAX_DIMS,
    CBackendError,
    StepBuilder,
    const_data,
    contiguous_strides,
    element_info,
    raw,
    read,
    rule,
    same_type,
    shape_of,
    write,
)
from qcc.interp.interpreter import evaluate
from qcc.ir.core import Node, Value

MAX_FULL_TABLE = 1 << 24
"""Largest copy that may fall back to one source offset per element (a non-separable gather)."""

# ---- data movement -------------------------------------------------------------------------------


@rule("reshape")
def lower_reshape(b: StepBuilder, node: Node) -> None:
    element_info(node.inputs[0], f"node '{node.name}'")  # a view of an activation or of integer data
    b.step.alias = True
    b.step.kernel = "(view)"


def _elem_size(node: Node, v: Value) -> int:
    return element_info(v, f"node '{node.name}'")[2]


def identity_copy(shape: Sequence[int]) -> tuple[list[int], list[int], int, list[int], int, list[np.ndarray | None]]:
    strides = contiguous_strides(shape)
    return list(shape), strides, 0, strides, 0, [None] * len(shape)


def copy_call(b: StepBuilder, x: Value, y: Value, dims: Sequence[int], out_stride: Sequence[int], out_offset: int,
               in_step: Sequence[int], in_offset: int, tables: Sequence[np.ndarray | None]) -> None:
    """One qcc_copy call: collapses axes that are affine on both sides, then emits the params."""
    dims, out_stride, in_step, tables = list(dims), list(out_stride), list(in_step), list(tables)
    keep = [i for i, d in enumerate(dims) if d != 1]
    dims = [dims[i] for i in keep]
    out_stride = [out_stride[i] for i in keep]
    in_step = [in_step[i] for i in keep]
    tables = [tables[i] for i in keep]
    i = len(dims) - 2
    while i >= 0:
        if tables[i] is None and tables[i + 1] is None and in_step[i] == in_step[i + 1] * dims[i + 1] and out_stride[i] == out_stride[i + 1] * dims[i + 1]:
            dims[i] *= dims[i + 1]
            out_stride[i], in_step[i] = out_stride[i + 1], in_step[i + 1]
            for lst in (dims, out_stride, in_step, tables):
                del lst[i + 1]
        i -= 1
    if not dims:
        dims, out_stride, in_step, tables = [1], [0], [0], [None]
    if len(dims) > MAX_DIMS:
        raise CBackendError(f"node '{b.node_name}': a copy over {len(dims)} axes; the C kernel takes at most {MAX_DIMS}")
    fields = {
        "ndim": len(dims), "elem_size": _elem_size(b.step.node, x) if b.step.node is not None else ACTIVATION_TYPES[x.type.dtype][2],
        "dims": dims, "out_stride": out_stride, "out_offset": out_offset, "in_step": in_step, "in_offset": in_offset,
        "in_table": [Raw("NULL") if t is None else b.array("offsets", t, np.int32) for t in tables],
    }
    b.files("qcc_copy.c")
    b.call("qcc_copy", b.struct("qcc_copy_t", "copy", fields), read(x), write(y))


def _probe(node: Node) -> np.ndarray:
    """Source element index of every result element, from the float kernel run on an arange."""
    x, y = node.inputs[0], node.result
    n = math.prod(shape_of(x))
    if n >= 1 << 52:
        raise CBackendError(f"node '{node.name}': tensor too large to index")
    probe = np.arange(n, dtype=np.float64).reshape(shape_of(x))
    others = [const_data(node, v, f"operand {i + 1}") for i, v in enumerate(node.inputs[1:])]
    out = np.asarray(evaluate(node.op, [probe, *others], node.attrs)[0])
    if out.shape != shape_of(y) or not np.all(np.isfinite(out)) or not np.array_equal(out, np.rint(out)) or (out.size and (out.min() < 0 or out.max() >= n)):
        raise CBackendError(f"node '{node.name}' ({node.op}): not a pure data movement the C copy kernel can express")
    return out.astype(np.int64)


def _factor(src: np.ndarray) -> tuple[int, list[np.ndarray]] | None:
    """``src[i_0, ..., i_n] == base + sum_k terms[k][i_k]``, if such per-axis terms exist."""
    nd = src.ndim
    base = int(src[(0,) * nd])
    terms = []
    for k in range(nd):
        index: list[Any] = [0] * nd
        index[k] = slice(None)
        terms.append(src[tuple(index)] - base)
    recon = np.full(src.shape, base, dtype=np.int64)
    for k, t in enumerate(terms):
        recon = recon + t.reshape([-1 if i == k else 1 for i in range(nd)])
    return (base, terms) if np.array_equal(recon, src) else None


def _gather_copy(b: StepBuilder, node: Node, src: np.ndarray) -> None:
    x, y = node.inputs[0], node.result
    shape = list(src.shape) or [1]
    src = src.reshape(shape)
    factored = _factor(src) if src.size else (0, [np.zeros(d, np.int64) for d in shape])
    if factored is None:
        if src.size > MAX_FULL_TABLE:
            raise CBackendError(f"node '{node.name}' ({node.op}): a non-separable gather of {src.size} elements is too large")
        copy_call(b, x, y, [src.size], [1], 0, [0], 0, [src.reshape(-1)])
        return
    base, terms = factored
    steps: list[int] = []
    tables: list[np.ndarray | None] = []
    for t in terms:
        step = int(t[1]) if t.size > 1 else 0
        if np.array_equal(t, np.arange(t.size, dtype=np.int64) * step):
            steps.append(step)
            tables.append(None)
        else:
            steps.append(0)
            tables.append(t)
    copy_call(b, x, y, shape, contiguous_strides(shape), 0, steps, base, tables)


@rule("transpose", "slice", "expand", "tile", "resize")
def lower_gather_like(b: StepBuilder, node: Node) -> None:
    """Ops that select input elements by a constant pattern: one copy with offset tables (what the
    integer op table says a resize may be is checked before any rule runs)."""
    x, y = node.inputs[0], node.result
    same_type(node, x, y)
    _gather_copy(b, node, _probe(node))


@rule("pad")
def lower_pad(b: StepBuilder, node: Node) -> None:
    x, y = node.inputs[0], node.result
    ctype, suffix, es = same_type(node, x, y)
    if node.attr("mode") != "constant":
        _gather_copy(b, node, _probe(node))
        return
    xs, ys = shape_of(x), shape_of(y)
    nd = len(xs)
    pads = node.attr("pads")
    # the pad value as the integer the reference writes (the float kernel on an empty-free probe)
    value = int(evaluate("pad", [np.zeros([1] * nd, dtype=x.type.dtype.numpy)], dict(node.attrs, pads=[1] + [0] * (2 * nd - 1)))[0].reshape(-1)[0])
    b.files("qcc_copy.c")
    b.call(f"qcc_fill_{suffix}", None, write(y), raw(math.prod(ys)), raw(value))
    kept = [xs[i] + min(pads[i], 0) + min(pads[i + nd], 0) for i in range(nd)]
    if math.prod(kept) == 0:
        return
    out_strides, in_strides = contiguous_strides(ys), contiguous_strides(xs)
    out_offset = sum(max(pads[i], 0) * out_strides[i] for i in range(nd))
    in_offset = sum(max(-pads[i], 0) * in_strides[i] for i in range(nd))
    copy_call(b, x, y, kept, out_strides, out_offset, in_strides, in_offset, [None] * nd)
    b.step.kernel = "qcc_fill+qcc_copy"


@rule("concat")
def lower_concat(b: StepBuilder, node: Node) -> None:
    y = node.result
    ys = shape_of(y)
    axis = int(node.attr("axis"))
    out_strides = contiguous_strides(ys)
    start = 0
    for x in node.inputs:
        same_type(node, x, y)
        xs = shape_of(x)
        copy_call(b, x, y, xs, out_strides, start * out_strides[axis], contiguous_strides(xs), 0, [None] * len(xs))
        start += xs[axis]


@rule("split")
def lower_split(b: StepBuilder, node: Node) -> None:
    x = node.inputs[0]
    xs = shape_of(x)
    axis = int(node.attr("axis"))
    in_strides = contiguous_strides(xs)
    start = 0
    for y in node.results:
        same_type(node, x, y)
        shape = shape_of(y)
        copy_call(b, x, y, shape, contiguous_strides(shape), 0, in_strides, start * in_strides[axis], [None] * len(xs))
        start += shape[axis]

