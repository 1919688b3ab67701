"""Which conv/gemm results leave the graph as their int32 accumulator (``outputs=accumulator``,
docs/arithmetic.md §3.20).

A graph output made by a conv or gemm needs no requantization: the accumulator is the exact
integer result, real value acc * s_x * s_w[c], and the float boundary can dequantize it per
channel. Requantizing it to an int8 grid chosen from calibration clips every value the
calibration did not see. The rule applies where nothing but the float boundary reads the result:
the value is a graph output, or reaches one only through reshape/transpose that keep its channel
axis whole (a concat would join the accumulator with other parts, so it stays int8 there).
"""

from __future__ import annotations

from qcc.ir.core import Graph, Node, Value
from qcc.quant.output_joins import reshaped_axis, transposed_axis

ACCUMULATOR_SOURCES = frozenset({"conv", "gemm"})
"""Float ops whose integer form can return its accumulator (matmul by a constant becomes gemm)."""

ACCUMULATOR_MOVEMENT_OPS = frozenset({"reshape", "transpose"})
"""Data movement an accumulator output may pass through on its way to the float boundary."""


def channel_axis(node: Node) -> int:
    """The axis of ``node``'s result that indexes output channels: 1 for conv (NC...), the last
    for gemm."""
    return 1 if node.op == "conv" else node.result.type.rank - 1


def accumulator_output_nodes(graph: Graph) -> frozenset[int]:
    """Ids of the conv/gemm nodes whose result may stay an int32 accumulator: it reaches the graph
    outputs only through ``ACCUMULATOR_MOVEMENT_OPS`` that keep its channel axis whole."""
    outputs = {id(v) for v in graph.outputs}
    return frozenset(
        id(node) for node in graph.nodes
        if node.op in ACCUMULATOR_SOURCES and _reaches_boundary(node.result, channel_axis(node), outputs)
    )


def _reaches_boundary(value: Value, axis: int, outputs: set[int]) -> bool:
    """Whether only the float boundary reads ``value`` (through movement ops carrying ``axis``)."""
    if not value.users:
        return id(value) in outputs
    return all(_moves_axis(user, value, axis, outputs) for user in value.users)


def _moves_axis(user: Node, value: Value, axis: int, outputs: set[int]) -> bool:
    if user.op not in ACCUMULATOR_MOVEMENT_OPS or user.inputs[0] is not value:
        return False
    if user.op == "transpose":
        moved: int | None = transposed_axis(user.attr("perm"), axis)
    else:
        moved = reshaped_axis(value.type.static_shape, user.result.type.static_shape, axis)
    return moved is not None and _reaches_boundary(user.result, moved, outputs)


def accumulator_values(graph: Graph) -> frozenset[int]:
    """Ids of the values that stay int32 accumulators under ``outputs=accumulator``: the results of
    ``accumulator_output_nodes`` and of the movement ops that carry them to the outputs. They get
    no activation grid, so calibration ranges and activation encodings are not needed for them."""
    ids: set[int] = set()
    pending = [node.result for node in graph.nodes if id(node) in accumulator_output_nodes(graph)]
    while pending:
        value = pending.pop()
        ids.add(id(value))
        pending.extend(user.result for user in value.users if user.op in ACCUMULATOR_MOVEMENT_OPS)
    return frozenset(ids)
