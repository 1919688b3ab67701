"""The integer data path of the quantize pass (docs/arithmetic.md §3.18).

A graph input of integer type (byte values, token ids, indices) holds exact values, not a range to
quantize: it keeps its type, ops that only compute on such data (reshape, gather, comparisons,
integer casts) are kept as they are, and a float Cast of it becomes ``q.from_int``, the first
integer op that produces an activation with the Cast's calibrated parameters. A float op that
merely takes integer data as indices (a gather of an embedding table) is left to its own rule,
which receives the indices unchanged from ``Lowerer.operand``.
"""

from __future__ import annotations

import math

from qcc.arith.fixedpoint import INT32_MAX, INT32_MIN
from qcc.arith.params import activation_range
from qcc.ir.core import Node
from qcc.ops.integer import integer_op
from qcc.quant.lowering import DATA_PATHS, Lowerer, NoLowering, int_dtype


def lower_plain_integer(lw: Lowerer, node: Node) -> bool:
    """Lower ``node`` if it computes on plain integer data; False leaves it to the float rules."""
    if not any(lw.is_plain(v) for v in node.inputs):
        return False
    if all(not r.type.dtype.is_float for r in node.results):
        _keep(lw, node)
        return True
    if node.op == "cast":
        _from_int(lw, node)
        return True
    return False


def _keep(lw: Lowerer, node: Node) -> None:
    """An op on integer data runs as it is, in the integer reference and the C code alike."""
    spec = integer_op(node.op)
    if spec is None or spec.kind not in ("plain", "movement"):
        raise NoLowering(f"node '{node.name}' ({node.op}) computes on integer data and has no integer lowering")
    reason = spec.unsupported(node)
    if reason is not None:
        raise NoLowering(f"node '{node.name}' ({node.op}): {reason}")
    for v in node.inputs:
        if v.type.dtype.is_float and not v.is_const:
            raise NoLowering(f"node '{node.name}' ({node.op}) mixes integer data with the float activation '{v.name}'")
    operands = [lw.operand(v) for v in node.inputs]
    kept = lw.dst.create_node(node.op, operands, node.attrs, names=[r.name for r in node.results])
    lw.dst.insert(kept)
    for float_result, int_result in zip(node.results, kept.results):
        lw.record_plain(float_result, int_result)


def _from_int(lw: Lowerer, node: Node) -> None:
    """Cast of integer data to float: q.from_int to the Cast result's calibrated parameters.
    The input clamp keeps exactly the integers whose reals the output can represent (one step
    beyond each end), so it changes no result and bounds the rescale's operand (§1.3)."""
    x = lw.operand(node.inputs[0])
    bits = lw.settings_of(node).activation_bits
    out = lw.qparams(node.result, bits)
    scale, zp = out.scale_value(), out.zero_point_value()
    qmin, qmax = activation_range(bits)
    in_min = max(INT32_MIN, math.floor(scale * (qmin - zp)) - 1)
    in_max = min(INT32_MAX, math.ceil(scale * (qmax - zp)) + 1)
    multiplier, shift = lw.multiplier(1.0 / scale, bound=max(abs(in_min), abs(in_max)))
    attrs = dict(in_min=in_min, in_max=in_max, multiplier=multiplier, shift=shift, out_zp=zp, qmin=qmin, qmax=qmax,
                 rounding=lw.rounding, dtype=int_dtype(bits))
    lw.result(node.result, lw.add("q.from_int", [x], attrs, name=node.result.name, quant=out))


DATA_PATHS.append(lower_plain_integer)
