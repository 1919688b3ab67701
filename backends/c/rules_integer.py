"""Lowering rules for integer data the model takes as it is (docs/arithmetic.md §3.18):
``q.from_int`` (integer data to an activation), the gather whose indices arrive at run time
(an embedding lookup by token or byte values) and the clamp of such indices. The kernels live in
``qcc_integer.c``."""

from __future__ import annotations

import math

from qcc.arith.fixedpoint import INT32_MAX, INT32_MIN
from qcc.backends.c.rules_movement import lower_gather_like
from qcc.backends.c.steps import (
    ROUNDING,
    CBackendError,
    StepBuilder,
    activation_info,
    read,
    rule,
    same_type,
    shape_of,
    write,
)
from qcc.ir.core import Node, Value
from qcc.ir.types import DType
from qcc.ops.quantized import RAW_INT_DTYPES

PLAIN_KINDS = {DType.BOOL: 0, DType.U8: 0, DType.I8: 1, DType.I16: 2, DType.I32: 3, DType.I64: 4}
"""The QCC_PLAIN_* kind of each integer element type (qcc_kernels.h)."""


def _plain_kind(node: Node, v: Value) -> int:
    if v.type.quant is not None or v.type.dtype not in RAW_INT_DTYPES:
        raise CBackendError(f"node '{node.name}' ({node.op}): operand '{v.name}' ({v.type}) must be plain integer data")
    return PLAIN_KINDS[v.type.dtype]


def is_plain_data(v: Value) -> bool:
    """Integer data without quantization parameters (its values are the reals)."""
    return v.type.quant is None and v.type.dtype in RAW_INT_DTYPES


def lower_plain_clip(b: StepBuilder, node: Node, lo: int, hi: int) -> None:
    """Clip of plain integer data (an index clamped before a gather); called by the clip rule."""
    x, y = node.inputs[0], node.result
    if not INT32_MIN <= lo <= INT32_MAX or not INT32_MIN <= hi <= INT32_MAX:
        raise CBackendError(f"node '{node.name}' (clip): bounds [{lo}, {hi}] of {x.type.dtype} data exceed int32")
    fields = {"count": math.prod(shape_of(x)), "kind": _plain_kind(node, x), "lo": lo, "hi": hi}
    b.files("qcc_integer.c")
    b.step.inplace = (0,)
    b.call("qcc_clip_plain", b.struct("qcc_clip_plain_t", "clip", fields), read(x), write(y))


@rule("q.from_int")
def lower_from_int(b: StepBuilder, node: Node) -> None:
    x, y = node.inputs[0], node.result
    _, _, out_size = activation_info(y, f"node '{node.name}'")
    a = node.attrs
    fields = {"count": math.prod(shape_of(x)), "in_kind": _plain_kind(node, x), "in_min": a["in_min"], "in_max": a["in_max"],
              "multiplier": a["multiplier"], "shift": a["shift"], "rounding": ROUNDING[a["rounding"]], "out_zp": a["out_zp"],
              "qmin": a["qmin"], "qmax": a["qmax"], "out_size": out_size}
    b.files("qcc_integer.c")
    b.call("qcc_from_int", b.struct("qcc_from_int_t", "from_int", fields), read(x), write(y))


@rule("gather")
def lower_gather(b: StepBuilder, node: Node) -> None:
    """Constant indices: a copy with an offset table; indices known only at run time: a row gather."""
    if node.inputs[1].is_const:
        lower_gather_like(b, node)
    else:
        lower_runtime_gather(b, node)


def lower_runtime_gather(b: StepBuilder, node: Node) -> None:
    """Gather of an activation (a constant table or a computed tensor) by run-time indices."""
    data, indices = node.inputs
    y = node.result
    _, _, elem_size = same_type(node, data, y)
    ds = shape_of(data)
    axis = int(node.attr("axis"))
    fields = {"outer": math.prod(ds[:axis]), "axis_len": ds[axis], "count": math.prod(shape_of(indices)),
              "inner": math.prod(ds[axis + 1:]), "elem_size": elem_size, "index_kind": _plain_kind(node, indices)}
    b.files("qcc_integer.c")
    b.call("qcc_gather_rows", b.struct("qcc_gather_t", "gather", fields), read(data), read(indices), write(y))
