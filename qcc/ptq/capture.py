"""A layer's input on the float network and on the fake-quantized network, one sample at a time.

Layer-by-layer methods (empirical bias correction, AdaRound) need, for the layer they work on, the
input it sees when everything upstream is already quantized. Running the whole graph per sample
would do the work of the layers downstream for nothing, so the interpreter's observer stops the
run as soon as the wanted value exists: a layer near the input costs a few nodes, not the model.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from qcc.interp.interpreter import NodeEvaluator, float_node, run
from qcc.ir.core import Graph, Node, Value
from qcc.quant.fakequant import FakeQuant, fake_quantize


class _Captured(Exception):
    """Raised by the observer to end a run once the wanted value is computed."""


def capture(graph: Graph, feeds: Mapping[str, np.ndarray], value: Value, evaluate_node: NodeEvaluator = float_node) -> np.ndarray:
    """The array ``value`` takes when ``graph`` runs on ``feeds`` (nodes after it are not run)."""
    box: list[np.ndarray] = []

    def observer(seen: Value, array: np.ndarray) -> None:
        if seen is value:
            box.append(array)
            raise _Captured

    with contextlib.suppress(_Captured):  # the observer stops the run once it has what it came for
        run(graph, feeds, observer=observer, evaluate_node=evaluate_node)
    if not box:
        raise AssertionError(f"value '{value.name}' was not computed")
    return box[0]


def fake_quant_feeds(graph: Graph, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Graph inputs rounded to their calibrated grids, as FakeQuant.run rounds them."""
    out = {}
    for value in graph.inputs:
        q = value.type.quant
        array = np.asarray(feeds[value.name])
        out[value.name] = fake_quantize(array, q) if q is not None and value.type.dtype.is_float else array
    return out


def quantized_input(graph: Graph, fq: FakeQuant, feeds: Mapping[str, np.ndarray], node: Node) -> np.ndarray:
    """The data input of ``node`` with everything upstream fake-quantized."""
    return capture(graph, fake_quant_feeds(graph, feeds), node.inputs[0], fq.evaluator())


def with_weights(weights: Mapping[int, np.ndarray]) -> NodeEvaluator:
    """The float evaluator with some layers' weights replaced (by node id): the float network as
    it was before a pass started changing weights."""

    def evaluate_node(node: Node, operands: Sequence[np.ndarray]) -> list[np.ndarray]:
        w = weights.get(id(node))
        if w is None:
            return float_node(node, operands)
        return float_node(node, [operands[0], w, *operands[2:]])

    return evaluate_node


def running_mean(samples: Iterable[np.ndarray]) -> tuple[np.ndarray, int]:
    """Element-wise mean of a stream of equally shaped arrays (float64), and their count."""
    total: np.ndarray | None = None
    n = 0
    for array in samples:
        total = array.astype(np.float64) if total is None else total + array
        n += 1
    if total is None:
        raise ValueError("no samples")
    return total / n, n
