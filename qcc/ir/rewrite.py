"""Small rewrite helpers shared by the importer and the passes, so no pass walks the graph by hand
for the common cases: match a node by op and operand producers, erase dead code."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

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


def used_only_by(value: Value, nodes: Sequence[Node]) -> bool:
    """True if every use of ``value`` is by one of ``nodes`` and it is not a graph output (so the
    nodes may be replaced without ``value`` escaping)."""
    allowed = {id(n) for n in nodes}
    graph = value.producer.graph if value.producer is not None else None
    if graph is not None and any(o is value for o in graph.outputs):
        return False
    return all(id(u.node) in allowed for u in value.uses)


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


def set_const_operand(graph: Graph, node: Node, index: int, array: np.ndarray, hint: str = "c") -> Value:
    """Make operand ``index`` of ``node`` a constant holding ``array``. The old constant, if no
    longer used, is dropped and its name passes to the new one (weights keep their names through
    folding, equalization and bias correction)."""
    old = node.inputs[index]
    new = graph.add_const(array, old.name if old.is_const else hint)
    node.replace_input(index, new)
    if old.is_const and not old.uses and not any(o is old for o in graph.outputs):
        graph.constants.remove(old)
        graph.release_names([old])
        graph.rename(new, old.name)
    return new


def add_const_operand(graph: Graph, node: Node, array: np.ndarray, hint: str) -> Value:
    """Append a constant operand (e.g. a bias a conv did not have)."""
    const = graph.add_const(array, hint)
    node.append_input(const)
    return const


def replace_result(graph: Graph, old: Value, new: Value) -> None:
    """Reroute every use of ``old`` to ``new``, remove old's node if dead, and let ``new`` take over
    old's name (the name users see in printed IR and in the model's outputs)."""
    name = old.name
    graph.replace_all_uses_with(old, new)
    if old.producer is not None and is_dead(graph, old.producer):
        graph.remove_node(old.producer)
    if not graph.has_name(name):
        graph.rename(new, name)


def uniform_constant(value: Value) -> np.ndarray | None:
    """The one element of a constant whose elements are all equal (a scalar in disguise, such as
    ``[[[0.5]]]``), as a 0-d array of its type; None for activations, empty or varying constants."""
    if not value.is_const or value.data is None or value.data.size == 0:
        return None
    first = value.data.reshape(-1)[0]
    return np.asarray(first) if bool(np.all(value.data == first)) else None


def const_operand(node: Node) -> tuple[int, Value] | None:
    """(index, value) of a binary node's one constant operand (None if it has none or two)."""
    consts = [(i, v) for i, v in enumerate(node.inputs) if v.is_const]
    return consts[0] if len(node.inputs) == 2 and len(consts) == 1 else None


def erase_dead(graph: Graph, nodes: list[Node]) -> None:
    """Remove those of ``nodes`` that are dead, latest first, so a matched chain dies in one sweep,
    and the constants only they used (other dead code in the graph is left for dce)."""
    position = {id(n): i for i, n in enumerate(graph.nodes)}
    freed: dict[int, Value] = {}
    for node in sorted(nodes, key=lambda n: position.get(id(n), -1), reverse=True):
        if node.graph is graph and is_dead(graph, node):
            freed.update((id(v), v) for v in node.inputs if v.is_const)
            graph.remove_node(node)
    drop_unused_constants(graph, list(freed.values()))


def drop_unused_constants(graph: Graph, values: Sequence[Value]) -> None:
    """Remove those of the constants ``values`` that nothing uses or returns any more."""
    outputs = {id(v) for v in graph.outputs}
    unused = [v for v in values if v.is_const and not v.uses and id(v) not in outputs]
    graph.constants = [c for c in graph.constants if all(c is not v for v in unused)]
    graph.release_names(unused)


def erase_dead_producers(graph: Graph, value: Value) -> None:
    """Remove the computation of ``value`` that nothing uses any more (walking up through its
    producers' operands), e.g. the ReduceMax of a softmax's shift once the shift is gone."""
    pending = [value]
    while pending:
        node = pending.pop().producer
        if node is not None and node.graph is graph and is_dead(graph, node):
            operands = list(node.inputs)
            erase_dead(graph, [node])
            pending.extend(operands)
