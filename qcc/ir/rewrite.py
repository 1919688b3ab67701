"""Small rewrite helpers shared by the importer and the passes, so no pass walks the graph by hand
for the common cases: match a node by op and operand producers, erase dead code."""

from __future__ import annotations

from typing import Callable

from qcc.ir.core import Graph, Node, Value


def is_dead(graph: Graph, node: Node) -> bool:
    """A node is dead when none of its results is used or returned."""
    outputs = {id(v) for v in graph.outputs}
    return not any(r.uses or id(r) in outputs for r in node.results)


def remove_dead_code(graph: Graph) -> int:
    """Erase dead nodes (in reverse order, so chains die in one sweep) and unused constants.
    Returns how many nodes and constants were removed."""
    removed = 0
    for node in reversed(list(graph.nodes)):
        if is_dead(graph, node):
            graph.remove_node(node)
            removed += 1
    return removed + graph.remove_unused_constants()


def producer_op(value: Value) -> str | None:
    """The op of the node defining ``value`` (None for inputs and constants)."""
    return value.producer.op if value.producer is not None else None


def single_user(value: Value) -> Node | None:
    """The only node using ``value``, if it has exactly one use and is not a graph output."""
    if len(value.uses) != 1:
        return None
    node = value.uses[0].node
    if node.graph is not None and any(o is value for o in node.graph.outputs):
        return None
    return node


def match(node: Node, op: str, *operand_ops: str | None, where: Callable[[Node], bool] | None = None) -> bool:
    """True if ``node`` is ``op`` and each listed operand is produced by the listed op
    ('const' matches a constant, None matches anything)."""
    if node.op != op:
        return False
    for value, want in zip(node.inputs, operand_ops):
        if want is None:
            continue
        if want == "const":
            if not value.is_const:
                return False
        elif producer_op(value) != want:
            return False
    return where(node) if where is not None else True
