"""Integer lowerings of the binary ops between two activations that are neither sums nor
products: div, max, min (fixed-point rules) and pow (a two-input table), docs/arithmetic.md
§3.14-§3.16. A constant operand is quantized with its own range, like any constant operand."""

from __future__ import annotations

import numpy as np

from qcc.arith.fixedpoint import INT32_MAX, quantize_multiplier, quantize_real
from qcc.arith.params import activation_range
from qcc.interp.interpreter import evaluate
from qcc.ir.core import Node, Value
from qcc.ir.ops import Tensor
from qcc.ir.types import DType, QuantParams
from qcc.ops.quantized_binary import DIV_SHIFT_RANGE
from qcc.quant.lowering import Lowerer, NoLowering, int_dtype, lowering


def _operands(lw: Lowerer, node: Node) -> tuple[int, Value, Value, QuantParams]:
    """Activation width, both integer operands at that width, and the result's parameters."""
    bits = lw.settings_of(node).activation_bits
    a, b = (lw.operand(v, bits) for v in node.inputs)
    return bits, a, b, lw.qparams(node.result, bits)


def _scale(v: Value) -> float:
    return v.quant.scale_value()


def _zp(v: Value) -> int:
    return v.quant.zero_point_value()


def _output_stage(lw: Lowerer, out_q: QuantParams, bits: int) -> dict[str, object]:
    qmin, qmax = lw.clamp_bounds(out_q, None)
    return dict(out_zp=out_q.zero_point_value(), qmin=qmin, qmax=qmax, rounding=lw.rounding, dtype=int_dtype(bits))


def div_multiplier(real: float) -> tuple[int, int]:
    """(multiplier, shift) of s_a / (s_b s_out) for q.div (§3.14): below 2^-17 it is flushed to
    (0, 0), where every quotient rounds to 0 anyway; from 2^31 on it is capped at (2^31 - 1, 31),
    where every non-zero quotient saturates anyway."""
    m, sh = quantize_multiplier(real)
    if sh < DIV_SHIFT_RANGE[0]:
        return 0, 0
    if sh > DIV_SHIFT_RANGE[1]:
        return INT32_MAX, DIV_SHIFT_RANGE[1]
    return m, sh


@lowering("div")
def lower_div(lw: Lowerer, node: Node) -> None:
    bits, a, b, out_q = _operands(lw, node)
    m, sh = div_multiplier(_scale(a) / (_scale(b) * out_q.scale_value()))
    attrs = dict(a_zp=_zp(a), b_zp=_zp(b), multiplier=m, shift=sh, **_output_stage(lw, out_q, bits))
    lw.result(node.result, lw.add("q.div", [a, b], attrs, name=node.result.name, quant=out_q))


@lowering("max", "min")
def lower_max_min(lw: Lowerer, node: Node) -> None:
    """Both operands rescaled to the result's parameters by the q.requantize rule, then compared."""
    bits, a, b, out_q = _operands(lw, node)
    s_out = out_q.scale_value()
    m_a, sh_a = lw.multiplier(_scale(a) / s_out, bound=lw.max_centered(a))
    m_b, sh_b = lw.multiplier(_scale(b) / s_out, bound=lw.max_centered(b))
    attrs = dict(a_zp=_zp(a), a_multiplier=m_a, a_shift=sh_a, b_zp=_zp(b), b_multiplier=m_b, b_shift=sh_b, **_output_stage(lw, out_q, bits))
    lw.result(node.result, lw.add(f"q.{node.op}", [a, b], attrs, name=node.result.name, quant=out_q))


def binary_table(node: Node, a: QuantParams, b: QuantParams, out: QuantParams) -> np.ndarray:
    """The int8 [256, 256] table of a float binary op over every pair of int8 operands (§3.16),
    computed by the float interpreter's own kernel; NaN entries are a real 0."""
    q = np.arange(-128, 128, dtype=np.float64)
    x = ((q - a.zero_point_value()) * a.scale_value())[:, None]
    y = ((q - b.zero_point_value()) * b.scale_value())[None, :]
    with np.errstate(all="ignore"):
        real = np.asarray(evaluate(node.op, [x, y], node.attrs)[0], dtype=np.float64)
    real = np.where(np.isnan(real), 0.0, real)
    qmin, qmax = activation_range(8)
    return quantize_real(real, out.scale_value(), out.zero_point_value(), qmin, qmax, dtype=np.float64).astype(np.int8)


@lowering("pow")
def lower_pow(lw: Lowerer, node: Node) -> None:
    bits, a, b, out_q = _operands(lw, node)
    if bits != 8:
        raise NoLowering(
            f"node '{node.name}' (pow): int{bits} operands are not supported (a two-input table would need 2^32 entries); use 8-bit activations for it"
        )
    if not lw.settings.target.lut:
        raise NoLowering(f"node '{node.name}' (pow) needs a 64 KB two-input table and target '{lw.settings.target.name}' has no tables")
    table = binary_table(node, a.quant, b.quant, out_q)
    lw.result(node.result, lw.add("q.lut2", [a, b], {"table": Tensor(table), "dtype": DType.I8}, name=node.result.name, quant=out_q))
