"""Integer ops whose result is the int32 accumulator itself: ``q.conv_acc`` and ``q.gemm_acc``.

With the scheme's ``outputs=accumulator`` a conv/gemm whose result only reaches a graph output is
not requantized: acc = bias + sum (x - in_zp) * w is already the exact integer result, real value
acc * s_x * s_w[c], so no calibrated output range can clip it (docs/arithmetic.md §3.20). A fused
clamp survives as integer bounds per output channel.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from qcc.arith.fixedpoint import INT32_MAX, INT32_MIN
from qcc.ir.ops import Attr, define_op, fail, get_op
from qcc.ir.types import DType, TensorType
from qcc.ops.quantized import IN_ZP, check_int_operand, float_result_shape

ACC_BOUNDS = (
    Attr("acc_min", "tensor", doc="i32 per output channel: lowest accumulator (ceil(lo / s_c) of a fused clamp, else INT32_MIN)"),
    Attr("acc_max", "tensor", doc="i32 per output channel: highest accumulator (floor(hi / s_c), else INT32_MAX)"),
)
_WINDOW = ("strides", "pads", "dilations", "group")


def check_bounds(op: str, attrs: Mapping[str, Any], channels: Any) -> None:
    """One int32 bound pair per output channel, lo <= hi."""
    lo, hi = (np.asarray(attrs[k].array) for k in ("acc_min", "acc_max"))
    if lo.shape != hi.shape or lo.ndim != 1 or (isinstance(channels, int) and lo.size != channels):
        raise fail(op, f"acc_min / acc_max must both have one entry per output channel ({channels}), got {lo.shape} and {hi.shape}")
    if lo.size and (lo.min() < INT32_MIN or hi.max() > INT32_MAX or np.any(lo > hi)):
        raise fail(op, "acc_min / acc_max must be int32 with acc_min <= acc_max in every channel")


@define_op("q.conv_acc", ["x", "w", "bias"], [*(get_op("conv").attr_index[k] for k in _WINDOW), IN_ZP, *ACC_BOUNDS], optional=1)
def _qconv_acc(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Integer convolution returning its accumulator: acc = bias + sum (x - in_zp) * w (int32,
    proven by the quantize pass), clamped per output channel to [acc_min[c], acc_max[c]]."""
    check_int_operand("q.conv_acc", *types)
    shape = float_result_shape("conv", types, attrs, _WINDOW)
    check_bounds("q.conv_acc", attrs, shape[1])
    return [TensorType(DType.I32, shape)]


@define_op(
    "q.gemm_acc",
    ["a", "b", "bias"],
    [Attr("trans_a", "bool", False, "use a transposed"), Attr("trans_b", "bool", False, "use b transposed"), IN_ZP, *ACC_BOUNDS],
    optional=1,
)
def _qgemm_acc(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Integer Gemm with a constant weight returning its accumulator: acc = bias + (a - in_zp) @ op(b),
    clamped per output column to [acc_min[j], acc_max[j]]."""
    check_int_operand("q.gemm_acc", *types)
    shape = float_result_shape("gemm", types[:2], attrs, ("trans_a", "trans_b"))
    check_bounds("q.gemm_acc", attrs, shape[-1])
    return [TensorType(DType.I32, shape)]
