"""Integer ops between two activations that are not sums or products: ``q.div``, ``q.max``,
``q.min`` and the two-input table ``q.lut2`` (pow with a non-constant exponent).

They live apart from ``quantized.py`` because they share one thing the others do not: two
activation operands with their own parameters that broadcast against each other. Their exact
arithmetic is docs/arithmetic.md §3.14-§3.16; every integer the kernels need is an attribute.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from qcc.ir.ops import Attr, define_op, fail
from qcc.ir.types import DType, TensorType
from qcc.ops.quantized import DTYPE, OUTPUT_STAGE, PER_TENSOR_REQUANT, check_int_operand, check_output_stage, float_result_shape

LUT2_SHAPE = (256, 256)
"""A two-input table holds every pair of int8 values: 64 KB."""

DIV_SHIFT_RANGE = (-16, 31)
"""q.div's shift: t = 31 - shift in [0, 47] keeps |b| * 2^t within int64 (§3.14)."""

_ZERO_POINTS = (Attr("a_zp", "int", 0, "zero point of a"), Attr("b_zp", "int", 0, "zero point of b"))


@define_op("q.div", ["a", "b"], [*_ZERO_POINTS, *PER_TENSOR_REQUANT, *OUTPUT_STAGE])
def _qdiv(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Integer Div with broadcasting (docs/arithmetic.md §3.14): (a - a_zp) * multiplier divided by
    (b - b_zp) * 2^(31 - shift), rounded half away from zero, + out_zp, clamped; a zero divisor
    saturates by the numerator's sign (0 / 0 gives out_zp)."""
    check_int_operand("q.div", *types)
    multiplier, shift = attrs["multiplier"], attrs["shift"]
    if multiplier != 0 and not DIV_SHIFT_RANGE[0] <= shift <= DIV_SHIFT_RANGE[1]:
        raise fail("q.div", f"shift={shift} must be in [{DIV_SHIFT_RANGE[0]}, {DIV_SHIFT_RANGE[1]}] (or multiplier 0)")
    if not 0 <= multiplier < 1 << 31:
        raise fail("q.div", f"multiplier={multiplier} must be in [0, 2^31)")
    return [TensorType(check_output_stage("q.div", attrs), float_result_shape("div", types, attrs, ()))]


_MAX_MIN_ATTRS = [
    Attr("a_zp", "int", 0, "zero point of a"),
    Attr("a_multiplier", "int", doc="rescale of a to the result's scale: s_a / s_out as Q31"),
    Attr("a_shift", "int", doc="power-of-two exponent of a's rescale"),
    Attr("b_zp", "int", 0, "zero point of b"),
    Attr("b_multiplier", "int", doc="rescale of b to the result's scale: s_b / s_out as Q31"),
    Attr("b_shift", "int", doc="power-of-two exponent of b's rescale"),
    *OUTPUT_STAGE,
]


def _max_min(op: str) -> None:
    def infer(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
        check_int_operand(op, *types)
        return [TensorType(check_output_stage(op, attrs), float_result_shape(op.removeprefix("q."), types, attrs, ()))]

    word = "larger" if op == "q.max" else "smaller"
    infer.__doc__ = (f"Integer {op.removeprefix('q.').capitalize()} with broadcasting (docs/arithmetic.md §3.15): each operand is "
                     f"requantized to the result's parameters (the q.requantize rule, clamped), then the {word} is taken.")
    infer.__name__ = infer.__qualname__ = f"infer_{op.replace('.', '_')}"
    define_op(op, ["a", "b"], _MAX_MIN_ATTRS)(infer)


_max_min("q.max")
_max_min("q.min")


@define_op("q.lut2", ["a", "b"], [Attr("table", "tensor", doc="i8[256, 256]: result for (a + 128, b + 128)"), DTYPE])
def _qlut2(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Two-input lookup with broadcasting (docs/arithmetic.md §3.16): out = table[a + 128, b + 128].
    Any function of two int8 activations (pow with a non-constant exponent) is exact this way."""
    a, b = types
    table = attrs["table"].array
    if a.dtype is not DType.I8 or b.dtype is not DType.I8:
        raise fail("q.lut2", f"operands {a} and {b} must be i8 (an i16 pair would need a table of 2^32 entries)")
    if table.dtype != np.int8 or tuple(table.shape) != LUT2_SHAPE:
        raise fail("q.lut2", f"table must be i8{list(LUT2_SHAPE)}, got {table.dtype}{list(table.shape)}")
    if attrs["dtype"] is not DType.I8:
        raise fail("q.lut2", "result must be i8")
    return [TensorType(DType.I8, float_result_shape("max", types, attrs, ()))]
