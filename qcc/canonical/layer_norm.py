"""Layer normalization in any exporter's spelling becomes ``layer_norm``: the deviation
``x - mean(x)`` times ``1/sqrt(var + eps)`` (or divided by ``sqrt(var + eps)``), with the
statistics spelled any way ``statistics`` recognizes, then optionally scaled by a constant gamma
and shifted by a constant beta. Statistics over axes that are not the last ones (tf2onnx keeps
the normalized axis where the model had it) become a transpose, ``layer_norm`` and the inverse
transpose."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qcc.canonical.statistics import centered, inverse_std_of, std_of, variance_of
from qcc.ir.core import Graph, Node, Value
from qcc.ir.rewrite import const_operand, drop_unused_constants, erase_dead, replace_result, single_user, used_only_by


@dataclass(frozen=True)
class LayerNorm:
    """``x`` normalized over ``axes``, times ``gamma`` plus ``beta`` (broadcast to x's shape);
    ``last`` is the node whose result the rewrite replaces."""

    x: Value
    axes: tuple[int, ...]
    epsilon: float
    gamma: np.ndarray
    beta: np.ndarray
    last: Node
    nodes: tuple[Node, ...]


def _normalizing_step(node: Node) -> tuple[Value, Value, np.ndarray, float, list[Node]] | None:
    """For ``deviation * inv_std [* gamma]`` or ``deviation / std``: (deviation, variance, gamma,
    epsilon, nodes)."""
    if node.op == "div":
        std = std_of(node.inputs[1])
        return (node.inputs[0], std.variance, np.ones((), np.float32), std.epsilon, [*std.nodes]) if std is not None else None
    if node.op != "mul":
        return None
    for d, scale in (node.inputs, node.inputs[::-1]):
        inv = inverse_std_of(scale)
        if inv is not None:
            return d, inv.variance, np.ones((), np.float32), inv.epsilon, [*inv.nodes]
        inner = scale.producer
        found = const_operand(inner) if inner is not None and inner.op == "mul" else None
        inv = inverse_std_of(inner.inputs[1 - found[0]]) if found is not None else None  # type: ignore[union-attr]
        if inv is not None:
            return d, inv.variance, np.asarray(found[1].data), inv.epsilon, [inner, *inv.nodes]  # type: ignore[index,list-item]
    return None


def match_layer_norm(node: Node) -> LayerNorm | None:
    """Match a decomposed layer norm whose normalizing product (or quotient) is ``node``."""
    if node.op not in ("mul", "div") or not node.result.type.dtype.is_float:
        return None
    step = _normalizing_step(node)
    deviation = centered(step[0]) if step is not None else None
    if step is None or deviation is None:
        return None
    _, variance, gamma, epsilon, inv_nodes = step
    x, axes = deviation.source, deviation.axes
    var_nodes = variance_of(variance, x, axes)
    if var_nodes is None:
        return None
    nodes = {id(n): n for n in (*deviation.nodes, *var_nodes, *inv_nodes, node)}
    last, beta = node, np.zeros((), np.float32)
    for op in ("mul", "add"):
        user = single_user(last.result)
        found = const_operand(user) if user is not None and user.op == op else None
        if found is None or user.result.type != x.type:  # type: ignore[union-attr]
            continue
        if op == "mul":
            gamma = gamma * np.asarray(found[1].data)
        else:
            beta = np.asarray(found[1].data)
        assert user is not None  # found above
        last = user
        nodes[id(user)] = user
    if last.result.type != x.type or not all(used_only_by(r, list(nodes.values())) for n in nodes.values() if n is not last for r in n.results):
        return None
    return LayerNorm(x, axes, epsilon, gamma, beta, last, tuple(nodes.values()))


def _per_normalized_element(array: np.ndarray, x_shape: tuple[int, ...], perm: list[int], kept: int) -> np.ndarray | None:
    """``array`` (broadcast to x) laid out over the normalized axes, or None if it varies along a
    kept axis."""
    full = np.broadcast_to(array, x_shape).transpose(perm)
    first = full[(0,) * kept]
    return first.copy() if np.array_equal(full, np.broadcast_to(first, full.shape)) else None


def rewrite_layer_norm(graph: Graph, m: LayerNorm) -> bool:
    """Replace the matched chain by ``layer_norm`` (between transposes when the normalized axes
    are not the last ones). False, changing nothing, if gamma or beta varies along a kept axis."""
    shape, rank = m.x.type.static_shape, m.x.type.rank
    perm = [a for a in range(rank) if a not in m.axes] + list(m.axes)
    kept = rank - len(m.axes)
    dtype = m.x.type.dtype.numpy
    gamma = _per_normalized_element(m.gamma.astype(dtype), shape, perm, kept)
    beta = _per_normalized_element(m.beta.astype(dtype), shape, perm, kept)
    if gamma is None or beta is None:
        return False
    name = m.last.result.name
    constants = [v for n in m.nodes for v in n.inputs if v.is_const]
    source = m.x
    if perm != list(range(rank)):
        source = _insert(graph, m.last, "transpose", [source], {"perm": perm}, f"{name}.normalized_last")
    operands = [source, graph.add_const(gamma, f"{name}.gamma")]
    if np.any(beta != 0):
        operands.append(graph.add_const(beta, f"{name}.beta"))
    transposed = perm != list(range(rank))
    result = _insert(graph, m.last, "layer_norm", operands, {"axis": kept, "epsilon": m.epsilon}, f"{name}.normalized" if transposed else name)
    if transposed:
        result = _insert(graph, m.last, "transpose", [result], {"perm": [int(a) for a in np.argsort(perm)]}, f"{name}.restored")
    replace_result(graph, m.last.result, result)
    erase_dead(graph, list(m.nodes))
    drop_unused_constants(graph, constants)
    return True


def _insert(graph: Graph, before: Node, op: str, operands: list[Value], attrs: dict, name: str) -> Value:
    node = graph.create_node(op, operands, attrs, names=name)
    graph.insert(node, before=before)
    return node.result
