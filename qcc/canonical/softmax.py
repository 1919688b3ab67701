"""Softmax written out, ``exp(x - c) / sum(exp(x - c))`` along one axis, becomes ``softmax``.
``c`` is anything constant along that axis (usually ReduceMax(x), sometimes clamped, as jax
writes it, or absent): subtracting it leaves the quotient unchanged, and ``softmax`` subtracts the
maximum itself. The division may also be a product with the sum's reciprocal."""

from __future__ import annotations

from dataclasses import dataclass

from qcc.canonical.statistics import through_reshapes
from qcc.ir.core import Graph, Node, Value
from qcc.ir.rewrite import erase_dead, erase_dead_producers, replace_result, used_only_by


@dataclass(frozen=True)
class Softmax:
    x: Value
    axis: int
    last: Node
    nodes: tuple[Node, ...]


def _sum_along_one_axis(value: Value, exps: Value) -> tuple[int, list[Node]] | None:
    """(axis, nodes) when ``value`` is ReduceSum of ``exps`` over one axis (keep-dims reshapes
    looked through)."""
    core, nodes = through_reshapes(value)
    node = core.producer
    if node is None or node.op != "reduce_sum" or node.inputs[0] is not exps or len(node.attr("axes")) != 1:
        return None
    return int(node.attr("axes")[0]), [*nodes, node]


def _denominator(node: Node) -> tuple[Value, Value, list[Node]] | None:
    """(numerator, sum, nodes) for ``e / s`` or ``e * reciprocal(s)`` (either order)."""
    if node.op == "div":
        return node.inputs[0], node.inputs[1], []
    if node.op != "mul":
        return None
    for e, r in (node.inputs, node.inputs[::-1]):
        if r.producer is not None and r.producer.op == "reciprocal":
            return e, r.producer.inputs[0], [r.producer]
    return None


def _constant_along(value: Value, axis: int, rank: int) -> bool:
    shape = (1,) * (rank - value.type.rank) + tuple(value.type.shape)
    return len(shape) == rank and shape[axis] == 1


def match_softmax(node: Node) -> Softmax | None:
    """Match a written-out softmax whose final division (or product) is ``node``."""
    parts = _denominator(node) if node.op in ("div", "mul") and node.result.type.dtype.is_float else None
    if parts is None:
        return None
    exps, total, nodes = parts
    exp = exps.producer
    found = _sum_along_one_axis(total, exps) if exp is not None and exp.op == "exp" else None
    if found is None:
        return None
    axis, sum_nodes = found
    z = exp.inputs[0]  # type: ignore[union-attr]
    x, shift_nodes = z, []
    shift = z.producer
    if shift is not None and shift.op == "sub" and _constant_along(shift.inputs[1], axis, z.type.rank) and shift.inputs[0].type == z.type:
        x, shift_nodes = shift.inputs[0], [shift]
    assert exp is not None  # found only when the sum reads an exp
    chain = [*nodes, *sum_nodes, exp, *shift_nodes, node]
    if node.result.type != x.type or not all(used_only_by(r, chain) for n in chain if n is not node for r in n.results):
        return None
    return Softmax(x, axis, node, tuple(chain))


def rewrite_softmax(graph: Graph, m: Softmax) -> None:
    """Replace the chain by ``softmax``; the shift's own computation (a ReduceMax) dies with it if
    nothing else uses it."""
    new = graph.create_node("softmax", [m.x], {"axis": m.axis}, names=m.last.result.name)
    graph.insert(new, before=m.last)
    shifts = [n.inputs[1] for n in m.nodes if n.op == "sub"]
    replace_result(graph, m.last.result, new.result)
    erase_dead(graph, list(m.nodes))
    for shift in shifts:
        erase_dead_producers(graph, shift)
