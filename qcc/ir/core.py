"""Values, nodes and graphs: the mutable SSA structure every pass reads and rewrites.

Each value is defined once (graph input, constant, or node result) and keeps an insertion-ordered
list of its uses. Operands change only through ``Node.replace_input`` and
``Graph.replace_all_uses_with`` so that use lists never go stale. Value names are unique within a
graph and are made so when values are created, which is what makes printing deterministic.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from qcc.errors import IRError
from qcc.ir.ops import OpDef, get_op
from qcc.ir.types import QuantParams, QuantScheme, TensorType, tensor_type_of


@dataclass(frozen=True, slots=True)
class Use:
    """One use of a value: operand ``index`` of ``node`` (a dataclass, not a NamedTuple, whose
    ``index`` field would shadow ``tuple.index``)."""

    node: Node
    index: int


class Value:
    """An SSA value. ``producer`` is the defining node (None for graph inputs and constants);
    ``data`` holds a constant's array (read-only)."""

    __slots__ = ("name", "type", "producer", "result_index", "data", "uses")

    def __init__(
        self,
        name: str,
        type: TensorType,
        producer: Node | None = None,
        result_index: int = 0,
        data: np.ndarray | None = None,
    ) -> None:
        self.name = name
        self.type = type
        self.producer = producer
        self.result_index = result_index
        self.data = data
        self.uses: list[Use] = []

    @property
    def is_const(self) -> bool:
        return self.data is not None

    @property
    def const_array(self) -> np.ndarray:
        """A constant's data, for code that has already established the value is a constant."""
        if self.data is None:
            raise IRError(f"value '{self.name}' is not a constant")
        return self.data

    @property
    def quant(self) -> QuantParams:
        """This value's quantization parameters, for code that only runs on quantized values."""
        if self.type.quant is None:
            raise IRError(f"value '{self.name}' ({self.type}) is not quantized")
        return self.type.quant

    @property
    def users(self) -> list[Node]:
        """Distinct using nodes, in first-use order."""
        seen: dict[int, Node] = {}
        for use in self.uses:
            seen.setdefault(id(use.node), use.node)
        return list(seen.values())

    def __repr__(self) -> str:
        return f"<Value %{self.name}: {self.type}>"


class Node:
    """An operation: ``op`` applied to operand values, producing result values."""

    __slots__ = ("op", "_inputs", "results", "_attrs", "graph")

    def __init__(self, op: str, attrs: Mapping[str, Any]) -> None:
        self.op = op
        self._inputs: list[Value] = []
        self.results: list[Value] = []
        self._attrs: dict[str, Any] = dict(attrs)
        self.graph: Graph | None = None

    @property
    def opdef(self) -> OpDef:
        return get_op(self.op)

    @property
    def name(self) -> str:
        """A node is known by its first result's name (what users see in printed IR)."""
        return self.results[0].name if self.results else self.op

    @property
    def inputs(self) -> tuple[Value, ...]:
        return tuple(self._inputs)

    @property
    def result(self) -> Value:
        if len(self.results) != 1:
            raise IRError(f"node '{self.name}' ({self.op}) has {len(self.results)} results, not 1")
        return self.results[0]

    @property
    def attrs(self) -> Mapping[str, Any]:
        return dict(self._attrs)

    def attr(self, key: str) -> Any:
        return self._attrs[key]

    def set_attr(self, key: str, value: Any) -> None:
        """Set one attribute, validated against the op's schema."""
        merged = dict(self._attrs)
        merged[key] = value
        self._attrs = self.opdef.normalize_attrs(merged, f"node '{self.name}'")

    def replace_input(self, index: int, value: Value) -> None:
        old = self._inputs[index]
        old.uses.remove(Use(self, index))
        self._inputs[index] = value
        value.uses.append(Use(self, index))

    def append_input(self, value: Value) -> None:
        """Add a trailing operand (e.g. the optional bias of a conv)."""
        self._inputs.append(value)
        value.uses.append(Use(self, len(self._inputs) - 1))

    def _attach_inputs(self, values: Sequence[Value]) -> None:
        for i, v in enumerate(values):
            self._inputs.append(v)
            v.uses.append(Use(self, i))

    def _detach_inputs(self) -> None:
        for i, v in enumerate(self._inputs):
            v.uses.remove(Use(self, i))
        self._inputs = []

    def __repr__(self) -> str:
        return f"<Node {self.name} = {self.op}>"


_NAME_BAD_CHARS = re.compile(r"[^A-Za-z0-9_.]")


def sanitize_name(hint: str) -> str:
    """Make a plain graph name from a hint: letters, digits, '_' and '.' only (the ``@name`` of
    the text form; value names are kept as given, see ``Graph.unique_name``)."""
    name = _NAME_BAD_CHARS.sub("_", hint)
    return name or "v"


class Graph:
    """A function from input tensors to output tensors, as SSA values and nodes in topological
    order."""

    def __init__(self, name: str = "main") -> None:
        self.name = sanitize_name(name)
        self.inputs: list[Value] = []
        self.outputs: list[Value] = []
        self.constants: list[Value] = []
        self.nodes: list[Node] = []
        self._names: set[str] = set()
        self._counters: dict[str, int] = {}
        self.scheme: QuantScheme | None = None  # what the graph is (to be) quantized for

    # ---- names -------------------------------------------------------------------------------

    def unique_name(self, hint: str) -> str:
        """Reserve and return a fresh value name derived from ``hint``. The hint is kept verbatim
        (an ONNX name like ``gpu_0/data_0`` stays what users know it as; the text form quotes it),
        only made unique with a ``_N`` suffix."""
        base = hint or "v"
        name = base
        if name in self._names:
            n = self._counters.get(base, 0)
            while f"{base}_{n}" in self._names:
                n += 1
            self._counters[base] = n + 1
            name = f"{base}_{n}"
        self._names.add(name)
        return name

    def has_name(self, name: str) -> bool:
        return name in self._names

    def release_names(self, values: Sequence[Value]) -> None:
        """Free the names of values that will never be placed in the graph (e.g. the results of a
        node that was created and then folded away instead of inserted)."""
        for v in values:
            self._names.discard(v.name)

    def rename(self, value: Value, hint: str) -> str:
        """Give a value a new name derived from ``hint`` (made unique); frees its old name."""
        self._names.discard(value.name)
        value.name = self.unique_name(hint)
        return value.name

    # ---- creation ----------------------------------------------------------------------------

    def add_input(self, name: str, type: TensorType) -> Value:
        value = Value(self.unique_name(name), type)
        self.inputs.append(value)
        return value

    def add_const(self, array: np.ndarray | Any, name: str = "c") -> Value:
        arr = np.array(array, copy=True)
        arr.setflags(write=False)
        value = Value(self.unique_name(name), tensor_type_of(arr), data=arr)
        self.constants.append(value)
        return value

    def create_node(
        self,
        op: str,
        inputs: Sequence[Value],
        attrs: Mapping[str, Any] | None = None,
        *,
        names: Sequence[str] | str | None = None,
        result_types: Sequence[TensorType] | None = None,
    ) -> Node:
        """Build a node with validated attributes and inferred result types, not yet placed in the
        node list (see ``insert``). ``result_types`` overrides inference (the parser uses it and
        the verifier checks it)."""
        opdef = get_op(op)
        hint = names if isinstance(names, str) else None
        where = f"node '{hint or op}'"
        opdef.check_arity(len(inputs), where)
        norm = opdef.normalize_attrs(attrs or {}, where)
        if result_types is None:
            try:
                result_types = opdef.infer([v.type for v in inputs], norm)
            except IRError as e:
                raise IRError(f"{where}: {e}") from None
        node = Node(op, norm)
        if isinstance(names, str) or names is None:
            base = names or op
            names = [base] if len(result_types) == 1 else [f"{base}.{i}" for i in range(len(result_types))]
        if len(names) != len(result_types):
            raise IRError(f"{where}: {len(names)} result names for {len(result_types)} results")
        node.results = [Value(self.unique_name(n), t, node, i) for i, (n, t) in enumerate(zip(names, result_types))]
        node._attach_inputs(inputs)
        return node

    def insert(self, node: Node, *, before: Node | None = None, after: Node | None = None) -> Node:
        """Place a created node in the node list (at the end by default)."""
        node.graph = self
        if before is not None:
            self.nodes.insert(self._index(before), node)
        elif after is not None:
            self.nodes.insert(self._index(after) + 1, node)
        else:
            self.nodes.append(node)
        return node

    def add_node(
        self,
        op: str,
        inputs: Sequence[Value],
        attrs: Mapping[str, Any] | None = None,
        *,
        names: Sequence[str] | str | None = None,
        result_types: Sequence[TensorType] | None = None,
        before: Node | None = None,
        after: Node | None = None,
    ) -> Node:
        node = self.create_node(op, inputs, attrs, names=names, result_types=result_types)
        return self.insert(node, before=before, after=after)

    # ---- rewriting ---------------------------------------------------------------------------

    def replace_all_uses_with(self, old: Value, new: Value) -> None:
        """Point every use of ``old`` (operands and graph outputs) at ``new``."""
        for use in list(old.uses):
            use.node.replace_input(use.index, new)
        self.outputs = [new if v is old else v for v in self.outputs]

    def remove_node(self, node: Node) -> None:
        """Remove a node whose results are unused."""
        for r in node.results:
            if r.uses or any(o is r for o in self.outputs):
                raise IRError(f"cannot remove node '{node.name}': result '{r.name}' is still used")
        node._detach_inputs()
        self.nodes.pop(self._index(node))
        node.graph = None
        for r in node.results:
            self._names.discard(r.name)

    def discard(self, node: Node) -> None:
        """Drop a node made by ``create_node`` that will not be inserted (e.g. folded to a
        constant instead): its operand uses and result names are released."""
        node._detach_inputs()
        self.release_names(node.results)

    def remove_unused_constants(self) -> int:
        outputs = {id(v) for v in self.outputs}
        keep = [c for c in self.constants if c.uses or id(c) in outputs]
        removed = len(self.constants) - len(keep)
        self.release_names([c for c in self.constants if not (c.uses or id(c) in outputs)])
        self.constants = keep
        return removed

    def _index(self, node: Node) -> int:
        for i, n in enumerate(self.nodes):
            if n is node:
                return i
        raise IRError(f"node '{node.name}' is not in graph '{self.name}'")

    # ---- queries -----------------------------------------------------------------------------

    def values(self) -> Iterator[Value]:
        """Every value in definition order: inputs, constants, node results."""
        yield from self.inputs
        yield from self.constants
        for node in self.nodes:
            yield from node.results

    def value(self, name: str) -> Value:
        for v in self.values():
            if v.name == name:
                return v
        raise IRError(f"graph '{self.name}' has no value '%{name}'")

    def find_nodes(self, op: str | Iterable[str]) -> list[Node]:
        ops = {op} if isinstance(op, str) else set(op)
        return [n for n in self.nodes if n.op in ops]

    def __repr__(self) -> str:
        return f"<Graph @{self.name}: {len(self.nodes)} nodes>"
