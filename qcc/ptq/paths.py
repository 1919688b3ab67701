"""The two networks layer-by-layer PTQ methods run side by side: the fake-quantized one and the
float one.

Empirical bias correction and AdaRound change a layer from the input it sees with everything
upstream quantized (weights on their grids, activations rounded to their calibrated ranges,
upstream layers already corrected); AdaRound also needs the float network's input and output of
the layer, as they were before it changed any weight. Both are paths of the layer walk
(qcc.ptq.walk), which runs every node once per sample on each.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from qcc.interp.interpreter import NodeEvaluator, float_node
from qcc.ir.core import Graph, Node
from qcc.ptq.walk import NetworkPath
from qcc.quant.fakequant import FakeQuant, fake_quantize

QUANTIZED = "quantized"  # the network with everything fake-quantized
FLOAT = "float"  # the float network, with the weights it had before a pass changed them


def fake_quant_feeds(graph: Graph, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Graph inputs rounded to their calibrated grids, as FakeQuant.run rounds them."""
    out = {}
    for value in graph.inputs:
        q = value.type.quant
        array = np.asarray(feeds[value.name])
        out[value.name] = fake_quantize(array, q) if q is not None and value.type.dtype.is_float else array
    return out


def quantized_path(fq: FakeQuant) -> NetworkPath:
    """The fake-quantized network as a walk path: inputs rounded to their grids, weights to
    ``fq.weights`` (read at each node, so a pass may update them as it goes)."""
    return NetworkPath(QUANTIZED, fq.evaluator(), fake_quant_feeds)


def float_path(weights: Mapping[int, np.ndarray]) -> NetworkPath:
    """The float network with some layers' original weights (by node id) as a walk path."""
    return NetworkPath(FLOAT, with_weights(weights))


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
