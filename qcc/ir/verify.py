"""The graph verifier: checks the invariants every pass may rely on and must preserve.

SSA (each value defined once, names unique), topological order (an operand is defined before its
use, which also rules out cycles), use lists that match the operands, attributes that match the
op's schema, and result types that match the op's type rule.
"""

from __future__ import annotations

from qcc.errors import IRError, VerifyError
from qcc.ir.core import Graph, Use, Value


def verify(graph: Graph) -> None:
    """Raise VerifyError naming the first broken invariant."""
    defined: set[int] = set()
    names: dict[str, Value] = {}

    def define(value: Value, what: str) -> None:
        if id(value) in defined:
            raise VerifyError(f"value %{value.name} ({what}) is defined twice")
        other = names.get(value.name)
        if other is not None:
            raise VerifyError(f"two values are named %{value.name}")
        defined.add(id(value))
        names[value.name] = value

    for value in graph.inputs:
        if value.producer is not None or value.is_const:
            raise VerifyError(f"graph input %{value.name} has a producer or data")
        define(value, "graph input")
    for value in graph.constants:
        if value.data is None:
            raise VerifyError(f"constant %{value.name} has no data")
        if value.data.dtype != value.type.dtype.numpy or tuple(value.data.shape) != tuple(value.type.shape):
            raise VerifyError(f"constant %{value.name}: data {value.data.dtype}{list(value.data.shape)} does not match its type {value.type}")
        define(value, "constant")
    node_ids = {id(n) for n in graph.nodes}
    for node in graph.nodes:
        where = f"node %{node.name} ({node.op})"
        if node.graph is not graph:
            raise VerifyError(f"{where} does not belong to this graph")
        for i, value in enumerate(node.inputs):
            if id(value) not in defined:
                raise VerifyError(f"{where}: operand #{i} %{value.name} is used before it is defined (order or cycle)")
            if Use(node, i) not in value.uses:
                raise VerifyError(f"{where}: operand #{i} %{value.name} does not list this use")
        try:
            opdef = node.opdef
            opdef.check_arity(len(node.inputs), where)
            norm = opdef.normalize_attrs(node.attrs, where)
            inferred = opdef.infer([v.type for v in node.inputs], norm)
        except VerifyError:
            raise
        except IRError as e:
            raise VerifyError(f"{where}: {e}") from None
        if norm != dict(node.attrs):
            raise VerifyError(f"{where}: attributes are not in normal form")
        if len(inferred) != len(node.results):
            raise VerifyError(f"{where}: {len(node.results)} results, the op gives {len(inferred)}")
        for r, (value, want) in enumerate(zip(node.results, inferred)):
            if value.producer is not node or value.result_index != r:
                raise VerifyError(f"{where}: result %{value.name} does not point back to its node")
            if (value.type.dtype, value.type.shape) != (want.dtype, want.shape):
                raise VerifyError(f"{where}: result %{value.name} has type {value.type}, the op gives {want}")
            define(value, "node result")
    for value in graph.values():
        for use in value.uses:
            if id(use.node) not in node_ids:
                raise VerifyError(f"value %{value.name} lists a use by a node outside the graph")
            if use.node.inputs[use.index] is not value:
                raise VerifyError(f"value %{value.name} lists a stale use")
    for value in graph.outputs:
        if id(value) not in defined:
            raise VerifyError(f"graph output %{value.name} is not defined in the graph")
