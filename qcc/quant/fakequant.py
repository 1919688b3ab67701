"""Fake-quant simulation: the calibrated float graph executed in float, with every activation
rounded to its quantization grid and every weight replaced by its quantized value.

It is what passes that reason about quantization error before the graph is lowered (bias
correction, AdaRound) run: the float kernels on the values the integer graph will represent. It
differs from the integer reference only in how requantization rounds (one exact rounding here, two
in the double mode) and in the float order of accumulation; tests/quant/test_fakequant.py states by
how much.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from qcc.arith.params import activation_params, activation_range, params_range, quantize_weight_ints
from qcc.interp.interpreter import NodeEvaluator, evaluate, run
from qcc.ir.core import Graph, Node, Value
from qcc.ir.types import QuantParams
from qcc.quant.lowering import Settings

WEIGHT_LAYERS = {"conv": 0, "conv_transpose": 1, "gemm": None, "matmul": None}


def fake_quantize(x: np.ndarray, q: QuantParams) -> np.ndarray:
    """Round a float tensor to a per-tensor activation grid (quantize, then dequantize)."""
    qmin, qmax = activation_range(q.bits)
    scale, zp = np.float32(q.scale_value()), q.zero_point_value()
    # in place on one float32 buffer (the walk runs this on every activation of every sample)
    y = np.array(x, dtype=np.float32)  # a new array even for a 0-d x
    y /= scale
    np.rint(y, out=y)
    y += zp
    np.clip(y, qmin, qmax, out=y)
    y -= zp
    y *= scale
    return y.astype(x.dtype, copy=False)


def fake_quantize_weight(w: np.ndarray, bits: int, axis: int | None) -> np.ndarray:
    """The float values a symmetric (per-channel or per-tensor) weight quantization represents."""
    ints, _, scale = quantize_weight_ints(w, bits, axis)
    return (ints * scale).astype(w.dtype)

def is_weight_layer(node: Node) -> bool:
    """A node whose constant weight operand the quantize pass puts on a weight grid."""
    return node.op in WEIGHT_LAYERS and len(node.inputs) > 1 and node.inputs[1].is_const


def activation_grid(q: QuantParams, bits: int) -> QuantParams:
    """A calibrated activation's grid at another width: the same real range, ``bits`` wide."""
    return q if q.bits == bits else activation_params(*params_range(q), bits)


def weight_axis(node: Node, per_channel: bool) -> int | None:
    """The output-channel axis of a weight layer's weight (None: per tensor)."""
    if not per_channel:
        return None
    if node.op == "gemm":
        return 0 if node.attr("trans_b") else 1
    if node.op == "matmul":
        return node.inputs[1].type.rank - 1
    return WEIGHT_LAYERS[node.op]


class FakeQuant:
    """Builds the fake-quant evaluator of a calibrated float graph for given settings."""

    def __init__(self, graph: Graph, settings: Settings) -> None:
        self.graph = graph
        self.settings = settings
        self.weights: dict[int, np.ndarray] = {}
        for node in graph.nodes:
            if is_weight_layer(node):
                s = settings.for_node(node)
                self.weights[id(node)] = fake_quantize_weight(node.inputs[1].const_array, s.weight_bits, weight_axis(node, s.per_channel))

    def params(self, node: Node, value: Value) -> QuantParams | None:
        q = value.type.quant
        if q is None or not value.type.dtype.is_float:
            return None
        bits = self.settings.for_node(node).activation_bits if node is not None else self.settings.activation_bits
        return activation_grid(q, bits)

    def evaluator(self) -> NodeEvaluator:
        def evaluate_node(node: Node, operands: Sequence[np.ndarray]) -> list[np.ndarray]:
            operands = list(operands)
            if id(node) in self.weights:
                operands[1] = self.weights[id(node)]
            results = evaluate(node.op, operands, node.attrs)
            out = []
            for value, array in zip(node.results, results):
                q = self.params(node, value)
                out.append(fake_quantize(array, q) if q is not None else array)
            return out

        return evaluate_node

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        rounded = {}
        for value in self.graph.inputs:
            q = value.type.quant
            rounded[value.name] = fake_quantize(np.asarray(feeds[value.name]), q) if q is not None and value.type.dtype.is_float else feeds[value.name]
        return run(self.graph, rounded, evaluate_node=self.evaluator())
