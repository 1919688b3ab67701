"""Where a network's quantization error comes from: the output SQNR when only one layer's weights,
or only its output activation, is on its integer grid (at several widths), and the cumulative SQNR
when everything up to a layer is.

The grids are the fake-quant simulation's (qcc.quant.fakequant), the one PTQ passes reason with, so
the last cumulative figure is the fake-quant network's output SQNR. The float network runs once on
the samples and keeps every value; a measurement that perturbs node k reruns only nodes k onwards
(on as many samples per call as qcc.interp.batching allows), which makes the per-layer sweep cost
about half of running the network once per measurement.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from qcc.analysis.error import ErrorStats
from qcc.interp.batching import BatchPlan, batch_size, batches, plan_batching, run_batch, stack_samples
from qcc.interp.interpreter import evaluate, run_node
from qcc.ir.core import Graph, Node, Value
from qcc.pipeline import Progress
from qcc.quant.fakequant import activation_grid, fake_quantize, fake_quantize_weight, is_weight_layer, weight_axis
from qcc.quant.lowering import Settings

Feeds = Mapping[str, np.ndarray]
WEIGHT_WIDTHS = (4, 8, 16)
ACTIVATION_WIDTHS = (8, 16)  # qcc's integer activations (docs/arithmetic.md §1); there is no 4-bit activation grid
BATCH_BYTES = 256 << 20


@dataclass(frozen=True)
class OnGrid:
    """What one measurement puts on its integer grid: weights by node name (bits, per channel) and
    activations by value name (bits); everything else stays float. ``operands`` gives, by node name,
    the width a node reads its activation operands at: the integer lowering converts an operand
    stored at another width to the node's own (q.requantize), so a 16-bit tensor read by an 8-bit
    node is rounded to 8 bits again there, which the simulation must see too."""

    weights: Mapping[str, tuple[int, bool]] = field(default_factory=dict)
    activations: Mapping[str, int] = field(default_factory=dict)
    operands: Mapping[str, int] = field(default_factory=dict)


def quantized_results(node: Node) -> list[Value]:
    """A node's results that have a calibrated activation grid."""
    return [r for r in node.results if r.type.quant is not None and r.type.dtype.is_float]


@dataclass
class _Chunk:
    """Samples run together: their count and every float value (by value id)."""

    count: int
    values: dict[int, np.ndarray]


class SensitivityRunner:
    """The float network's values on the samples, and output SQNRs of partly quantized networks."""

    def __init__(self, graph: Graph, samples: Sequence[Feeds], batch_bytes: int = BATCH_BYTES) -> None:
        self.graph = graph
        self.samples = list(samples)  # kept so a worker process can build the same runner
        self.batch_bytes = batch_bytes
        self.plan: BatchPlan = plan_batching(graph)
        self.order = {node.name: index for index, node in enumerate(graph.nodes)}
        self.producer_index = {r.name: index for index, node in enumerate(graph.nodes) for r in node.results}
        self.chunks: list[_Chunk] = []
        self._weights: dict[tuple[str, int, bool], np.ndarray] = {}
        size = batch_size(graph, self.plan, batch_bytes)
        for group in batches(samples, size):
            values: dict[int, np.ndarray] = {id(c): c.const_array for c in graph.constants}

            def keep(value: Value, array: np.ndarray, values: dict[int, np.ndarray] = values) -> None:
                values[id(value)] = array

            run_batch(graph, self.plan, stack_samples(group) if len(group) > 1 else group[0], len(group), observer=keep)
            self.chunks.append(_Chunk(len(group), values))

    def float_value(self, value: Value) -> np.ndarray:
        """A value on every sample, samples stacked on axis 0 (a value shared by all samples once)."""
        arrays = [chunk.values[id(value)] for chunk in self.chunks]
        return np.concatenate(arrays) if self.plan.is_batched(value) and len(arrays) > 1 else arrays[0]

    def sqnr_db(self, on_grid: OnGrid) -> float:
        """Output SQNR (all outputs together) of the network with ``on_grid`` quantized."""
        total = ErrorStats()
        for stats in self.output_errors(on_grid).values():
            total.signal += stats.signal
            total.noise += stats.noise
        return total.sqnr_db

    def output_errors(self, on_grid: OnGrid) -> dict[str, ErrorStats]:
        """Each graph output's error statistics with ``on_grid`` quantized (outputs of very different
        magnitudes, such as a detector's boxes and scores, are better judged one by one)."""
        start = self._first_node(on_grid)
        stats = {value.name: ErrorStats() for value in self.graph.outputs}
        for chunk in self.chunks:
            outputs = self._run_from(chunk, start, on_grid)
            for value in self.graph.outputs:
                stats[value.name].add(chunk.values[id(value)], outputs[id(value)])
        return stats

    def _first_node(self, on_grid: OnGrid) -> int:
        inputs = {v.name for v in self.graph.inputs}
        starts = [self.order[name] for name in on_grid.weights]
        starts += [0 if name in inputs else self.producer_index[name] for name in on_grid.activations]
        return min(starts, default=len(self.graph.nodes))

    def _weight(self, node: Node, bits: int, per_channel: bool) -> np.ndarray:
        key = (node.name, bits, per_channel)
        if key not in self._weights:
            self._weights[key] = fake_quantize_weight(node.inputs[1].const_array, bits, weight_axis(node, per_channel))
        return self._weights[key]

    def _run_from(self, chunk: _Chunk, start: int, on_grid: OnGrid) -> dict[int, np.ndarray]:
        env = dict(chunk.values)
        for value in self.graph.inputs:
            bits = on_grid.activations.get(value.name)
            if bits is not None and value.type.quant is not None:
                env[id(value)] = fake_quantize(env[id(value)], activation_grid(value.type.quant, bits))

        def evaluate_node(node: Node, operands: Sequence[np.ndarray]) -> list[np.ndarray]:
            operands = _read_at_width(node, list(operands), on_grid)
            weight = on_grid.weights.get(node.name)
            if weight is not None:
                operands[1] = self._weight(node, *weight)
            results = evaluate(node.op, operands, node.attrs)
            out = []
            for value, array in zip(node.results, results):
                bits = on_grid.activations.get(value.name)
                out.append(fake_quantize(array, activation_grid(value.type.quant, bits)) if bits is not None and value.type.quant is not None else array)
            return out

        evaluator = self.plan.evaluator(evaluate_node, chunk.count)
        for node in self.graph.nodes[start:]:
            for value, array in zip(node.results, run_node(evaluator, node, [env[id(v)] for v in node.inputs])):
                env[id(value)] = array
        return env


def _read_at_width(node: Node, operands: list[np.ndarray], on_grid: OnGrid) -> list[np.ndarray]:
    """``operands`` as ``node`` reads them: each calibrated activation not stored at the node's own
    width (another width, or float because nothing upstream is on the grid) is rounded at the
    node's width on its range, as q.requantize does; so "this node computes at 8 bits" alone
    includes reading its inputs at 8 bits."""
    bits = on_grid.operands.get(node.name)
    if bits is None:
        return operands
    for index, value in enumerate(node.inputs):
        if value.is_const or value.type.quant is None or not value.type.dtype.is_float:
            continue
        if on_grid.activations.get(value.name) != bits:
            operands[index] = fake_quantize(operands[index], activation_grid(value.type.quant, bits))
    return operands


@dataclass
class LayerSensitivity:
    """One node's row: output SQNR with only its weights / only its outputs quantized, per width,
    and with everything up to and including it quantized at the scheme's widths."""

    node: str
    op: str
    outputs: list[str]
    weights: dict[int, float] | None
    activations: dict[int, float] | None
    cumulative: float


def scheme_grid(graph: Graph, settings: Settings) -> OnGrid:
    """Every weight and activation on the grid ``settings`` gives it: the fake-quant network."""
    weights = {n.name: (settings.for_node(n).weight_bits, settings.for_node(n).per_channel) for n in graph.nodes if is_weight_layer(n)}
    acts = {v.name: settings.activation_bits for v in graph.inputs if v.type.quant is not None and v.type.dtype.is_float}
    for node in graph.nodes:
        acts.update(dict.fromkeys((r.name for r in quantized_results(node)), settings.for_node(node).activation_bits))
    return OnGrid(weights, acts, {n.name: settings.for_node(n).activation_bits for n in graph.nodes})


SqnrMany = Callable[[Sequence[OnGrid]], list[float]]


def layer_sensitivity(runner: SensitivityRunner, settings: Settings, progress: Progress | None = None,
                      sqnr_many: SqnrMany | None = None) -> list[LayerSensitivity]:
    """Every node's sensitivity row, in graph order (graph inputs first, as a row named by the input).

    The rows' measurements are independent, so they are listed first and measured together by
    ``sqnr_many`` (default: one after the other on ``runner``; qcc.analysis.distribute spreads
    them over Dask workers)."""
    graph = runner.graph
    plans: list[_RowPlan] = []
    prefix_weights: dict[str, tuple[int, bool]] = {}
    prefix_acts: dict[str, int] = {}
    for value in graph.inputs:
        if value.type.quant is None or not value.type.dtype.is_float:
            continue
        prefix_acts[value.name] = settings.activation_bits
        plans.append(_RowPlan(value.name, "input", [value.name], None, _activation_grids([value.name]), OnGrid(activations=dict(prefix_acts))))
    for node in graph.nodes:
        s = settings.for_node(node)
        results = [r.name for r in quantized_results(node)]
        weights: dict[int, OnGrid] | None = None
        if is_weight_layer(node):
            weights = {bits: OnGrid(weights={node.name: (bits, s.per_channel)}) for bits in WEIGHT_WIDTHS}
            prefix_weights[node.name] = (s.weight_bits, s.per_channel)
        if results:
            prefix_acts.update(dict.fromkeys(results, s.activation_bits))
        plans.append(_RowPlan(node.name, node.op, results, weights, _activation_grids(results) if results else None,
                              OnGrid(dict(prefix_weights), dict(prefix_acts))))
    grids = [grid for plan in plans for grid in plan.grids()]
    if sqnr_many is None:
        measured = iter([runner.sqnr_db(g) for g in (progress.bar(grids, total=len(grids), desc="sensitivity") if progress is not None else grids)])
    else:
        measured = iter(sqnr_many(grids))
    return [plan.row(measured) for plan in plans]


@dataclass
class _RowPlan:
    """The measurements one sensitivity row needs, before they are made."""

    node: str
    op: str
    outputs: list[str]
    weights: dict[int, OnGrid] | None
    activations: dict[int, OnGrid] | None
    cumulative: OnGrid

    def grids(self) -> list[OnGrid]:
        return [*(self.weights or {}).values(), *(self.activations or {}).values(), self.cumulative]

    def row(self, measured: Iterator[float]) -> LayerSensitivity:
        """The row, taking this plan's results from ``measured`` in the order of ``grids()``."""
        weights = {bits: next(measured) for bits in self.weights} if self.weights is not None else None
        acts = {bits: next(measured) for bits in self.activations} if self.activations is not None else None
        return LayerSensitivity(self.node, self.op, self.outputs, weights, acts, next(measured))


def _activation_grids(values: Sequence[str]) -> dict[int, OnGrid]:
    """Only ``values`` quantized, at each activation width."""
    return {bits: OnGrid(activations=dict.fromkeys(values, bits)) for bits in ACTIVATION_WIDTHS}
