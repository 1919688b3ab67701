"""The per-layer definition of empirical bias correction and AdaRound, computed the slow way
(what the passes did before the layer walk): for every layer, run the network again from the input
on each sample, stop at the layer, correct or re-round it, go on to the next. O(layers^2) node
evaluations; the tests use it as the oracle the one-walk passes must agree with."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from qcc.interp.interpreter import NodeEvaluator, float_node, run
from qcc.ir.core import Graph, Node, Value
from qcc.passes.adaround import AdaRound
from qcc.passes.correct_bias import CorrectBias, output_shift
from qcc.pipeline import PassContext
from qcc.ptq.activations import ActivationStore
from qcc.ptq.layers import bias_vector, is_weight_layer, set_bias_vector, set_weight
from qcc.ptq.paths import fake_quant_feeds, running_mean, with_weights
from qcc.quant.fakequant import FakeQuant, fake_quantize_weight, weight_axis
from qcc.quant.lowering import Settings

Feeds = Mapping[str, np.ndarray]


class _Captured(Exception):
    """Ends a run once the wanted value is computed."""


def capture(graph: Graph, feeds: Feeds, value: Value, evaluate_node: NodeEvaluator = float_node) -> np.ndarray:
    """The array ``value`` takes when ``graph`` runs on ``feeds`` (later nodes are not run)."""
    box: list[np.ndarray] = []

    def observer(seen: Value, array: np.ndarray) -> None:
        if seen is value:
            box.append(array)
            raise _Captured

    try:
        run(graph, feeds, observer=observer, evaluate_node=evaluate_node)
    except _Captured:
        pass
    assert box, f"value '{value.name}' was not computed"
    return box[0]


def quantized_input(graph: Graph, fq: FakeQuant, feeds: Feeds, node: Node) -> np.ndarray:
    """The data input of ``node`` with everything upstream fake-quantized."""
    return capture(graph, fake_quant_feeds(graph, feeds), node.inputs[0], fq.evaluator())


def correct_bias_per_layer(graph: Graph, calib: Sequence[Feeds], settings: Settings) -> None:
    fq = FakeQuant(graph, settings)
    for node in [n for n in graph.nodes if is_weight_layer(n)]:
        error = CorrectBias._quantization_error(node, settings)
        if not np.any(error):
            continue
        mean, _ = running_mean(quantized_input(graph, fq, feeds, node) for feeds in calib)
        set_bias_vector(graph, node, bias_vector(node) - output_shift(node, error, mean))  # type: ignore[operator]


def adaround_per_layer(graph: Graph, calib: Sequence[Feeds], settings: Settings, options: AdaRound, seed: int) -> None:
    layers = [n for n in graph.nodes if is_weight_layer(n) and n.op in ("conv", "gemm")]
    float_eval = with_weights({id(n): np.asarray(n.inputs[1].data) for n in layers})
    fq = FakeQuant(graph, settings)
    with ActivationStore(options.memory_mb << 20) as store:
        for index, node in enumerate(layers):
            s = settings.for_node(node)
            x_q = np.concatenate([quantized_input(graph, fq, feeds, node) for feeds in calib]).astype(np.float32)
            x_f = np.concatenate([capture(graph, feeds, node.inputs[0], float_eval) for feeds in calib]).astype(np.float32)
            rng = np.random.default_rng([seed % 2**32, index])
            new = options._layer(node, x_q, x_f, s.weight_bits, s.per_channel, rng, store, PassContext())
            set_weight(graph, node, new)
            fq.weights[id(node)] = fake_quantize_weight(new, s.weight_bits, weight_axis(node, s.per_channel))
