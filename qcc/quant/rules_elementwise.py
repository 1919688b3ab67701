"""Integer lowerings of element-wise ops: add/sub/mul of two tensors, standalone ReLU/Clip, and the
unary non-linearities, which become lookup tables (docs/arithmetic.md §3.7)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from qcc.arith.fixedpoint import add_left_shift, add_rescale
from qcc.arith.lut import build_lut_int8, build_lut_int16
from qcc.arith.params import activation_range
from qcc.interp.interpreter import evaluate
from qcc.ir.core import Node
from qcc.quant.lowering import Lowerer, NoLowering, int_dtype, lowering


@lowering("add", "sub")
def lower_add(lw: Lowerer, node: Node) -> None:
    s = lw.settings_of(node)
    bits = s.activation_bits
    a, b = (lw.operand(v, bits) for v in node.inputs)
    out_q = lw.qparams(node.result, bits)
    qa, qb = a.quant, b.quant
    r = add_rescale(qa.scale_value(), qb.scale_value(), out_q.scale_value(), bits)
    qmin, qmax = lw.clamp_bounds(out_q, (node.attr("act_min"), node.attr("act_max")))
    attrs = dict(
        a_zp=qa.zero_point_value(), b_zp=qb.zero_point_value(), left_shift=add_left_shift(bits),
        a_multiplier=r.multiplier_a, a_shift=r.shift_a, b_multiplier=r.multiplier_b, b_shift=r.shift_b,
        multiplier=r.multiplier_out, shift=r.shift_out, subtract=node.op == "sub",
        out_zp=out_q.zero_point_value(), qmin=qmin, qmax=qmax, rounding=lw.rounding, dtype=int_dtype(bits),
    )
    lw.result(node.result, lw.add("q.add", [a, b], attrs, name=node.result.name, quant=out_q))


@lowering("mul")
def lower_mul(lw: Lowerer, node: Node) -> None:
    s = lw.settings_of(node)
    bits = s.activation_bits
    a, b = (lw.operand(v, bits) for v in node.inputs)
    out_q = lw.qparams(node.result, bits)
    qa, qb = a.quant, b.quant
    m, sh = lw.multiplier(qa.scale_value() * qb.scale_value() / out_q.scale_value(), bound=lw.max_centered(a) * lw.max_centered(b))
    qmin, qmax = lw.clamp_bounds(out_q, (node.attr("act_min"), node.attr("act_max")))
    attrs = dict(a_zp=qa.zero_point_value(), b_zp=qb.zero_point_value(), multiplier=m, shift=sh, out_zp=out_q.zero_point_value(),
                 qmin=qmin, qmax=qmax, rounding=lw.rounding, dtype=int_dtype(bits))
    lw.result(node.result, lw.add("q.mul", [a, b], attrs, name=node.result.name, quant=out_q))


@lowering("relu", "clip")
def lower_clamp(lw: Lowerer, node: Node) -> None:
    """A ReLU/Clip that fuse-activation could not fold: the result keeps the input's parameters
    and clamps in the integer domain (docs/arithmetic.md §3.6)."""
    x = lw.operand(node.inputs[0], lw.settings_of(node).activation_bits)
    q = x.quant
    lo, hi = (0.0, np.inf) if node.op == "relu" else (node.attr("min"), node.attr("max"))
    qmin, qmax = lw.clamp_bounds(q, (lo, hi))
    lw.result(node.result, lw.add("clip", [x], {"min": float(qmin), "max": float(qmax)}, name=node.result.name, quant=q))


# Unary ops computed by table: the float kernel defines the function, so tables and the float
# interpreter cannot disagree about what "hard_swish" means.
LUT_OPS = (
    "sigmoid", "tanh", "hard_sigmoid", "hard_swish", "erf", "gelu", "leaky_relu", "elu", "selu",
    "celu", "softplus", "softsign", "mish", "exp", "thresholded_relu",
    "pointwise",  # a fused group of element-wise ops (fuse-elementwise): one table for the group
)


def _real_function(node: Node) -> Callable[[np.ndarray], np.ndarray]:
    def fn(x: np.ndarray) -> np.ndarray:
        return evaluate(node.op, [np.asarray(x, dtype=np.float32)], node.attrs)[0].astype(np.float64)

    return fn


@lowering(*LUT_OPS)
def lower_lut(lw: Lowerer, node: Node) -> None:
    s = lw.settings_of(node)
    bits = s.activation_bits
    if not lw.settings.target.lut:
        raise NoLowering(f"node '{node.name}' ({node.op}) needs a lookup table and target '{lw.settings.target.name}' has none")
    x = lw.operand(node.inputs[0], bits)
    out_q = lw.qparams(node.result, bits)
    qx = x.quant
    fn = _real_function(node)
    out_min, out_max = activation_range(bits)
    if bits <= 8:  # narrower grids index the same 256-entry table (docs/arithmetic.md §3.19)
        table = build_lut_int8(fn, qx.scale_value(), qx.zero_point_value(), out_q.scale_value(), out_q.zero_point_value(), out_min, out_max)
    else:
        table = build_lut_int16(fn, qx.scale_value(), out_q.scale_value(), in_zp=qx.zero_point_value(), out_zp=out_q.zero_point_value(),
                                out_qmin=out_min, out_qmax=out_max)
    lw.result(node.result, lw.add("q.lut", [x], {"table": table, "dtype": int_dtype(bits)}, name=node.result.name, quant=out_q))
