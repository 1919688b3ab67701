"""Integer lowering of a conv/gemm whose result leaves the graph as its int32 accumulator
(``outputs=accumulator``, docs/arithmetic.md §3.20; which nodes qualify: ``accumulator_outputs``).

The weight-layer lowering of ``rules_nn`` quantizes weights and bias as usual and hands over here:
the result is ``i32`` with scale alpha * s_x * s_w[c] per output channel and zero point 0, and a
fused clamp becomes per-channel integer bounds on the accumulator. No multiplier, no shift.
"""

from __future__ import annotations

import math

import numpy as np

from qcc.arith.fixedpoint import INT32_MAX, INT32_MIN
from qcc.ir.core import Node, Value
from qcc.ir.ops import Tensor
from qcc.quant.accumulator_outputs import channel_axis
from qcc.quant.lowering import Lowerer
from qcc.quant.output_joins import from_entries

ACCUMULATOR_BITS = 32


def is_accumulator(value: Value) -> bool:
    """Whether an integer value holds an int32 accumulator (its parameters say 32 bits)."""
    return value.type.quant is not None and value.type.quant.bits == ACCUMULATOR_BITS


def returns_accumulator(lw: Lowerer, node: Node, acc_bits: int) -> bool:
    """Whether ``node`` is lowered to q.conv_acc / q.gemm_acc: the scheme asks for accumulator
    outputs, only the float boundary reads the result, and the accumulator is int32 (an int64 one,
    from int16 activations, is requantized as before and the pass notes it)."""
    if id(node) not in lw.accumulator_nodes:
        return False
    if acc_bits != ACCUMULATOR_BITS:
        lw.notes.append(f"quantize: '{node.name}' needs an int64 accumulator; its graph output stays on the activation grid")
        return False
    return True


def accumulator_bounds(scales: np.ndarray, clamp: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Per channel, the accumulator range a fused clamp [lo, hi] allows: ceil(lo / s_c) and
    floor(hi / s_c) in float64, within int32 (an infinite bound is the int32 limit)."""
    lo, hi = clamp
    acc_min = np.full(scales.shape, INT32_MIN, np.int64)
    acc_max = np.full(scales.shape, INT32_MAX, np.int64)
    if lo != -math.inf:
        acc_min = np.clip(np.ceil(lo / scales), INT32_MIN, INT32_MAX).astype(np.int64)
    if hi != math.inf:
        acc_max = np.clip(np.floor(hi / scales), INT32_MIN, INT32_MAX).astype(np.int64)
    return acc_min, np.maximum(acc_max, acc_min)


def lower_accumulator_output(lw: Lowerer, node: Node, float_op: str, operands: list[Value], real_scales: np.ndarray, attrs: dict) -> None:
    """Emit q.<float_op>_acc: ``real_scales`` holds alpha * s_x * s_w[c] per output channel."""
    axis = channel_axis(node)
    out_q = from_entries([(float(s), 0) for s in real_scales], axis, ACCUMULATOR_BITS)
    acc_min, acc_max = accumulator_bounds(real_scales, (node.attr("act_min"), node.attr("act_max")))
    attrs = dict(attrs, in_zp=operands[0].quant.zero_point_value(),
                 acc_min=Tensor(acc_min.astype(np.int32)), acc_max=Tensor(acc_max.astype(np.int32)))
    lw.result(node.result, lw.add(f"q.{float_op}_acc", operands, attrs, name=node.result.name, quant=out_q))
