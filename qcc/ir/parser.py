"""Reads the textual form back into a Graph.

Syntax errors and semantic errors (undefined or redefined values, unknown ops or attributes,
declared result types that disagree with the op's type rule, missing sidecar data) are reported as
``ParseError`` with ``file:line:col``.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lark
import numpy as np

from qcc.errors import IRError, ParseError
from qcc.fileio import NPZ_LOAD_ERRORS
from qcc.ir.core import Graph, Value
from qcc.ir.ops import Tensor, coerce_attr, get_op
from qcc.ir.printer import format_type
from qcc.ir.types import DType, QuantParams, QuantScheme, TensorType

_NARROW_QUANT_TYPE = re.compile(r"i([2-7])")
"""A quantized type named ``i2`` .. ``i7``: int8 storage, grid of that width."""


@functools.cache
def _lark() -> lark.Lark:
    grammar = (Path(__file__).with_name("grammar.lark")).read_text()
    return lark.Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=True)


def parse(text: str, blobs: Mapping[str, np.ndarray] | None = None, filename: str = "<text>") -> Graph:
    """Parse IR text; ``blobs`` holds the arrays of constants printed as digests."""
    try:
        tree = _lark().parse(text)
    except lark.exceptions.UnexpectedInput as e:
        raise ParseError(f"{filename}:{e.line}:{e.column}: {_describe(e, text)}") from None
    return _Builder(filename, blobs or {}).build(tree)


def _describe(e: lark.exceptions.UnexpectedInput, text: str) -> str:
    if isinstance(e, lark.exceptions.UnexpectedCharacters):
        return f"unexpected character {e.char!r}"
    if isinstance(e, lark.exceptions.UnexpectedToken):
        if e.token.type == "$END":
            return "unexpected end of input"
        expected = sorted(_TOKEN_TEXT.get(t, t) for t in e.expected)
        hint = f" (expected {', '.join(expected[:6])}{', ...' if len(expected) > 6 else ''})"
        return f"unexpected {e.token.value!r}{hint}"
    if isinstance(e, lark.exceptions.UnexpectedEOF):
        return "unexpected end of input"
    return str(e).splitlines()[0]


_TOKEN_TEXT = {
    "COMMA": "','", "RPAR": "')'", "LPAR": "'('", "LBRACE": "'{'", "RBRACE": "'}'", "LSQB": "'['",
    "RSQB": "']'", "COLON": "':'", "EQUAL": "'='", "LESSTHAN": "'<'", "MORETHAN": "'>'",
    "VALUE": "a %value", "OP": "an op name", "NAME": "a name", "INT": "an integer", "FLOAT": "a number",
    "RETURN": "'return'", "CONST": "'const'", "STRING": "a string",
}


def load(path: str | os.PathLike[str]) -> Graph:
    """Load a ``.qir`` file and its ``.npz`` sidecar (same stem), if any."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise ParseError(f"cannot read '{path}': {e.strerror}") from None
    sidecar = path.with_suffix(".npz")
    blobs: dict[str, np.ndarray] = {}
    if sidecar.exists():
        try:
            with np.load(sidecar, allow_pickle=False) as npz:
                blobs = {k: npz[k] for k in npz.files}
        except NPZ_LOAD_ERRORS as e:
            raise ParseError(f"cannot read constants sidecar '{sidecar}': {e}") from None
    return parse(text, blobs, str(path))


def _token(child: object) -> lark.Token:
    """A tree child the grammar makes a token; lark types children as token-or-tree, and the check
    turns a grammar/builder mismatch into a clear internal error instead of a wrong value."""
    if not isinstance(child, lark.Token):
        raise TypeError(f"IR grammar: expected a token, got {child!r}")
    return child


class _Builder:
    def __init__(self, filename: str, blobs: Mapping[str, np.ndarray]) -> None:
        self.filename = filename
        self.blobs = blobs
        self.graph: Graph | None = None
        self.values: dict[str, Value] = {}

    def error(self, item: Any, message: str) -> ParseError:
        meta = getattr(item, "meta", None)
        line = getattr(item, "line", None) or (meta.line if meta is not None and not meta.empty else "?")
        col = getattr(item, "column", None) or (meta.column if meta is not None and not meta.empty else "?")
        return ParseError(f"{self.filename}:{line}:{col}: {message}")

    # ---- structure ---------------------------------------------------------------------------

    def build(self, tree: lark.Tree) -> Graph:
        name_tok, in_args, out_args, *body = tree.children
        graph = self.graph = Graph(str(name_tok)[1:])
        *stmts, ret = body
        if stmts and stmts[0] is None:  # the optional scheme line, absent
            stmts = stmts[1:]
        if stmts and stmts[0].data == "scheme":
            graph.scheme = self.scheme(stmts.pop(0))
        for arg in in_args.children if in_args is not None else []:
            name_child, type_tree = arg.children
            tok = _token(name_child)
            self._define(tok, graph.add_input(self._name(tok), self.type(type_tree)))
        for stmt in stmts:
            if stmt.data == "const_stmt":
                self.const_stmt(stmt)
            else:
                self.node_stmt(stmt)
        graph.outputs = [self._use(_token(tok)) for tok in ret.children]
        declared = out_args.children if out_args is not None else []
        if len(declared) != len(graph.outputs):
            raise self.error(ret, f"graph declares {len(declared)} results but returns {len(graph.outputs)}")
        for arg, value in zip(declared, graph.outputs):
            tok, type_tree = arg.children
            declared_type = self.type(type_tree)
            if self._name(tok) != value.name:
                raise self.error(tok, f"result %{self._name(tok)} is declared but %{value.name} is returned")
            if declared_type != value.type:
                raise self.error(tok, f"result %{value.name} is declared {format_type(declared_type)} but has type {format_type(value.type)}")
        return graph

    def const_stmt(self, stmt: lark.Tree) -> None:
        name_child, type_tree, dense = stmt.children
        tok = _token(name_child)
        t = self.type(type_tree)
        array = self.dense(dense, t)
        assert self.graph is not None
        if self._name(tok) in self.values:
            raise self.error(tok, f"%{self._name(tok)} is defined twice")
        value = self.graph.add_const(array, self._name(tok))
        value.type = t
        self._define(tok, value)

    def node_stmt(self, stmt: lark.Tree) -> None:
        children = list(stmt.children)
        op_index = next(i for i, c in enumerate(children) if isinstance(c, lark.Token) and c.type == "OP")
        op_tok = _token(children[op_index])
        result_toks = [c for c in children[:op_index] if isinstance(c, lark.Token)]
        after = children[op_index + 1 :]
        operand_toks = [c for c in after if isinstance(c, lark.Token) and c.type == "VALUE"]
        attrs_tree = next((c for c in after if isinstance(c, lark.Tree) and c.data == "attrs"), None)
        types = [self.type(c) for c in after if isinstance(c, lark.Tree) and c.data == "type"]
        try:
            opdef = get_op(str(op_tok))
        except IRError as e:
            raise self.error(op_tok, str(e)) from None
        operands = [self._use(t) for t in operand_toks]
        attrs = self.attrs(attrs_tree, opdef.attr_index, op_tok) if attrs_tree is not None else {}
        if len(types) != len(result_toks):
            raise self.error(op_tok, f"{len(result_toks)} results but {len(types)} result types")
        assert self.graph is not None
        for tok in result_toks:
            if self._name(tok) in self.values:
                raise self.error(tok, f"%{self._name(tok)} is defined twice")
        try:
            opdef.check_arity(len(operands), f"'{op_tok}'")
            norm = opdef.normalize_attrs(attrs, f"'{op_tok}'")
            inferred = opdef.infer([v.type for v in operands], norm)
        except IRError as e:
            raise self.error(op_tok, str(e)) from None
        for tok, want, got in zip(result_toks, types, inferred):
            if (want.dtype, want.shape) != (got.dtype, got.shape):
                raise self.error(tok, f"%{self._name(tok)} is declared {format_type(want)} but {op_tok} gives {format_type(got)}")
        node = self.graph.add_node(str(op_tok), operands, norm, names=[self._name(t) for t in result_toks], result_types=types)
        for tok, value in zip(result_toks, node.results):
            self._define(tok, value)

    # ---- names -------------------------------------------------------------------------------

    @staticmethod
    def _name(tok: lark.Token) -> str:
        """The value name of ``%name`` or ``%"quoted name"`` (JSON string escapes)."""
        text = str(tok)[1:]
        return json.loads(text) if text.startswith('"') else text

    def _define(self, tok: lark.Token, value: Value) -> None:
        name = self._name(tok)
        if name in self.values:
            raise self.error(tok, f"%{name} is defined twice")
        if value.name != name:
            raise self.error(tok, f"%{name} is defined twice")
        self.values[name] = value

    def _use(self, tok: lark.Token) -> Value:
        try:
            return self.values[self._name(tok)]
        except KeyError:
            raise self.error(tok, f"undefined value %{self._name(tok)}") from None

    # ---- types and literals ------------------------------------------------------------------

    def type(self, tree: lark.Tree) -> TensorType:
        name_tok, *rest = tree.children
        quant_tree = rest.pop() if rest and isinstance(rest[-1], lark.Tree) and rest[-1].data == "quant" else None
        if rest and rest[-1] is None:
            rest.pop()
        narrow = _NARROW_QUANT_TYPE.fullmatch(str(name_tok)) if quant_tree is not None else None
        try:
            # a quantized i2..i7 is int8 storage on a narrower grid (docs/arithmetic.md §3.19)
            dtype = DType.I8 if narrow else DType.parse(str(name_tok))
        except IRError as e:
            raise self.error(name_tok, str(e)) from None
        dims: list[int | str] = []
        for d in rest:
            if d is None:
                continue
            tok = _token(d)
            dims.append(int(tok) if tok.type == "INT" else str(tok))
        quant = self.quant(quant_tree, int(narrow[1]) if narrow else dtype.bits) if quant_tree is not None else None
        try:
            return TensorType(dtype, tuple(dims), quant)
        except IRError as e:
            raise self.error(name_tok, str(e)) from None

    def quant(self, tree: lark.Tree, bits: int) -> QuantParams:
        """``q(...)``; ``bits`` is the grid width the type name shows, unless ``bits=`` says otherwise."""
        fields: dict[str, Any] = {}
        for qp in tree.children:
            key, val = qp.children
            fields[str(key)] = self.number_or_list(val)
        unknown = set(fields) - {"scale", "zp", "axis", "bits"}
        if unknown:
            raise self.error(tree, f"unknown quantization field '{sorted(unknown)[0]}' (known: scale, zp, axis, bits)")
        if "scale" not in fields or "zp" not in fields:
            raise self.error(tree, "quantization needs scale and zp")

        def tup(x: Any) -> Any:
            return tuple(x) if isinstance(x, list) else x

        try:
            return QuantParams(
                scale=tup(fields["scale"]) if isinstance(fields["scale"], list) else float(fields["scale"]),
                zero_point=tup(fields["zp"]),
                axis=fields.get("axis"),
                bits=int(fields.get("bits", bits)),
            )
        except IRError as e:
            raise self.error(tree, str(e)) from None

    def number_or_list(self, item: Any) -> Any:
        if isinstance(item, lark.Tree):
            return [self.scalar(_token(c)) for c in item.children if c is not None]
        return self.scalar(item)

    def scalar(self, tok: lark.Token) -> Any:
        if tok.type == "INT":
            return int(tok)
        if tok.type == "FLOAT":
            return float(tok)
        if tok.type == "TRUE":
            return True
        if tok.type == "FALSE":
            return False
        if tok.type == "STRING":
            return json.loads(str(tok))
        raise self.error(tok, f"unexpected {tok!s}")

    def dense(self, tree: lark.Tree, t: TensorType) -> np.ndarray:
        (item,) = tree.children
        if not t.is_static:
            raise self.error(tree, "constants need a static shape")
        np_dtype = t.dtype.numpy
        if isinstance(item, lark.Token):  # digest of sidecar data
            key = str(item)[1:-1]
            if key not in self.blobs:
                raise self.error(item, f"constant data \"{key}\" is not in the sidecar .npz")
            array = np.asarray(self.blobs[key])
            if array.dtype != np_dtype or array.shape != t.static_shape:
                raise self.error(item, f"sidecar data \"{key}\" is {array.dtype}{list(array.shape)}, not {t}")
            return array
        if item.data == "splat":
            return np.full(t.static_shape, self._element(_token(item.children[0]), t.dtype), dtype=np_dtype)
        values = [self._element(_token(c), t.dtype) for c in item.children if c is not None]
        if len(values) != t.size:
            raise self.error(tree, f"{len(values)} elements for {t} ({t.size} expected)")
        return np.array(values, dtype=np_dtype).reshape(t.static_shape)

    def _element(self, tok: lark.Token, dtype: DType) -> Any:
        value = self.scalar(tok)
        if dtype is DType.BOOL:
            if not isinstance(value, bool):
                raise self.error(tok, "bool constants hold true/false")
            return value
        if isinstance(value, (bool, str)):
            raise self.error(tok, f"{value!r} is not a {dtype} value")
        if dtype.is_integer:
            if not isinstance(value, int):
                raise self.error(tok, f"{tok} is not an integer")
            info = np.iinfo(dtype.numpy)
            if not info.min <= value <= info.max:
                raise self.error(tok, f"{value} does not fit in {dtype}")
        return value

    def attrs(self, tree: lark.Tree, schema: Mapping[str, Any], op_tok: lark.Token) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for attr in tree.children:
            if attr is None:
                continue
            key_tok, val = attr.children
            key = str(key_tok)
            if key in out:
                raise self.error(key_tok, f"attribute '{key}' is given twice")
            spec = schema.get(key)
            if spec is None:
                known = ", ".join(schema) or "none"
                raise self.error(key_tok, f"op '{op_tok}' has no attribute '{key}' (known: {known})")
            raw = self.attr_value(val)
            try:
                out[key] = coerce_attr(spec.kind, raw, f"attribute '{key}'")
            except IRError as e:
                raise self.error(key_tok, str(e)) from None
        return out

    def scheme(self, tree: lark.Tree) -> QuantScheme:
        (attrs,) = tree.children
        values: dict[str, Any] = {}
        for attr in attrs.children:
            if attr is None:
                continue
            key_tok, val = attr.children
            if str(key_tok) in values:
                raise self.error(key_tok, f"scheme: '{key_tok}' is given twice")
            values[str(key_tok)] = self.attr_value(val)
        try:
            return QuantScheme.from_attrs(values)
        except IRError as e:
            raise self.error(tree, str(e)) from None

    def attr_value(self, val: Any) -> Any:
        if isinstance(val, lark.Token):
            return self.scalar(val)
        if val.data == "list":
            return [self.scalar(c) for c in val.children if c is not None]
        if val.data == "dtype_name":
            return str(val.children[0])
        if val.data == "tensor_value":
            type_tree, dense = val.children
            t = self.type(type_tree)
            return Tensor(self.dense(dense, t))
        raise self.error(val, "unexpected attribute value")


