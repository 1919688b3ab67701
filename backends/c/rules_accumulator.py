"""C lowering of the layers that return their int32 accumulator (``q.conv_acc``, ``q.gemm_acc``;
docs/arithmetic.md §3.20): the portable loops of ``csrc/qcc_accumulator.c``, which write int32
results. Only graph outputs take this form, so the fast int8 paths are not needed here."""

from __future__ import annotations

from typing import Any

import numpy as np

from qcc.backends.c.carrays import Raw
from qcc.backends.c.rules_compute import conv_geometry, weight_fields
from qcc.backends.c.steps import CBackendError, StepBuilder, const_data, int_array, read, rule, shape_of, write
from qcc.ir.core import Node
from qcc.ir.types import DType

ACCUMULATOR_SOURCES = ("qcc_accumulator.c", "qcc_int4.h")


def _check_types(node: Node) -> None:
    if node.inputs[0].type.dtype is not DType.I8 or node.result.type.dtype is not DType.I32:
        got = f"{node.inputs[0].type.dtype} -> {node.result.type.dtype}"
        raise CBackendError(f"node '{node.name}' ({node.op}): the C kernel takes an i8 input and writes i32, got {got}")


def _bounds(b: StepBuilder, node: Node, channels: int) -> dict[str, Any]:
    lo, hi = int_array(node.attrs["acc_min"]), int_array(node.attrs["acc_max"])
    if lo.size != channels or hi.size != channels:
        raise CBackendError(f"node '{node.name}': {lo.size} accumulator bounds for {channels} output channels")
    return {"acc_min": b.array("acc_min", lo, np.int32), "acc_max": b.array("acc_max", hi, np.int32)}


def _bias(b: StepBuilder, node: Node, channels: int) -> Raw:
    if len(node.inputs) <= 2:
        return Raw("NULL")
    return b.array("bias", np.broadcast_to(const_data(node, node.inputs[2], "bias").reshape(-1), (channels,)), np.int32)


@rule("q.conv_acc")
def lower_conv_acc(b: StepBuilder, node: Node) -> None:
    _check_types(node)
    geo = conv_geometry(node, False)
    if len(shape_of(node.inputs[0])) - 2 > 3:
        raise CBackendError(f"node '{node.name}' (q.conv_acc): the C kernel takes 1 to 3 spatial axes")
    weight = const_data(node, node.inputs[1], "weight").astype(np.int64)
    conv = dict(geo, **weight_fields(b, node, weight), bias=_bias(b, node, geo["out_c"]), k_stride=0, rows_per_group=0, tile=0)
    b.files(*ACCUMULATOR_SOURCES)
    params = b.struct("qcc_conv_acc_t", "conv_acc", {"conv": conv, **_bounds(b, node, geo["out_c"])})
    b.call("qcc_conv_acc_s8", params, read(node.inputs[0]), write(node.result))


@rule("q.gemm_acc")
def lower_gemm_acc(b: StepBuilder, node: Node) -> None:
    _check_types(node)
    x, a = node.inputs[0], node.attrs
    xs = shape_of(x)
    weight = const_data(node, node.inputs[1], "weight").astype(np.int64)
    wt = weight if a["trans_b"] else weight.T  # [n, k]
    m, n = shape_of(node.result)
    k = wt.shape[1]
    row, col = (1, xs[1]) if a["trans_a"] else (xs[1], 1)
    fc = {"m": m, "n": n, "k": k, "a_row_stride": row, "a_col_stride": col, "in_zp": int(a["in_zp"]),
          **weight_fields(b, node, wt), "bias": _bias(b, node, n), "k_stride": k, "n_rows": n}
    b.files(*ACCUMULATOR_SOURCES)
    b.call("qcc_fc_acc_s8", b.struct("qcc_fc_acc_t", "fc_acc", {"fc": fc, **_bounds(b, node, n)}), read(x), write(node.result))
