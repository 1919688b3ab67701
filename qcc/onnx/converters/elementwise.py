"""Converters of ONNX element-wise ops.

Most ONNX element-wise ops map one-to-one onto an IR op whose attributes carry the ONNX names and
defaults, so a table from ONNX op type to IR op does the work; only the ops whose operands or
arity differ (Clip's bounds, the N-ary Sum/Max/Min/Mean, Where) have converters of their own.
Since opset 9 (the oldest qcc imports) none of these ops changed an attribute into an input
except Clip (opset 11).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from qcc.ir.core import Value
from qcc.ir.ops import FUSED_CLAMP, get_op
from qcc.onnx.converters import NodeContext, converter

# ONNX op type -> IR op, for ops that take their operands as they are and whose attributes the IR
# op declares under the same names with the same defaults.
DIRECT: dict[str, str] = {
    # unary
    "Relu": "relu",
    "LeakyRelu": "leaky_relu",
    "Sigmoid": "sigmoid",
    "HardSigmoid": "hard_sigmoid",
    "HardSwish": "hard_swish",
    "Tanh": "tanh",
    "Erf": "erf",
    "Gelu": "gelu",
    "Elu": "elu",
    "Selu": "selu",
    "Celu": "celu",
    "ThresholdedRelu": "thresholded_relu",
    "Softplus": "softplus",
    "Softsign": "softsign",
    "Mish": "mish",
    "Sqrt": "sqrt",
    "Exp": "exp",
    "Log": "log",
    "Reciprocal": "reciprocal",
    "Neg": "neg",
    "Abs": "abs",
    "Sign": "sign",
    "Floor": "floor",
    "Ceil": "ceil",
    "Round": "round",
    "Not": "not",
    # binary, broadcasting
    "Add": "add",
    "Sub": "sub",
    "Mul": "mul",
    "Div": "div",
    "Pow": "pow",
    "PRelu": "prelu",
    "Equal": "equal",
    "Greater": "greater",
    "Less": "less",
    "GreaterOrEqual": "greater_or_equal",
    "LessOrEqual": "less_or_equal",
    "And": "and",
    "Or": "or",
    "Xor": "xor",
}

# Attributes whose values qcc restricts (the IR op would accept any string).
_CHOICES: dict[tuple[str, str], tuple[str, ...]] = {("Gelu", "approximate"): ("none", "tanh")}

# N-ary ONNX ops that fold their operands left to right with a binary IR op.
VARIADIC: dict[str, str] = {"Sum": "add", "Max": "max", "Min": "min", "Mean": "add"}


@converter(*DIRECT)
def direct(ctx: NodeContext) -> Sequence[Value]:
    """The IR op of the table, with the ONNX attributes it declares (absent ones: its defaults,
    which are ONNX's)."""
    op_type = ctx.proto.op_type
    ir_op = DIRECT[op_type]
    attrs: dict[str, Any] = {}
    for spec in get_op(ir_op).attrs:
        if spec in FUSED_CLAMP:
            continue  # set by fuse-activation, never by ONNX
        choices = _CHOICES.get((op_type, spec.name))
        value = ctx.check_attr_in(spec.name, choices, spec.default) if choices else ctx.attr(spec.name)
        if value is not None:
            attrs[spec.name] = value
    return [ctx.emit(ir_op, ctx.inputs(), attrs)]


@converter("Clip")
def clip(ctx: NodeContext) -> Sequence[Value]:
    """Constant bounds become clip{min, max} (what fuse-activation folds into producers); bounds
    computed at run time become max/min ops."""
    x = ctx.input(0)
    if ctx.opset < 11:
        return [ctx.emit("clip", [x], {"min": ctx.attr("min", -np.inf), "max": ctx.attr("max", np.inf)})]
    lo, hi = ctx.optional_input(1), ctx.optional_input(2)
    if lo is None and hi is None:
        return [x]  # no bounds: the identity
    # Apply the lower bound before the upper one: when min > max the result is max (ONNX).
    steps: list[tuple[str, list[Value], dict[str, float]]] = []
    if lo is not None and not lo.is_const:
        steps.append(("max", [_scalar(ctx, lo, x, "min")], {}))
    consts = {key: _scalar(ctx, b, x, key) for key, b in (("min", lo), ("max", hi)) if b is not None and b.is_const}
    if consts:
        steps.append(("clip", [], {key: float(b.const_array.reshape(-1)[0]) for key, b in consts.items()}))
    if hi is not None and not hi.is_const:
        steps.append(("min", [_scalar(ctx, hi, x, "max")], {}))
    y = x
    for i, (op, extra, attrs) in enumerate(steps):
        y = ctx.emit(op, [y, *extra], attrs, name=None if i == len(steps) - 1 else f"{ctx.name}_{op}")
    return [y]


def _scalar(ctx: NodeContext, bound: Value, x: Value, key: str) -> Value:
    """A Clip bound, checked to be one element (that, at run time, leaves x's shape alone)."""
    if bound.type.size != 1 or (not bound.is_const and bound.type.rank > x.type.rank):
        raise ctx.unsupported(f"'{key}' must be a scalar, got shape {list(bound.type.shape)}")
    return bound


@converter(*VARIADIC)
def variadic(ctx: NodeContext) -> Sequence[Value]:
    """A left fold with the binary op (one operand: the operand itself); Mean divides the sum by
    the operand count."""
    operands = ctx.inputs()
    if not operands:
        raise ctx.unsupported("no operands")
    op_type = ctx.proto.op_type
    ir_op = VARIADIC[op_type]
    is_mean = op_type == "Mean"
    acc = operands[0]
    for i, operand in enumerate(operands[1:], start=1):
        last = i == len(operands) - 1 and not is_mean
        acc = ctx.emit(ir_op, [acc, operand], name=None if last else f"{ctx.name}_partial")
    if is_mean and len(operands) > 1:
        count = ctx.const(np.array(len(operands), dtype=acc.type.dtype.numpy), f"{ctx.name}_count")
        acc = ctx.emit("div", [acc, count])
    return [acc]


@converter("Where")
def where(ctx: NodeContext) -> Sequence[Value]:
    return [ctx.emit("where", [ctx.input(0), ctx.input(1), ctx.input(2)])]
