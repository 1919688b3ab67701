"""Which values calibration gives parameters to (shared by `calibrate` and `load-encodings`)."""

from __future__ import annotations

from qcc.ir.core import Graph, Value


def observed_values(graph: Graph) -> list[Value]:
    """Float activations: graph inputs and float node results (constants are weights, not
    activations; integer/bool values are indices and masks)."""
    values = [v for v in graph.inputs if v.type.dtype.is_float]
    values += [r for n in graph.nodes for r in n.results if r.type.dtype.is_float]
    return values
