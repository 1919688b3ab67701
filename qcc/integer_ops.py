"""Adding an integer op: one call declares it in the integer op table and gives it its three pieces.

An op of the integer op set needs a quantize lowering (from one or more float ops), a kernel in the
integer reference and a C lowering (or a stated reason the C backend refuses it). Built-in ops
register each piece next to its siblings in its own layer and declare the op in
``qcc.ops.integer``; a test walks that table for missing pieces. Code outside qcc (or a test) adds
an op with ``add_integer_op``, which does all four in one place and can undo them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qcc.backends.c.steps import RULES as C_RULES
from qcc.backends.c.steps import Rule as CRule
from qcc.backends.numpy_int.kernels import INT_KERNELS, IntKernel
from qcc.ops.integer import INTEGER_OPS, IntegerOp, declare
from qcc.quant.lowering import RULES as LOWERINGS
from qcc.quant.lowering import LowerFn


@dataclass
class AddedOp:
    """What ``add_integer_op`` registered, so it can be removed again (tests, plugins unloading)."""

    op: IntegerOp
    entries: list[tuple[dict[str, Any], str]] = field(default_factory=list)

    def remove(self) -> None:
        for table, name in self.entries:
            table.pop(name, None)
        INTEGER_OPS.pop(self.op.name, None)


def add_integer_op(op: IntegerOp, *, lower: LowerFn, reference: IntKernel, c_rule: CRule | None) -> AddedOp:
    """Declare ``op`` and register its quantize lowering (for every op in ``op.lowered_from``), its
    reference kernel and its C lowering. ``c_rule`` may be None only when ``op.c_refusal`` says why."""
    if (c_rule is None) != (op.c_refusal is not None):
        raise ValueError(f"integer op '{op.name}': give a C lowering or a c_refusal, not both or neither")
    added = AddedOp(declare(op))
    try:
        for name in op.lowered_from:
            LOWERINGS.register(name)(lower)
            added.entries.append((LOWERINGS, name))
        INT_KERNELS.register(op.name)(reference)
        added.entries.append((INT_KERNELS, op.name))
        if c_rule is not None:
            C_RULES.register(op.name)(c_rule)
            added.entries.append((C_RULES, op.name))
    except ValueError:  # a piece already registered under that name: leave the tables as they were
        added.remove()
        raise
    return added
