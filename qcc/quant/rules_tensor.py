"""Integer lowerings of data-movement ops: the result shares the input's parameters (a permutation
or selection of integers means the same reals), except concat, whose operands are requantized to
the output's parameters where they differ (docs/arithmetic.md §3.6). On the way to a graph output,
concat, reshape and transpose keep each joined part's parameters instead (§3.17,
``rules_output_joins``)."""

from __future__ import annotations

from qcc.arith.fixedpoint import quantize_real
from qcc.arith.params import activation_range
from qcc.ir.core import Node
from qcc.ir.types import TensorType
from qcc.quant.lowering import Lowerer, int_dtype, lowering
from qcc.quant.rules_accumulator import is_accumulator
from qcc.quant.rules_output_joins import carries_axis_params, keeps_part_params, lower_axis_movement, lower_output_concat

SHARED_PARAMETER_OPS = ("reshape", "transpose", "slice", "gather", "expand", "tile", "max_pool", "global_max_pool", "reduce_max")


@lowering(*SHARED_PARAMETER_OPS)
def lower_shared(lw: Lowerer, node: Node) -> None:
    if carries_axis_params(lw, node):
        lower_axis_movement(lw, node)
        return
    first = lw.operand(node.inputs[0])
    # an int32 accumulator on its way to a graph output (§3.20) moves unchanged; anything else at the node's width
    x = first if is_accumulator(first) else lw.operand(node.inputs[0], lw.settings_of(node).activation_bits)
    others = [lw.operand(v) for v in node.inputs[1:]]  # gather's indices stay integers
    lw.result(node.result, lw.add(node.op, [x, *others], node.attrs, name=node.result.name, quant=x.type.quant))


@lowering("split")
def lower_split(lw: Lowerer, node: Node) -> None:
    x = lw.operand(node.inputs[0], lw.settings_of(node).activation_bits)
    split = lw.dst.create_node("split", [x], node.attrs, names=[r.name for r in node.results])
    for float_result, q_result in zip(node.results, split.results):
        q_result.type = TensorType(q_result.type.dtype, q_result.type.shape, x.type.quant)
        lw.result(float_result, q_result)
    lw.dst.insert(split)


@lowering("pad")
def lower_pad(lw: Lowerer, node: Node) -> None:
    x = lw.operand(node.inputs[0], lw.settings_of(node).activation_bits)
    q = x.type.quant
    attrs = dict(node.attrs)
    if attrs["mode"] == "constant":
        pad_q = x.quant
        qmin, qmax = activation_range(pad_q.bits)
        attrs["value"] = float(quantize_real(attrs["value"], pad_q.scale_value(), pad_q.zero_point_value(), qmin, qmax))
    lw.result(node.result, lw.add("pad", [x], attrs, name=node.result.name, quant=q))


@lowering("concat")
def lower_concat(lw: Lowerer, node: Node) -> None:
    if keeps_part_params(lw, node):
        lower_output_concat(lw, node)
        return
    s = lw.settings_of(node)
    out_q = lw.qparams(node.result, s.activation_bits)
    operands = []
    for i, value in enumerate(node.inputs):
        x = lw.operand(value, s.activation_bits)
        if x.type.quant != out_q:
            x = lw.requantize(x, out_q, int_dtype(s.activation_bits), name=f"{node.result.name}_in{i}")
        operands.append(x)
    lw.result(node.result, lw.add("concat", operands, node.attrs, name=node.result.name, quant=out_q))
