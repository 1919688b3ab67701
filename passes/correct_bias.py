"""correct-bias: remove the mean output shift that weight quantization causes (DFQ §4.2)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from qcc.arith.params import quantize_weight_ints
from qcc.calibration.source import calibration_set
from qcc.errors import PipelineError
from qcc.interp.interpreter import evaluate
from qcc.ir.core import Graph, Node
from qcc.pipeline import Pass, PassContext, PassResult, register_pass
from qcc.ptq.activations import DEFAULT_MEMORY_MB, MIB, ActivationStore
from qcc.ptq.expectation import expected_value
from qcc.ptq.guard import keep_if_better, split_samples
from qcc.ptq.layers import bias_vector, canonical, is_weight_layer, linear_scale, set_bias_vector, sum_over_inputs
from qcc.ptq.paths import QUANTIZED, quantized_path, running_mean
from qcc.ptq.settings import quant_settings, require_calibrated
from qcc.ptq.statistics import has_bn_stats
from qcc.ptq.walk import LayerInputs, walk_layers
from qcc.quant.fakequant import FakeQuant, weight_axis
from qcc.quant.lowering import Settings

Mode = Literal["empirical", "analytic"]


def output_shift(node: Node, weight_error: np.ndarray, mean_input: np.ndarray) -> np.ndarray:
    """E[(W~ - W) x] per output channel, given E[x] element-wise (one sample's shape): the layer
    applied to the mean input with the weight error as weight and no bias or clamp, averaged over
    every axis but the channel axis. Exact, padding included, because the layer is linear in x."""
    attrs = dict(node.attrs)
    attrs["act_min"], attrs["act_max"] = -math.inf, math.inf
    y = evaluate(node.op, [mean_input.astype(np.float64), weight_error.astype(np.float64)], attrs)[0]
    axes = tuple(i for i in range(y.ndim) if i != 1)
    return y.mean(axis=axes)


@register_pass
@dataclass(frozen=True)
class CorrectBias(Pass):
    """Bias correction: quantizing a layer's weights W to W~ shifts its expected output by
    E[W~ x] - E[W x] = (W~ - W) E[x] per output channel; subtracting that from the bias removes the
    shift (Nagel et al., ICCV 2019, arXiv:1906.04721, §4.2). Layers are conv, conv_transpose and
    gemm; W~ is the grid the quantize pass will use, read from the graph's quantization scheme.

    `mode=empirical` (needs calibration data and a calibrated graph): E[(W~ - W) x] measured on the
    calibration samples, layer by layer from the input: x is the layer's input with everything
    upstream fake-quantized (weights on their grids, upstream biases already corrected, activations
    rounded to their calibrated ranges). One walk over the graph (qcc.ptq.walk) runs every node once
    per sample, keeping the activations later layers need for all samples: up to `memory-mb` MiB in
    RAM, the rest in temporary files; `samples` limits how many are used (0 = all).

    `mode=analytic` (data-free, the paper's main variant): E[x] from the batch-norm statistics
    fold-batchnorm recorded on the layer producing x, passed through its activation as a clipped
    normal (§4.2), and through residual adds and pooling. Layers whose input expectation is unknown
    (the model input, max pooling, ...) are skipped and named in the log; padding borders are
    ignored, as in the paper. Without any batch-norm statistics the pass stops with an error.

    Run after calibrate (activation ranges) and before quantize; not after adaround, whose weights
    already lie on the grid (so there is nothing to correct)."""

    name = "correct-bias"
    reads_data = True
    forbids_ops = frozenset({"quantize", "dequantize"})
    mode: Mode = "empirical"
    samples: int = 0
    memory_mb: int = DEFAULT_MEMORY_MB
    guard: bool = True

    def run(self, graph: Graph, ctx: PassContext) -> PassResult:
        if self.samples < 0 or self.memory_mb < 0:
            raise PipelineError(f"correct-bias: samples={self.samples} and memory-mb={self.memory_mb} must be >= 0")
        settings = quant_settings(graph, ctx)
        layers = [n for n in graph.nodes if is_weight_layer(n)]
        if not layers:
            ctx.log("correct-bias: nothing to do: no conv, conv_transpose or gemm with constant weights")
            return PassResult(graph, False)
        corrected: list[str] = []

        guarded = self.guard and ctx.calibration is not None
        if guarded or self.mode == "empirical":  # both simulate the quantized activations
            require_calibrated(graph, f"correct-bias{{mode={self.mode}}}")
        split = split_samples(graph, ctx, self.samples or None) if guarded else None
        learn_limit = split.learn_limit if split is not None else self.samples or None

        def correct() -> None:
            if self.mode == "analytic":
                corrected.extend(self._analytic(graph, ctx, layers, settings))
            else:
                corrected.extend(self._empirical(graph, ctx, layers, settings, learn_limit))

        if split is not None:
            if not keep_if_better(graph, layers, settings, split.judge, correct, ctx.log, "correct-bias", split.held_out):
                return PassResult(graph, False)
        else:
            correct()
        ctx.log(f"correct-bias ({self.mode}): corrected {len(corrected)} of {len(layers)} layers" + (f": {', '.join(corrected)}" if corrected else ""))
        return PassResult(graph, bool(corrected))

    @staticmethod
    def _quantization_error(node: Node, settings: Settings) -> np.ndarray:
        """W~ - W in float64, W~ = q * s exactly as the quantize pass's integers and scales say."""
        s = settings.for_node(node)
        w = np.asarray(node.inputs[1].data)
        ints, _, scale = quantize_weight_ints(w, s.weight_bits, weight_axis(node, s.per_channel))
        return ints.astype(np.float64) * scale - w.astype(np.float64)

    def _apply(self, graph: Graph, ctx: PassContext, node: Node, shift: np.ndarray) -> bool:
        bias = bias_vector(node)
        if bias is None:
            ctx.log(f"correct-bias: skip {node.name}: its bias is not one value per channel")
            return False
        set_bias_vector(graph, node, bias - shift)
        ctx.log(f"correct-bias: {node.name}: max |shift| {float(np.max(np.abs(shift), initial=0.0)):.3g}")
        return True

    def _analytic(self, graph: Graph, ctx: PassContext, layers: list[Node], settings: Settings) -> list[str]:
        if not any(has_bn_stats(n) for n in graph.nodes):
            raise PipelineError(
                "correct-bias{mode=analytic} needs the batch-norm statistics fold-batchnorm records, and no layer has any "
                "(the model has no batch_norm, or fold-batchnorm did not run); use correct-bias{mode=empirical} with calibration data"
            )
        corrected = []
        for node in layers:
            mean = expected_value(node.inputs[0])
            if mean is None:
                ctx.log(f"correct-bias: skip {node.name}: the expected value of its input %{node.inputs[0].name} is unknown without data")
                continue
            if node.op == "conv_transpose":
                ctx.log(f"correct-bias: skip {node.name}: analytic mode does not handle conv_transpose (use mode=empirical)")
                continue
            raw_error = self._quantization_error(node, settings)
            if not np.any(raw_error):
                continue
            error = canonical(node, raw_error)
            if self._apply(graph, ctx, node, linear_scale(node) * sum_over_inputs(error, mean)):
                corrected.append(node.name)
        return corrected

    def _empirical(self, graph: Graph, ctx: PassContext, layers: list[Node], settings: Settings, limit: int | None) -> list[str]:
        require_calibrated(graph, "correct-bias{mode=empirical}")
        data = calibration_set(graph, ctx, limit)
        errors = {id(node): self._quantization_error(node, settings) for node in layers}
        layers = [node for node in layers if np.any(errors[id(node)])]
        corrected = []

        def visit(node: Node, inputs: LayerInputs) -> None:
            mean, _ = running_mean(inputs.samples(QUANTIZED, node.inputs[0]))
            if self._apply(graph, ctx, node, output_shift(node, errors.pop(id(node)), mean)):
                corrected.append(node.name)

        with ActivationStore(self.memory_mb * MIB) as store:
            walk_layers(graph, data, [quantized_path(FakeQuant(graph, settings))], layers, visit, store, ctx.progress, "correct-bias")
            ctx.log(f"correct-bias: {store.report()}")
        return corrected
