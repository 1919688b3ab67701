"""C lowering rules of the integer ops between two activations: q.div, q.max / q.min and q.lut2
(csrc/qcc_binary.c, docs/arithmetic.md §3.14-§3.16). Broadcasting uses the same strides
description as q.add and q.mul."""

from __future__ import annotations

import numpy as np

from qcc.arith.fixedpoint import requantize
from qcc.backends.c.carrays import Raw
from qcc.backends.c.rules_compute import broadcast_fields, same_shape_operands
from qcc.backends.c.steps import ROUNDING, CBackendError, StepBuilder, read, rule, same_type, shape_of, write
from qcc.ir.core import Node
from qcc.ops.quantized_binary import LUT2_SHAPE


def _start(b: StepBuilder, node: Node) -> tuple[str, int, dict[str, object]]:
    """Kernel suffix, element size and the broadcast description of a two-operand node; the
    result may overwrite a same-shaped operand."""
    av, bv, y = node.inputs[0], node.inputs[1], node.result
    _, suffix, es = same_type(node, av, y)
    same_type(node, bv, y)
    b.files("qcc_binary.c")
    b.step.inplace = same_shape_operands(node)
    return suffix, es, {"shape": broadcast_fields(shape_of(av), shape_of(bv), shape_of(y), f"node '{node.name}'")}


def _call(b: StepBuilder, node: Node, kernel: str, struct: str, fields: dict[str, object]) -> None:
    b.call(kernel, b.struct(struct, struct.removeprefix("qcc_").removesuffix("_t"), fields), read(node.inputs[0]), read(node.inputs[1]), write(node.result))


@rule("q.div")
def lower_div(b: StepBuilder, node: Node) -> None:
    suffix, _, fields = _start(b, node)
    a = node.attrs
    fields.update(a_zp=a["a_zp"], b_zp=a["b_zp"], multiplier=a["multiplier"], shift=a["shift"], out_zp=a["out_zp"], qmin=a["qmin"], qmax=a["qmax"])
    _call(b, node, f"qcc_div_{suffix}", "qcc_div_t", fields)


@rule("q.max", "q.min")
def lower_max_min(b: StepBuilder, node: Node) -> None:
    suffix, es, fields = _start(b, node)
    a = node.attrs
    fields.update(a_zp=a["a_zp"], a_multiplier=a["a_multiplier"], a_shift=a["a_shift"], b_zp=a["b_zp"], b_multiplier=a["b_multiplier"],
                  b_shift=a["b_shift"], rounding=ROUNDING[a["rounding"]], out_zp=a["out_zp"], qmin=a["qmin"], qmax=a["qmax"],
                  take_min=int(node.op == "q.min"), a_table=Raw("NULL"), b_table=Raw("NULL"))
    if es == 1:  # each operand's requantized value, for every int8 value, by the reference's own helper
        q = np.arange(-128, 128, dtype=np.int64)
        for side in ("a", "b"):
            table = requantize(q - a[f"{side}_zp"], a[f"{side}_multiplier"], a[f"{side}_shift"], a["out_zp"], a["qmin"], a["qmax"], a["rounding"])
            fields[f"{side}_table"] = b.array(f"{side}table", table, np.int16)
    _call(b, node, f"qcc_max_min_{suffix}", "qcc_max_min_t", fields)


@rule("q.lut2")
def lower_lut2(b: StepBuilder, node: Node) -> None:
    suffix, es, fields = _start(b, node)
    table = np.asarray(node.attr("table").array)
    if es != 1 or table.shape != LUT2_SHAPE:
        raise CBackendError(f"node '{node.name}' (q.lut2): the C kernel takes i8 operands and an i8{list(LUT2_SHAPE)} table")
    fields["table"] = b.array("table", table.reshape(-1), np.int8)
    _call(b, node, "qcc_lut2_s8", "qcc_lut2_t", fields)
