"""The check that keeps activations narrower than 8 bits on their grid (docs/arithmetic.md §3.19).

A b-bit activation (b < 8) is stored in int8, and the int8 kernels would happily write any value
of [-128, 127] into it. What keeps it inside [-2^(b-1), 2^(b-1) - 1] is the integers the quantize
pass chose: clamp bounds, table entries, or an operand that is already that narrow. This module
checks that after lowering, so that a lowering rule that forgets the narrower range fails at
compile time with the node's name instead of producing C that silently leaves the grid.
"""

from __future__ import annotations

import numpy as np

from qcc.arith.fixedpoint import activation_range
from qcc.errors import PipelineError
from qcc.ir.core import Graph, Node, Value
from qcc.ir.types import DType


def is_narrow(value: Value) -> bool:
    """An activation on a grid narrower than its int8 storage."""
    q = value.type.quant
    return value.type.dtype is DType.I8 and q is not None and q.bits < 8 and q.axis is None


def check_narrow_ranges(graph: Graph) -> None:
    """Raise PipelineError naming the first node whose narrow result could leave its grid."""
    for node in graph.nodes:
        for result in node.results:
            if is_narrow(result):
                problem = _out_of_grid(node, result)
                if problem:
                    raise PipelineError(f"node '{node.name}' ({node.op}): {problem}")


def _out_of_grid(node: Node, result: Value) -> str | None:
    """Why ``node`` could write a value outside its ``result``'s grid, or None if it cannot."""
    quant = result.type.quant
    assert quant is not None  # is_narrow(result) holds
    bits = quant.bits
    lo, hi = activation_range(bits)
    if node.op == "quantize":  # the boundary clamps to the result's own grid
        return None
    if "qmin" in node.attrs and "qmax" in node.attrs:  # an output stage: clamps to [qmin, qmax]
        qmin, qmax = int(node.attrs["qmin"]), int(node.attrs["qmax"])
        return None if lo <= qmin <= qmax <= hi else f"clamp [{qmin}, {qmax}] is outside the {bits}-bit range [{lo}, {hi}]"
    if node.op == "q.lut":
        table = np.asarray(node.attrs["table"].array)
        ok = table.size and lo <= int(table.min()) and int(table.max()) <= hi
        return None if ok else f"a table entry lies outside the {bits}-bit range [{lo}, {hi}]"
    if node.op == "clip":  # a standalone clamp of integers
        inside = lo <= node.attrs["min"] <= node.attrs["max"] <= hi
        return None if inside else f"clip bounds lie outside the {bits}-bit range [{lo}, {hi}]"
    # any other op only moves, selects or averages its operand's values (max/avg pool, reshape,
    # concat of one scale, pad with a value quantized to the grid): the operand must be as narrow
    data = node.inputs[0] if node.inputs else None
    if data is not None and data.type.quant is not None and data.type.dtype is DType.I8 and data.type.quant.bits <= bits:
        return None
    return f"its {bits}-bit result is neither clamped to [{lo}, {hi}] nor computed from operands that narrow"
