"""Generates docs/ops.md, the op reference, from the op registry, so the reference cannot drift from
the ops the verifier accepts (tests/ir/test_opdoc.py fails when the file is out of date).

    python -m qcc.ir.opdoc --write docs/ops.md
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path

from qcc.ir.ops import REQUIRED, OpDef, all_ops
from qcc.ir.printer import format_float

WRITE_COMMAND = "python -m qcc.ir.opdoc --write docs/ops.md"
# The ops at the float/integer boundary belong with the integer ops: only quantized graphs have them.
_BOUNDARY_OPS = ("quantize", "dequantize")


def is_integer_op(name: str) -> bool:
    """Integer ops (``q.*``) and the boundary ops that only quantized graphs contain."""
    return name.startswith("q.") or name in _BOUNDARY_OPS


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


def _signature(name: str, op: OpDef) -> str:
    operands = list(op.inputs)
    for i in range(len(operands) - op.optional, len(operands)):
        operands[i] = f"[{operands[i]}]"
    if op.variadic:
        operands = [operands[0] + "..."]
    return f"{name}({', '.join(operands)})"


def _section(ops: Iterable[tuple[str, OpDef]]) -> list[str]:
    lines: list[str] = []
    for name, op in ops:
        lines += [f"### `{_signature(name, op)}`", "", " ".join(op.doc.split()) or "(undocumented)", ""]
        if op.attrs:
            lines += ["| attribute | kind | default | meaning |", "|---|---|---|---|"]
            lines += [f"| `{a.name}` | {a.kind} | {_default(a.kind, a.default)} | {a.doc} |" for a in op.attrs]
            lines.append("")
    return lines


def render() -> str:
    """The whole of docs/ops.md."""
    ops = all_ops()
    float_ops = [(n, op) for n, op in ops.items() if not is_integer_op(n)]
    integer_ops = [(n, op) for n, op in ops.items() if is_integer_op(n)]
    lines = [
        "# qcc op reference",
        "",
        f"Generated from the op registry by `{WRITE_COMMAND}`; a test fails when this file is out of",
        "date. Operands in brackets are optional; `...` marks a variadic operand list. The textual form",
        "of ops and attributes is described in [ir.md](ir.md), the integer semantics of the `q.` ops in",
        "[arithmetic.md](arithmetic.md).",
        "",
        f"## Float ops ({len(float_ops)})",
        "",
        "What the importer produces and the float passes rewrite. Clamp bounds of a fused activation are",
        "real numbers (`act_min`, `act_max`).",
        "",
        *_section(float_ops),
        f"## Integer ops ({len(integer_ops)})",
        "",
        "What the quantize pass produces: `quantize`/`dequantize` at the float boundary and `q.` ops",
        "inside, each carrying every integer it needs. Clamp bounds are integers (`qmin`, `qmax`).",
        "",
        *_section(integer_ops),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qcc.ir.opdoc", description="print or write the op reference")
    parser.add_argument("--write", metavar="PATH", help="write it to PATH (docs/ops.md) instead of stdout")
    args = parser.parse_args(argv)
    text = render()
    if args.write:
        Path(args.write).write_text(text, encoding="utf-8")
    else:
        print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
