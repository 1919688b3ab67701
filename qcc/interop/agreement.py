"""Where a QDQ export and qcc's integer reference part: every quantized tensor compared, op by op.

Why its own module: an output-only comparison cannot tell an export that computes another function
from one-LSB rounding differences that deep networks amplify. Two views answer that:

* ``chained``: onnxruntime runs the whole QDQ model; each QuantizeLinear output is compared with the
  integer reference's value of the same tensor (differences accumulate layer by layer).
* ``isolated``: every DequantizeLinear of an activation reads the integer reference's value instead
  of onnxruntime's, so each op sees exactly qcc's inputs and its difference is its own.

``rounded_once`` gives the same quantized graph with the single-rounding requantization
(docs/arithmetic.md §2.3): the multipliers and shifts of both modes are the same integers, and single
rounding has no precondition, so the switch is always valid and isolates what double rounding costs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper

from qcc.backends.numpy_int.executor import run_integer
from qcc.interop.qdq import QdqExporter, check_export
from qcc.ir.core import Graph, Value
from qcc.ir.parser import parse
from qcc.ir.printer import print_graph

View = Literal["chained", "isolated"]
_FED = "__from_qcc"  # suffix of the graph inputs that carry the integer reference's tensors


@dataclass
class TensorAgreement:
    """One quantized tensor: its producing op and how far onnxruntime's integers are from qcc's."""

    name: str
    op: str
    elements: int
    differ: int  # elements not equal
    beyond_one: int  # elements more than one LSB apart
    max_abs: int


def qdq_session(model: onnx.ModelProto | str) -> ort.InferenceSession:
    """An onnxruntime CPU session that computes what the QDQ model means (float ops between
    QuantizeLinear/DequantizeLinear), whatever the host CPU.

    Why not the default optimization level: at "extended" and above onnxruntime fuses DQ-Conv-Q
    into QLinearConv and converts int8 activations to uint8 (QDQS8ToU8Transformer); on x86 without
    VNNI its u8 x s8 kernel sums product pairs in int16 (VPMADDUBSW) and saturates. On this AVX2
    host (onnxruntime 1.32) that put only 12.5% of the example model's logits within one LSB of the
    integer reference (11.8 dB instead of 35.6 dB); "basic" keeps the graph's float ops: 100%."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    data = model.SerializeToString() if isinstance(model, onnx.ModelProto) else model
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def rounded_once(graph: Graph) -> Graph:
    """A copy of ``graph`` whose requantizations round once (``rounding="single"``)."""
    text, blobs = print_graph(graph)
    copy = parse(text, blobs, graph.name)
    for node in copy.nodes:
        if node.attrs.get("rounding") == "double":
            node.set_attr("rounding", "single")
    if copy.scheme is not None:
        copy.scheme = replace(copy.scheme, rounding="single")
    return copy


def compare_tensors(graph: Graph, reference: Graph | None, feeds: Mapping[str, np.ndarray], view: View) -> list[TensorAgreement]:
    """Every quantized tensor of ``graph`` on one sample (batch 1), in graph order."""
    exporter = QdqExporter(graph, reference)
    model = exporter.run()
    check_export(model, graph.name)
    ours: dict[int, np.ndarray] = {}
    run_integer(graph, feeds, observer=lambda value, array: ours.__setitem__(id(value), array))
    produced = {id(v): v for node in graph.nodes for v in node.results}
    watched = {exporter.int_names[key]: produced[key] for key in exporter.int_names if key in produced and key in ours}
    extra_feeds = _feed_reference_values(model, watched, ours) if view == "isolated" else {}
    _expose(model, watched)
    session = qdq_session(model)
    all_feeds = {**feeds, **extra_feeds}
    names = [o.name for o in session.get_outputs()]
    theirs = dict(zip(names, session.run(None, {i.name: all_feeds[i.name] for i in session.get_inputs()})))
    rows = []
    for tensor, value in watched.items():
        if tensor not in theirs:
            continue
        diff = np.abs(theirs[tensor].astype(np.int64).reshape(-1) - ours[id(value)].astype(np.int64).reshape(-1))
        rows.append(TensorAgreement(value.name, value.producer.op if value.producer else "", diff.size, int(np.count_nonzero(diff)),
                                    int(np.count_nonzero(diff > 1)), int(diff.max(initial=0))))
    return rows


def _feed_reference_values(model: onnx.ModelProto, watched: Mapping[str, Value], ours: Mapping[int, np.ndarray]) -> dict[str, np.ndarray]:
    """Rewire each activation's DequantizeLinear to a new graph input holding qcc's integers."""
    feeds: dict[str, np.ndarray] = {}
    for node in model.graph.node:
        tensor = node.input[0]
        if node.op_type != "DequantizeLinear" or tensor not in watched:
            continue
        fed = tensor + _FED
        node.input[0] = fed
        if fed not in feeds:
            feeds[fed] = ours[id(watched[tensor])]
            array = feeds[fed]
            model.graph.input.append(helper.make_tensor_value_info(fed, helper.np_dtype_to_tensor_dtype(array.dtype), list(array.shape)))
    return feeds


def _expose(model: onnx.ModelProto, watched: Mapping[str, Value]) -> None:
    """Make every watched QuantizeLinear output a graph output (onnxruntime returns only those)."""
    present = {o.name for o in model.graph.output}
    produced = {t for node in model.graph.node for t in node.output}
    for tensor in watched:
        if tensor in produced and tensor not in present:
            model.graph.output.append(helper.make_empty_tensor_value_info(tensor))
