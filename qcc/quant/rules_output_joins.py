"""Integer lowerings of concat, reshape and transpose on the way to a graph output, where each
joined part keeps its own parameters (docs/arithmetic.md §3.17; the rule's algebra is in
``output_joins``).

The concat lowering of ``rules_tensor`` hands over an output-bound concat; reshape and transpose
hand over an operand that already carries per-axis parameters. Parts are moved, never
requantized, except where two joins along different axes meet (a per-index requantize to the
union of the parts' ranges) or where a reshape dissolves the axis (a requantize to one scale).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from qcc.arith.params import activation_range
from qcc.errors import PipelineError
from qcc.ir.core import Node, Value
from qcc.ir.ops import Tensor
from qcc.ir.types import QuantParams
from qcc.quant.lowering import Lowerer, int_dtype
from qcc.quant.output_joins import (
    common_axis,
    entries,
    from_entries,
    joined_params,
    per_tensor_union,
    reshaped_axis,
    transposed_axis,
    union_entries,
)


def keeps_part_params(lw: Lowerer, node: Node) -> bool:
    """Whether the concat ``node`` joins parts on their way to a graph output."""
    return id(node.result) in lw.output_bound


def carries_axis_params(lw: Lowerer, node: Node) -> bool:
    """Whether the reshape/transpose ``node`` moves a tensor with per-axis activation parameters."""
    if node.op not in ("reshape", "transpose"):
        return False
    q = lw.operand(node.inputs[0]).type.quant
    return q is not None and q.axis is not None


def lower_output_concat(lw: Lowerer, node: Node) -> None:
    bits = lw.settings_of(node).activation_bits
    axis = node.attr("axis")
    parts = [_part(lw, value, bits) for value in node.inputs]
    qs = [p.quant for p in parts]
    shared = common_axis(qs)
    if shared is None or shared == axis:  # each index along the joined axis keeps its part's entry
        extents = [int(p.type.shape[axis]) for p in parts]
        lw.result(node.result, lw.add("concat", parts, node.attrs, name=node.result.name, quant=joined_params(qs, extents, axis, bits)))
        return
    if isinstance(shared, str):  # "mixed"
        every = [e for p in parts for e in entries(p.quant, _length(p))]
        scale, zero_point = union_entries([[e] for e in every], bits)[0]
        out_q = QuantParams(scale, zero_point, None, bits)
        lw.notes.append(f"quantize: concat '{node.name}' joins parts with per-axis parameters along different axes; one scale for its result")
    else:  # a join along another axis: per index along the shared axis, the union of the parts' ranges
        length = node.result.type.static_shape[shared]
        out_q = from_entries(union_entries([entries(q, length) for q in qs], bits), shared, bits)
    operands = [part if part.type.quant == out_q else requantize_to(lw, part, out_q, f"{node.result.name}_in{i}") for i, part in enumerate(parts)]
    lw.result(node.result, lw.add("concat", operands, node.attrs, name=node.result.name, quant=out_q))


def lower_axis_movement(lw: Lowerer, node: Node) -> None:
    """Reshape or transpose of a per-axis tensor: the axis moves with the data when it survives as
    one whole axis, else the tensor is first requantized to one scale (and a note says so)."""
    x = lw.operand(node.inputs[0])
    q = x.quant
    if q.axis is None:
        raise PipelineError(f"node '{node.name}': lowered as a per-axis movement but its operand is per-tensor")
    if node.op == "transpose":
        new_axis: int | None = transposed_axis(node.attr("perm"), q.axis)
    else:
        new_axis = reshaped_axis(x.type.static_shape, node.result.type.static_shape, q.axis)
    if new_axis is None:
        lw.notes.append(f"quantize: reshape '{node.name}' merges or splits axis {q.axis} of its joined operand; one scale for its result")
        x = requantize_to(lw, x, per_tensor_union(q), f"{node.result.name}_single")
        out_q = x.type.quant
    else:
        out_q = replace(q, axis=new_axis)
    others = [lw.operand(v) for v in node.inputs[1:]]
    lw.result(node.result, lw.add(node.op, [x, *others], node.attrs, name=node.result.name, quant=out_q))


def requantize_to(lw: Lowerer, x: Value, out_q: QuantParams, name: str) -> Value:
    """``x`` moved to ``out_q``: q.requantize between per-tensor parameters, q.requantize_axis
    (one multiplier per index) when either side is per-axis."""
    in_q = x.quant
    if in_q.axis is None and out_q.axis is None:
        return lw.requantize(x, out_q, int_dtype(out_q.bits), name=name)
    axis = in_q.axis if in_q.axis is not None else out_q.axis
    if axis is None:  # unreachable: the per-tensor pair returned above; tells the type checker so
        raise PipelineError(f"requantize of '{x.name}': neither side is per-axis")
    length = x.type.static_shape[axis]
    sources, targets = entries(in_q, length), entries(out_q, length)
    reals = np.array([s / t for (s, _), (t, _) in zip(sources, targets)], dtype=np.float64)
    multiplier, shift = lw.multipliers(reals, bound=max(abs(v) for v in activation_range(in_q.bits)) * 2)
    qmin, qmax = activation_range(out_q.bits)
    attrs = dict(
        axis=axis,
        in_zp=Tensor(np.array([z for _, z in sources], dtype=np.int32)),
        multiplier=multiplier,
        shift=shift,
        out_zp=Tensor(np.array([z for _, z in targets], dtype=np.int32)),
        qmin=qmin, qmax=qmax, rounding=lw.rounding, dtype=int_dtype(out_q.bits),
    )
    return lw.add("q.requantize_axis", [x], attrs, name=name, quant=out_q)


def _part(lw: Lowerer, value: Value, bits: int) -> Value:
    """A concat operand at ``bits``; a per-axis operand (an inner join) is taken as it is."""
    current = lw.operand(value)
    q = current.type.quant
    if q is not None and q.axis is not None:
        if q.bits != bits:
            raise PipelineError(f"node '{lw.where}': a joined output part has {q.bits}-bit parameters, the concat {bits}-bit; give both the same acts")
        return current
    return lw.operand(value, bits)


def _length(x: Value) -> int:
    q = x.type.quant
    return x.type.static_shape[q.axis] if q is not None and q.axis is not None else 1
