"""Which values calibration gives parameters to (shared by `calibrate` and `load-encodings`), and
which of them keep their whole observed range whatever the method."""

from __future__ import annotations

from qcc.ir.core import Graph, Value
from qcc.ops.integer import lowered_float_ops

RANGE_PRESERVING_OPS = frozenset({"softmax"})
"""Ops besides data movement through which an output's range is the user's: softmax turns clipped
logits into flattened probabilities (the top logit is the answer)."""


def observed_values(graph: Graph) -> list[Value]:
    """Float activations: graph inputs and float node results (constants are weights, not
    activations; integer/bool values are indices and masks)."""
    values = [v for v in graph.inputs if v.type.dtype.is_float]
    values += [r for n in graph.nodes for r in n.results if r.type.dtype.is_float]
    return values


def _data_movement_ops() -> frozenset[str]:
    """Float ops that may lower to pure data movement (the result is the input's values, reordered,
    selected or clamped), per the integer op table."""
    return frozenset(op for op, lowered in lowered_float_ops().items() if any(i.kind == "movement" for i in lowered))


def whole_range_values(graph: Graph) -> set[int]:
    """ids of the values that get their whole observed (min-max) range under every calibration method.

    Clipping an activation's rare tails buys resolution inside the network, where later layers
    average the clipped values away; at a graph output nothing does, and the tails are often the
    answer itself: the largest class logit, a box coordinate at the image's edge, the peak of a
    recognizer's per-step distribution. On the zoo's Paddle recognizers percentile clipping of the
    output (through a reshape/transpose/softmax) cost 5 to 11 dB of output SQNR. So graph outputs,
    and the values reaching one through data movement or softmax, keep min-max."""
    keep = {id(v) for v in graph.outputs}
    passes_range = _data_movement_ops() | RANGE_PRESERVING_OPS
    for node in reversed(list(graph.nodes)):  # topological order reversed: consumers before producers
        if node.op not in passes_range:
            continue
        if any(id(r) in keep for r in node.results):
            keep.update(id(v) for v in node.inputs if not v.is_const and v.type.dtype.is_float)
    return keep
