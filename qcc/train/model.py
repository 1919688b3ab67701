"""A calibrated float graph as a trainable model: a taped forward pass over a batch, fake-quantized
as the integer graph will be, and the reverse pass that turns the loss gradient into gradients of
every weight, bias and step size.

Trainable: the weight and bias constants of conv/gemm/matmul (LSQ-quantized weights, float biases,
as ``quantize`` keeps bias in int32 at the accumulator's scale) and one step size per activation
that ``calibrate`` gave a grid. Reshapes keep their input's grid (they move data, ``quantize``
gives them no rounding of their own here). Everything else is fixed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qcc.arith.params import weight_params
from qcc.errors import QccError
from qcc.interp.interpreter import evaluate
from qcc.ir.core import Graph, Node, Value
from qcc.ir.types import TensorType
from qcc.quant.fakequant import WEIGHT_LAYERS, weight_axis
from qcc.quant.lowering import Settings
from qcc.quant.scheme import scheme_of
from qcc.train.backward import BACKWARD
from qcc.train.lsq import ActivationQuantizer, WeightQuantizer

DATA_MOVEMENT = frozenset({"reshape", "flatten"})


@dataclass
class Layer:
    """The trainable parameters of one weight layer."""

    node: Node
    weight: np.ndarray  # latent float64 weight
    bias: np.ndarray | None
    quantizer: WeightQuantizer


@dataclass
class TapeEntry:
    node: Node
    operands: list[np.ndarray]  # as the kernel saw them (weight already fake-quantized)
    result: np.ndarray  # before the activation grid
    output: np.ndarray  # after it


class TrainableGraph:
    """Parameters and quantizers of a calibrated float graph (see the module docstring)."""

    def __init__(self, graph: Graph, quantize_acts: bool = True) -> None:
        unsupported = sorted({n.op for n in graph.nodes if n.op not in BACKWARD})
        if unsupported:
            raise QccError(f"training: no gradient for op(s) {', '.join(unsupported)} (supported: {', '.join(sorted(BACKWARD))})")
        if len(graph.inputs) != 1 or len(graph.outputs) != 1:
            raise QccError(f"training needs a model with one input and one output (logits); it has {len(graph.inputs)} and {len(graph.outputs)}")
        self.graph = graph
        settings = Settings.from_scheme(scheme_of(graph, None), graph)
        self.layers: dict[int, Layer] = {}
        for node in graph.nodes:
            if node.op in WEIGHT_LAYERS and len(node.inputs) > 1 and node.inputs[1].is_const:
                w = np.asarray(node.inputs[1].const_array, dtype=np.float64)
                bias = node.inputs[2] if len(node.inputs) > 2 and node.inputs[2].is_const else None
                chosen = settings.for_node(node)
                q = weight_params(w, chosen.weight_bits, weight_axis(node, chosen.per_channel))
                self.layers[id(node)] = Layer(node, w.copy(), None if bias is None else np.asarray(bias.const_array, np.float64).copy(),
                                              WeightQuantizer.from_params(w, q))
        self.acts: dict[int, ActivationQuantizer] = {}
        if quantize_acts:
            for value in self._graded_values():
                grid = value.type.quant
                if grid is None:
                    raise QccError(f"training: activation '{value.name}' has no calibrated range (run calibrate first)")
                elements = int(np.prod([int(d) for d in value.type.shape[1:]]))
                self.acts[id(value)] = ActivationQuantizer.from_params(grid, elements)

    def _graded_values(self) -> list[Value]:
        values = [v for v in self.graph.inputs if v.type.dtype.is_float]
        return values + [r for n in self.graph.nodes if n.op not in DATA_MOVEMENT for r in n.results if r.type.dtype.is_float]

    # ---- forward -----------------------------------------------------------------------------

    def forward(self, x: np.ndarray, tape: list[TapeEntry] | None = None) -> np.ndarray:
        """Logits of a batch ``x`` ([N, ...] stacked on the model's batch axis)."""
        arrays: dict[int, np.ndarray] = {}
        (inp,) = self.graph.inputs
        arrays[id(inp)] = self._grid(inp, x.astype(np.float32))
        for node in self.graph.nodes:
            operands = [arrays[id(v)] if id(v) in arrays else np.asarray(v.const_array) for v in node.inputs]
            layer = self.layers.get(id(node))
            if layer is not None:
                operands[1] = layer.quantizer.forward(layer.weight).astype(np.float32)
                if layer.bias is not None:
                    operands[2] = layer.bias.astype(np.float32)
            if node.op in DATA_MOVEMENT:
                result = operands[0].reshape((operands[0].shape[0], *node.results[0].type.shape[1:]))
            else:
                (result,) = evaluate(node.op, operands, node.attrs)
            output = self._grid(node.results[0], result)
            arrays[id(node.results[0])] = output
            if tape is not None:
                tape.append(TapeEntry(node, operands, result, output))
        return arrays[id(self.graph.outputs[0])]

    def _grid(self, value: Value, array: np.ndarray) -> np.ndarray:
        quantizer = self.acts.get(id(value))
        return array if quantizer is None else quantizer.forward(array)

    # ---- reverse -----------------------------------------------------------------------------

    def backward(self, tape: list[TapeEntry], d_logits: np.ndarray) -> Gradients:
        """Gradients of every trainable parameter given d(loss)/d(logits) of the taped batch."""
        grads: dict[int, np.ndarray] = {id(self.graph.outputs[0]): d_logits}
        result = Gradients({}, {}, {}, {})
        for entry in reversed(tape):
            value = entry.node.results[0]
            dy = grads.pop(id(value), None)
            if dy is None:
                continue
            quantizer = self.acts.get(id(value))
            if quantizer is not None:
                dy, d_scale = quantizer.backward(entry.result, dy)
                result.act_scales[id(value)] = result.act_scales.get(id(value), 0.0) + d_scale
            d_operands = BACKWARD[entry.node.op](entry.node.attrs, entry.operands, entry.result, dy)
            layer = self.layers.get(id(entry.node))
            if layer is not None:
                d_kernel_weight = d_operands[1]
                assert d_kernel_weight is not None  # weight layers differentiate their weight
                d_weight, d_step = layer.quantizer.backward(layer.weight, d_kernel_weight)
                result.weights[id(entry.node)] = d_weight
                result.steps[id(entry.node)] = d_step
                d_bias = d_operands[2] if len(d_operands) > 2 else None
                if layer.bias is not None and d_bias is not None:
                    result.biases[id(entry.node)] = d_bias
            for operand, grad in zip(entry.node.inputs, d_operands):
                if grad is None or operand.is_const:
                    continue
                grads[id(operand)] = grads[id(operand)] + grad if id(operand) in grads else grad
        return result

    # ---- export ------------------------------------------------------------------------------

    def export(self) -> Graph:
        """Write the learned weights (on their learned grids), biases and activation grids into the
        graph: a calibrated float graph that ``quantize`` turns into the trained integer model."""
        for layer in self.layers.values():
            node = layer.node
            node.inputs[1].data = layer.quantizer.export(layer.weight)
            if layer.bias is not None:
                node.inputs[2].data = layer.bias.astype(np.float32)
        for value in self._graded_values():
            quantizer = self.acts.get(id(value))
            if quantizer is not None:
                value.type = TensorType(value.type.dtype, value.type.shape, quantizer.params())
        for node in self.graph.nodes:
            if node.op in DATA_MOVEMENT and node.inputs[0].type.quant is not None:
                out = node.results[0]
                out.type = TensorType(out.type.dtype, out.type.shape, node.inputs[0].type.quant)
        return self.graph


@dataclass
class Gradients:
    weights: dict[int, np.ndarray]
    biases: dict[int, np.ndarray]
    steps: dict[int, np.ndarray]
    act_scales: dict[int, float]

