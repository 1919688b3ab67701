"""Deterministic textual form of a graph.

The same graph always prints the same text: names come from the graph (made unique when values are
created), attributes print in schema order with defaults left out, floats print as the shortest
text that reads back to the same value. Constants up to ``INLINE_LIMIT`` elements print inline;
larger ones print as a content digest, their bytes going to a sidecar ``.npz``; a large constant
whose elements are all equal prints as ``splat``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Any

import numpy as np

from qcc.ir.core import Graph, Node, Value
from qcc.ir.ops import Tensor, get_op
from qcc.ir.types import DType, QuantParams, QuantScheme, TensorType, tensor_type_of

INLINE_LIMIT = 16


def digest(array: np.ndarray) -> str:
    """Content address of an array: dtype, shape and bytes."""
    h = hashlib.sha256()
    h.update(f"{array.dtype.str}{array.shape}".encode())
    h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()[:16]


def format_float(x: float, dtype: DType = DType.F64) -> str:
    """Shortest text that reads back to the same value of ``dtype``."""
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if dtype in (DType.F32, DType.F16, DType.BF16):
        text = str(dtype.numpy.type(x)) if dtype is not DType.BF16 else repr(float(x))
    else:
        text = repr(float(x))
    if "e" not in text and "." not in text and "inf" not in text and "nan" not in text:
        text += ".0"
    return text


def format_scalar(x: Any, dtype: DType) -> str:
    if dtype is DType.BOOL:
        return "true" if bool(x) else "false"
    if dtype.is_float:
        return format_float(float(x), dtype)
    return str(int(x))


def format_quant(q: QuantParams, dtype: DType, shown_bits: int | None = None) -> str:
    """The ``q(...)`` part; ``bits=`` only when the grid's width is not the one the type name shows."""
    def many(xs: Any, fmt: Any) -> str:
        return "[" + ", ".join(fmt(x) for x in xs) + "]" if isinstance(xs, tuple) else fmt(xs)

    parts = [f"scale={many(q.scale, format_float)}", f"zp={many(q.zero_point, str)}"]
    if q.axis is not None:
        parts.append(f"axis={q.axis}")
    if q.bits != (shown_bits or dtype.bits):
        parts.append(f"bits={q.bits}")
    return "q(" + ", ".join(parts) + ")"


_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.]+")


def value_ref(name: str) -> str:
    """``%name`` for a plain name, ``%"name"`` (JSON string escapes) for any other, as MLIR does:
    value names are the model's own names, whatever characters they hold."""
    if _PLAIN_NAME.fullmatch(name):
        return f"%{name}"
    return "%" + json.dumps(name, ensure_ascii=False)


def format_type(t: TensorType) -> str:
    """``i8[2,3] q(...)``; int8 storage on a narrower grid prints with the grid's width,
    ``i4[2,3] q(...)`` (docs/arithmetic.md §3.19)."""
    q = t.quant
    if q is None:
        return f"{t.dtype}{t.shape_text()}"
    narrow = t.dtype is DType.I8 and q.bits < t.dtype.bits
    text = f"{f'i{q.bits}' if narrow else t.dtype}{t.shape_text()}"
    return text + " " + format_quant(q, t.dtype, shown_bits=q.bits if narrow else None)


class Printer:
    """Prints one graph; collects the sidecar arrays of large constants in ``blobs``."""

    def __init__(self, inline_limit: int = INLINE_LIMIT) -> None:
        self.inline_limit = inline_limit
        self.blobs: dict[str, np.ndarray] = {}

    def dense(self, array: np.ndarray, dtype: DType) -> str:
        flat = array.reshape(-1)
        if flat.size <= self.inline_limit:
            return "dense<[" + ", ".join(format_scalar(x, dtype) for x in flat) + "]>"
        first = flat[0]
        if np.array_equal(flat, np.full_like(flat, first), equal_nan=True):
            return f"dense<splat {format_scalar(first, dtype)}>"
        key = digest(array)
        self.blobs[key] = array
        return f'dense<"{key}">'

    def attr_value(self, kind: str, value: Any) -> str:
        if kind == "int":
            return str(value)
        if kind == "float":
            return format_float(value)
        if kind == "bool":
            return "true" if value else "false"
        if kind == "str":
            return json.dumps(value)
        if kind == "ints":
            return "[" + ", ".join(str(v) for v in value) + "]"
        if kind == "floats":
            return "[" + ", ".join(format_float(v) for v in value) + "]"
        if kind == "dtype":
            return str(value)
        if kind == "tensor":
            assert isinstance(value, Tensor)
            t = tensor_type_of(value.array)
            return f"{format_type(t)} {self.dense(value.array, t.dtype)}"
        raise AssertionError(kind)

    def attrs(self, node: Node) -> str:
        opdef = get_op(node.op)
        items = []
        for spec in opdef.attrs:
            value = node.attr(spec.name)
            if not spec.required and _same(value, spec.default):
                continue
            items.append(f"{spec.name}={self.attr_value(spec.kind, value)}")
        return " {" + ", ".join(items) + "}" if items else ""

    def scheme(self, scheme: QuantScheme) -> str:
        kinds = {bool: "bool", int: "int", str: "str"}
        items = (f"{k}={self.attr_value(kinds[type(v)], v)}" for k, v in scheme.attrs().items())
        return "  scheme {" + ", ".join(items) + "}"

    def const(self, value: Value) -> str:
        assert value.data is not None
        return f"  {value_ref(value.name)} = const {format_type(value.type)} {self.dense(value.data, value.type.dtype)}"

    def node(self, node: Node) -> str:
        results = ", ".join(value_ref(r.name) for r in node.results)
        operands = ", ".join(value_ref(v.name) for v in node.inputs)
        types = ", ".join(format_type(r.type) for r in node.results)
        return f"  {results} = {node.op}({operands}){self.attrs(node)} : {types}"

    def graph(self, graph: Graph) -> str:
        ins = ", ".join(f"{value_ref(v.name)}: {format_type(v.type)}" for v in graph.inputs)
        outs = ", ".join(f"{value_ref(v.name)}: {format_type(v.type)}" for v in graph.outputs)
        lines = [f"graph @{graph.name}({ins}) -> ({outs}) {{"]
        if graph.scheme is not None:
            lines.append(self.scheme(graph.scheme))
        lines += [self.const(c) for c in graph.constants]
        lines += [self.node(n) for n in graph.nodes]
        lines.append("  return " + ", ".join(value_ref(v.name) for v in graph.outputs))
        lines.append("}")
        return "\n".join(lines) + "\n"


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


def print_graph(graph: Graph, inline_limit: int = INLINE_LIMIT) -> tuple[str, dict[str, np.ndarray]]:
    """The graph's text and the sidecar arrays its large constants refer to (by digest)."""
    printer = Printer(inline_limit)
    return printer.graph(graph), printer.blobs


def to_text(graph: Graph) -> str:
    """The graph's text alone (large constants as digests), e.g. for tests and --print-ir-after."""
    return print_graph(graph)[0]
