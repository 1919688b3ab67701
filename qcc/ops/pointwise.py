"""The ``pointwise`` op: one scalar function of one tensor, written as an expression over the
element-wise ops.

Why: exporters spell one function many ways (hard-swish as ``x * clip(x + 3, 0, 6) / 6`` or
``x * hard_sigmoid(x)``, SiLU as ``x * sigmoid(x)``); fuse-elementwise collapses such a group into
one node whose ``expr`` names the ops it came from, so the float interpreter evaluates it with the
very kernels those ops have and quantization turns it into one table. The expression is text
(printable, parseable, compared by value), e.g. ``mul(x, clip(add(x, 3.0), min=0.0, max=6.0))``:

    expr    := "x" | number | op "(" expr ("," expr)* ("," name "=" value)* ")"

``x`` is the operand, numbers are constants of x's element type (``repr`` of the float, so they
round-trip; an integer literal is an int64 constant, e.g. an integer ``pow`` exponent), and
keyword arguments are the op's attributes (defaults left out when printed).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from qcc.errors import IRError
from qcc.ir.ops import Attr, define_op, fail, get_op
from qcc.ir.types import TensorType
from qcc.ops.elementwise import BINARY_OPS, BOOL, UNARY_OPS

# Ops an expression may apply: the float-to-float element-wise ops (no comparisons or logic).
EXPR_OPS = frozenset(
    name for table in (UNARY_OPS, BINARY_OPS) for name, spec in table.items() if spec.operands is not BOOL and not spec.bool_result
)


@dataclass(frozen=True)
class Operand:
    """The op's one tensor operand, written ``x``."""


@dataclass(frozen=True)
class Literal:
    """A scalar constant: a float (x's element type) or, with ``integer``, an int64."""

    value: float
    integer: bool = False


@dataclass(frozen=True)
class Apply:
    """An element-wise op applied to sub-expressions; ``attrs`` are all of the op's attributes
    (defaults filled in), sorted by the op's schema order."""

    op: str
    args: tuple[Expr, ...]
    attrs: tuple[tuple[str, Any], ...] = ()


Expr = Operand | Literal | Apply


def apply(op: str, args: Sequence[Expr], attrs: Mapping[str, Any]) -> Apply:
    """An Apply with validated, normalized attributes (raises IRError for a bad op or attribute)."""
    if op not in EXPR_OPS:
        raise IRError(f"pointwise: '{op}' is not an element-wise op (known: {', '.join(sorted(EXPR_OPS))})")
    opdef = get_op(op)
    opdef.check_arity(len(args), f"pointwise '{op}'")
    norm = opdef.normalize_attrs(attrs, f"pointwise '{op}'")
    return Apply(op, tuple(args), tuple((a.name, norm[a.name]) for a in opdef.attrs))


# ---- printing --------------------------------------------------------------------------------

_WORD = re.compile(r"[A-Za-z_][A-Za-z_0-9]*\Z")


def format_expr(expr: Expr) -> str:
    """The canonical text of an expression (what the ``expr`` attribute holds)."""
    if isinstance(expr, Operand):
        return "x"
    if isinstance(expr, Literal):
        return str(int(expr.value)) if expr.integer else repr(float(expr.value))
    specs = get_op(expr.op).attr_index
    parts = [format_expr(a) for a in expr.args]
    for name, value in expr.attrs:
        spec = specs[name]
        if value == spec.default:
            continue
        parts.append(f"{name}={_format_attr(spec, value)}")
    return f"{expr.op}({', '.join(parts)})"


def _format_attr(spec: Attr, value: Any) -> str:
    if spec.kind == "float":
        return repr(float(value))
    if spec.kind == "str" and _WORD.match(value):
        return value
    raise IRError(f"pointwise: attribute '{spec.name}' = {value!r} cannot be written in an expression")


# ---- parsing ---------------------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(?:(?P<num>[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|inf|nan))|(?P<word>[A-Za-z_][A-Za-z_0-9]*)|(?P<punct>[(),=]))")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str, int]] = []
        pos = 0
        while pos < len(text.rstrip()):
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                raise self.error(pos, "unexpected character")
            kind = m.lastgroup or ""
            self.tokens.append((kind, m.group(kind), m.start(kind)))
            pos = m.end()
        self.index = 0

    def error(self, pos: int, what: str) -> IRError:
        return IRError(f"pointwise: bad expression {self.text!r} at column {pos + 1}: {what}")

    def peek(self, offset: int = 0) -> tuple[str, str, int]:
        i = self.index + offset
        return self.tokens[i] if i < len(self.tokens) else ("end", "", len(self.text))

    def take(self, kind: str, text: str | None = None) -> str:
        k, t, pos = self.peek()
        if k != kind or (text is not None and t != text):
            raise self.error(pos, f"expected {text or kind}, got {t or 'the end'!r}")
        self.index += 1
        return t

    def expr(self) -> Expr:
        kind, text, pos = self.peek()
        if kind == "num":
            self.index += 1
            return _literal(text)
        if kind == "word" and self.peek(1)[1] != "(":
            self.index += 1
            if text != "x":
                raise self.error(pos, f"unknown name {text!r} (the operand is 'x')")
            return Operand()
        op = self.take("word")
        self.take("punct", "(")
        args: list[Expr] = []
        attrs: dict[str, Any] = {}
        while True:
            if self.peek()[0] == "word" and self.peek(1)[1] == "=":
                key = self.take("word")
                self.take("punct", "=")
                attrs[key] = self.attr_value(op, key)
            elif attrs:
                raise self.error(self.peek()[2], "operands must come before attributes")
            else:
                args.append(self.expr())
            if self.peek()[1] != ",":
                break
            self.take("punct", ",")
        self.take("punct", ")")
        return apply(op, args, attrs)

    def attr_value(self, op: str, key: str) -> Any:
        kind, text, pos = self.peek()
        self.index += 1
        spec = get_op(op).attr_index.get(key) if op in EXPR_OPS else None
        if spec is not None and spec.kind == "str" and kind == "word":
            return text
        if kind == "num":
            return float(text)
        raise self.error(pos, f"bad value {text!r} for attribute '{key}'")


def _literal(text: str) -> Literal:
    if re.fullmatch(r"[-+]?\d+", text):
        return Literal(float(int(text)), integer=True)
    return Literal(float(text))


def parse_expr(text: str) -> Expr:
    """Parse an ``expr`` attribute; one IRError naming the column for anything malformed."""
    parser = _Parser(text)
    expr = parser.expr()
    kind, rest, pos = parser.peek()
    if kind != "end":
        raise parser.error(pos, f"unexpected {rest!r} after the expression")
    if not uses_operand(expr):
        raise IRError(f"pointwise: expression {text!r} does not use its operand x")
    return expr


def uses_operand(expr: Expr) -> bool:
    if isinstance(expr, Operand):
        return True
    return isinstance(expr, Apply) and any(uses_operand(a) for a in expr.args)


def count_ops(expr: Expr) -> int:
    """How many op applications an expression has (shared sub-expressions counted once)."""
    seen: set[Expr] = set()

    def walk(e: Expr) -> None:
        if isinstance(e, Apply) and e not in seen:
            seen.add(e)
            for a in e.args:
                walk(a)

    walk(expr)
    return len(seen)


# ---- the op ----------------------------------------------------------------------------------

@define_op("pointwise", ["x"], [Attr("expr", "str", doc="the function of x, e.g. 'mul(x, sigmoid(x))'")])
def _pointwise(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """One scalar function of x applied to every element: ``expr`` over the element-wise float ops
    (made by fuse-elementwise from a group of them; evaluated with their kernels; quantized as one
    lookup table). The result has x's type."""
    x = types[0]
    if not x.dtype.is_float:
        raise fail("pointwise", f"operand has element type {x.dtype}, expected a float type")
    parse_expr(attrs["expr"])
    return [TensorType(x.dtype, x.shape)]
