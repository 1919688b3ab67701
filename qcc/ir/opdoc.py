"""Generates docs/ops.md, the op reference, from the op registry (so the docs cannot drift).

    python -m qcc.ir.opdoc > docs/ops.md
"""

from __future__ import annotations

from qcc.ir.ops import REQUIRED, all_ops
from qcc.ir.printer import format_float


def _default(kind: str, value: object) -> str:
    if value is REQUIRED:
        return "required"
    if kind == "float" and isinstance(value, (int, float)):
        return format_float(value)
    if kind == "floats" and isinstance(value, (tuple, list)):
        return "[" + ", ".join(format_float(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "[" + ", ".join(map(str, value)) + "]"
    return repr(value) if isinstance(value, str) else str(value)


def render() -> str:
    lines = [
        "# qcc op reference",
        "",
        "Generated from the op registry by `python -m qcc.ir.opdoc > docs/ops.md`; a test checks it is current.",
        "Operands in brackets are optional; `...` marks a variadic operand list.",
        "",
    ]
    for name, op in all_ops().items():
        operands = list(op.inputs)
        for i in range(len(operands) - op.optional, len(operands)):
            operands[i] = f"[{operands[i]}]"
        if op.variadic:
            operands = [operands[0] + "..."]
        lines += [f"## `{name}({', '.join(operands)})`", "", " ".join(op.doc.split()) or "(undocumented)", ""]
        if op.attrs:
            lines += ["| attribute | kind | default | meaning |", "|---|---|---|---|"]
            lines += [f"| `{a.name}` | {a.kind} | {_default(a.kind, a.default)} | {a.doc} |" for a in op.attrs]
            lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")
