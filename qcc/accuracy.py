"""Accuracy of a quantized graph against its float model: top-1 (when the data has labels), and
per output and per layer the SQNR and the largest absolute error of the integer result.

Samples stream through both executors one at a time; per-layer statistics are running sums, so
memory does not grow with the data set. Layers are matched by value name: the quantize pass keeps
the float graph's names.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from qcc.analysis.error import ErrorStats
from qcc.calibration.source import CalibrationSet, DataSource
from qcc.data import load_labels
from qcc.errors import InputError
from qcc.interp.interpreter import NodeEvaluator, Observer, float_node, run
from qcc.ir.core import Graph, Value
from qcc.ir.printer import value_ref

Executor = Callable[[Graph, Mapping[str, np.ndarray]], dict[str, np.ndarray]]


@dataclass
class EvalReport:
    samples: int = 0
    float_correct: int = 0
    quant_correct: int = 0
    labelled: bool = False
    outputs: dict[str, ErrorStats] = field(default_factory=dict)
    layers: dict[str, ErrorStats] = field(default_factory=dict)
    layer_info: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (op, type)

    @property
    def float_top1(self) -> float:
        return self.float_correct / max(self.samples, 1)

    @property
    def quant_top1(self) -> float:
        return self.quant_correct / max(self.samples, 1)

    def render(self) -> str:
        lines = []
        if self.labelled:
            lines.append(f"top-1: float {100 * self.float_top1:.2f}%  integer {100 * self.quant_top1:.2f}%  ({self.samples} samples)")
        for name, st in self.outputs.items():
            lines.append(f"output {value_ref(name)}: SQNR {st.sqnr_db:.2f} dB, max abs error {st.max_abs:.4g}")
        if self.layers:
            width = max(len(n) for n in self.layers)
            lines.append("")
            lines.append(f"{'layer':<{width}}  {'op':<14} {'type':<28} SQNR (dB)  max abs err")
            for name, st in self.layers.items():
                op, t = self.layer_info[name]
                lines.append(f"{name:<{width}}  {op:<14} {t:<28} {st.sqnr_db:9.2f}  {st.max_abs:.4g}")
        return "\n".join(lines)


def _dequantized(value: Value, array: np.ndarray) -> np.ndarray | None:
    q = value.type.quant
    if q is None or q.axis is not None or value.type.dtype.is_float:
        return None
    return (array.astype(np.float64) - q.zero_point_value()) * q.scale_value()


class Comparison:
    """Running per-output and per-layer error statistics of ``quant_graph`` against ``float_graph``,
    one sample at a time: the caller owns the sample loop, so it can reuse the integer run for
    other checks (``qcc compile`` feeds the C check from the same run)."""

    def __init__(self, float_graph: Graph, quant_graph: Graph, *, per_layer: bool = False) -> None:
        self.float_graph = float_graph
        self.quant_graph = quant_graph
        self.per_layer = per_layer
        self.report = EvalReport()
        # a layer is compared when the float model has a value of that name and shape (compression
        # passes keep names but may change a layer's channel count)
        float_shapes = {v.name: tuple(v.type.shape) for v in float_graph.values()}
        self._watched = {id(v): v for n in quant_graph.nodes for v in n.results
                         if per_layer and float_shapes.get(v.name) == tuple(v.type.shape) and v.type.quant is not None}
        for v in self._watched.values():
            self.report.layer_info[v.name] = (v.producer.op if v.producer else "", str(v.type))

    def add(self, feeds: Mapping[str, np.ndarray], quant_evaluator: NodeEvaluator,
            observe_quant: Observer | None = None) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Run both graphs on one sample and add its errors; ``observe_quant`` also sees every
        integer value. Returns (float outputs, integer outputs)."""
        report = self.report
        reference: dict[str, np.ndarray] = {}  # this sample's float layer outputs

        def keep(value: Value, array: np.ndarray) -> None:
            if value.name in report.layer_info:
                reference[value.name] = array

        def compare(value: Value, array: np.ndarray) -> None:
            v = self._watched.get(id(value))
            if v is not None and v.name in reference:
                deq = _dequantized(v, array)
                if deq is not None:
                    report.layers.setdefault(v.name, ErrorStats()).add(reference[v.name], deq)
            if observe_quant is not None:
                observe_quant(value, array)

        float_out = run(self.float_graph, feeds, observer=keep if self.per_layer else None, evaluate_node=float_node)
        quant_observer = compare if self.per_layer or observe_quant is not None else None
        quant_out = run(self.quant_graph, feeds, observer=quant_observer, evaluate_node=quant_evaluator)
        for (name, f), q in zip(float_out.items(), quant_out.values()):
            report.outputs.setdefault(name, ErrorStats()).add(f, q)
        report.samples += 1
        return float_out, quant_out

    def finish(self) -> EvalReport:
        """The report, layers in graph order."""
        report = self.report
        report.layers = {name: report.layers[name] for name in report.layer_info if name in report.layers}
        return report


def evaluate_quantized(
    float_graph: Graph,
    quant_graph: Graph,
    data: DataSource,
    *,
    quant_evaluator: NodeEvaluator,
    per_layer: bool = False,
    limit: int | None = None,
    progress: Callable[[Iterable, int | None], Iterable] | None = None,
) -> EvalReport:
    """Compare the integer execution of ``quant_graph`` with the float execution of
    ``float_graph`` on the same samples."""
    comparison = Comparison(float_graph, quant_graph, per_layer=per_layer)
    report = comparison.report
    labels = load_labels(data, float_graph) if isinstance(data, (str, os.PathLike)) else None
    report.labelled = labels is not None
    samples = CalibrationSet(float_graph, data, limit)
    stream = progress(samples, samples.count()) if progress else samples
    for index, feeds in enumerate(stream):
        float_out, quant_out = comparison.add(feeds, quant_evaluator)
        if labels is not None:
            if index >= len(labels):
                raise InputError(f"'{data}' holds more samples than labels ({len(labels)})")
            f0, q0 = next(iter(float_out.values())), next(iter(quant_out.values()))
            report.float_correct += int(np.argmax(f0) == labels[index])
            report.quant_correct += int(np.argmax(q0) == labels[index])
    return comparison.finish()
