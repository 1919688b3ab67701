"""A matrix product of a one-hot encoding with a constant, ``Cast(Equal(i, arange(K))) @ W``
(how tf2onnx and jax write an embedding lookup), becomes ``Gather(W, i)``: the same rows,
selected instead of multiplied, so the quantized model neither quantizes the one-hot nor spends
K multiply-adds per output on it.

Exactness for every integer ``i``: an index outside [0, K) matches no entry of the arange and
gives a zero row. The rewrite appends a zero row K to W and clamps ``i`` to [-1, K], and both -1
(counted from the end) and K pick that row."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qcc.ir.core import Graph, Node, Value
from qcc.ir.rewrite import erase_dead, replace_result, used_only_by


@dataclass(frozen=True)
class OneHotProduct:
    indices: Value  # integer data, shape [..., 1]
    table: np.ndarray  # W, [K, D]
    last: Node
    nodes: tuple[Node, ...]


def _is_arange_row(value: Value) -> int | None:
    """K if ``value`` is an integer constant [1, ..., 1, K] holding 0..K-1, else None."""
    if not value.is_const or value.data is None or value.type.dtype.is_float or value.type.rank == 0:
        return None
    shape = value.type.static_shape
    k = shape[-1]
    if any(d != 1 for d in shape[:-1]) or not np.array_equal(value.data.reshape(-1), np.arange(k)):
        return None
    return k


def match_one_hot_product(node: Node) -> OneHotProduct | None:
    """Match ``matmul(cast(equal(i, arange)), W)`` at the matmul ``node``."""
    if node.op != "matmul" or len(node.inputs) != 2:
        return None
    one_hot, weights = node.inputs
    cast = one_hot.producer
    if not weights.is_const or weights.type.rank != 2 or cast is None or cast.op != "cast" or not one_hot.type.dtype.is_float:
        return None
    equal = cast.inputs[0].producer
    if equal is None or equal.op != "equal":
        return None
    for indices, arange in (equal.inputs, equal.inputs[::-1]):
        k = _is_arange_row(arange)
        shape = tuple(indices.type.shape)
        if k is None or indices.type.dtype.is_float or len(shape) < 2 or shape[-1] != 1:
            continue
        if tuple(one_hot.type.shape) != (*shape[:-1], k) or weights.type.shape[0] != k:
            continue
        if used_only_by(one_hot, [node]) and used_only_by(cast.inputs[0], [cast]):
            return OneHotProduct(indices, np.asarray(weights.data), node, (cast, equal, node))
    return None


def rewrite_one_hot_product(graph: Graph, m: OneHotProduct) -> None:
    k, name = m.table.shape[0], m.last.result.name
    shape = tuple(m.indices.type.shape)
    flat = graph.create_node("reshape", [m.indices], {"shape": list(shape[:-1])}, names=f"{name}.indices")
    clamped = graph.create_node("clip", [flat.result], {"min": -1.0, "max": float(k)}, names=f"{name}.clamped")
    table = np.concatenate([m.table, np.zeros((1, m.table.shape[1]), m.table.dtype)])
    gather = graph.create_node("gather", [graph.add_const(table, f"{name}.rows"), clamped.result], {"axis": 0}, names=name)
    for new in (flat, clamped, gather):
        graph.insert(new, before=m.last)
    replace_result(graph, m.last.result, gather.result)
    erase_dead(graph, list(m.nodes))
