"""qcc.interop.agreement: the QDQ export computes qcc's function op by op. Fed qcc's own integers,
every op of the export is within one LSB of the integer reference; with single rounding almost
every element is equal, and the double-rounding mode is where PReLU's differences come from."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from qcc.cli import main
from qcc.interop.agreement import TensorAgreement, compare_tensors, rounded_once
from qcc.interop.reference import float_reference
from qcc.ir.core import Graph
from qcc.model_io import load_graph


def _prelu_model(path: Path) -> None:
    """conv -> PRelu (per-channel slopes of both signs) -> conv -> global pool: a requantize-only op
    (PRelu) between two accumulating ones."""
    rng = np.random.default_rng(3)

    def tensor(name: str, shape: list[int], std: float) -> onnx.TensorProto:
        return helper.make_tensor(name, TensorProto.FLOAT, shape, rng.normal(0, std, int(np.prod(shape))).astype(np.float32).tolist())

    slope = helper.make_tensor("slope", TensorProto.FLOAT, [6, 1, 1], [0.25, -0.1, 0.07, 0.6, 0.013, -0.3])
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("PRelu", ["c1", "slope"], ["p"]),
        helper.make_node("Conv", ["p", "w2", "b2"], ["c2"]),
        helper.make_node("GlobalAveragePool", ["c2"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "prelu", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 12, 12])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 1, 1])],
                              [tensor("w1", [6, 3, 3, 3], 0.4), tensor("b1", [6], 0.1), slope, tensor("w2", [4, 6, 1, 1], 0.5), tensor("b2", [4], 0.1)])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)


@pytest.fixture(scope="module")
def prelu(tmp_path_factory: pytest.TempPathFactory) -> tuple[Graph, Graph, list[dict[str, np.ndarray]]]:
    tmp = tmp_path_factory.mktemp("prelu")
    model, calib, qir = tmp / "prelu.onnx", tmp / "calib.npz", tmp / "prelu.qir"
    _prelu_model(model)
    np.savez(calib, x=np.random.default_rng(4).normal(0, 1, (16, 3, 12, 12)).astype(np.float32))
    assert main(["quantize", str(model), "--calib", str(calib), "-o", str(qir)]) == 0
    samples = [{"x": np.random.default_rng(5 + i).normal(0, 1, (1, 3, 12, 12)).astype(np.float32)} for i in range(4)]
    return load_graph(qir), float_reference(model), samples


def _rows(graph: Graph, reference: Graph, samples: list[dict[str, np.ndarray]], view: str) -> dict[str, TensorAgreement]:
    """Per tensor, summed over the samples."""
    total: dict[str, TensorAgreement] = {}
    for feeds in samples:
        for row in compare_tensors(graph, reference, feeds, view):  # type: ignore[arg-type]
            seen = total.setdefault(row.name, TensorAgreement(row.name, row.op, 0, 0, 0, 0))
            seen.elements += row.elements
            seen.differ += row.differ
            seen.beyond_one += row.beyond_one
            seen.max_abs = max(seen.max_abs, row.max_abs)
    return total


def test_rounded_once_switches_every_requantization_and_leaves_the_original(prelu: tuple[Graph, Graph, list]) -> None:
    graph, _, _ = prelu
    assert graph.scheme.rounding == "double"
    once = rounded_once(graph)
    rounding = [n.attrs["rounding"] for n in once.nodes if "rounding" in n.attrs]
    assert rounding and set(rounding) == {"single"} and once.scheme.rounding == "single"
    assert {n.attrs["rounding"] for n in graph.nodes if "rounding" in n.attrs} == {"double"}


def test_every_op_is_within_one_lsb_when_fed_qccs_inputs(prelu: tuple[Graph, Graph, list]) -> None:
    graph, reference, samples = prelu
    rows = _rows(graph, reference, samples, "isolated")
    assert {"q.conv", "q.prelu", "q.mean"} <= {r.op for r in rows.values()}
    for row in rows.values():
        assert row.max_abs <= 1, row


def test_rounding_once_the_export_is_the_same_function(prelu: tuple[Graph, Graph, list]) -> None:
    graph, reference, samples = prelu
    for view in ("isolated", "chained"):
        for row in _rows(rounded_once(graph), reference, samples, view).values():
            # what remains is ties (onnxruntime rounds half to even, qcc half up) and float32 arithmetic
            assert row.max_abs <= 1 and row.differ <= 0.01 * row.elements, (view, row)


def test_double_rounding_is_where_prelu_differs(prelu: tuple[Graph, Graph, list]) -> None:
    graph, reference, samples = prelu
    double = next(r for r in _rows(graph, reference, samples, "isolated").values() if r.op == "q.prelu")
    single = next(r for r in _rows(rounded_once(graph), reference, samples, "isolated").values() if r.op == "q.prelu")
    assert double.differ > 0.02 * double.elements > single.differ


def _quantized(tmp: Path, nodes: list[onnx.NodeProto], inputs: list[onnx.ValueInfoProto], outputs: list[onnx.ValueInfoProto],
               weights: list[onnx.TensorProto], calib: dict[str, np.ndarray]) -> tuple[Graph, Graph]:
    model, calib_path, qir = tmp / "m.onnx", tmp / "calib.npz", tmp / "m.qir"
    onnx.save(helper.make_model(helper.make_graph(nodes, "m", inputs, outputs, weights), opset_imports=[helper.make_opsetid("", 13)]), model)
    np.savez(calib_path, **calib)
    assert main(["quantize", str(model), "--calib", str(calib_path), "-o", str(qir)]) == 0
    return load_graph(qir), float_reference(model)


def test_joined_output_is_exported_per_axis(tmp_path: Path) -> None:
    """An output concat of two convs with ranges 100x apart keeps one scale per channel (§3.17);
    QuantizeLinear carries them with ``axis``."""
    rng = np.random.default_rng(6)
    w = [helper.make_tensor(f"w{i}", TensorProto.FLOAT, [2, 3, 1, 1], (rng.normal(0, 1, 6) * k).astype(np.float32).tolist())
         for i, k in enumerate((1.0, 100.0))]
    nodes = [helper.make_node("Conv", ["x", "w0"], ["a"]), helper.make_node("Conv", ["x", "w1"], ["b"]),
             helper.make_node("Concat", ["a", "b"], ["y"], axis=1)]
    graph, reference = _quantized(tmp_path, nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 4, 4])], w,
                                  {"x": rng.normal(0, 1, (8, 3, 4, 4)).astype(np.float32)})
    assert graph.outputs[0].producer.inputs[0].quant.axis == 1
    rows = _rows(graph, reference, [{"x": rng.normal(0, 1, (1, 3, 4, 4)).astype(np.float32)}], "chained")
    assert rows["y_q"].elements == 64 and rows["y_q"].max_abs <= 1


def test_clamped_indices_keep_their_integer_type(tmp_path: Path) -> None:
    """Gather by clamped run-time indices (magika's one-hot): ONNX Clip's bounds on int64 indices must be int64."""
    rng = np.random.default_rng(7)
    table = helper.make_tensor("table", TensorProto.FLOAT, [10, 4], rng.normal(0, 1, 40).astype(np.float32).tolist())
    bounds = [helper.make_tensor(name, TensorProto.INT64, [], [value]) for name, value in (("lo", 0), ("hi", 7))]
    nodes = [helper.make_node("Clip", ["idx", "lo", "hi"], ["i"]), helper.make_node("Gather", ["table", "i"], ["g"]),
             helper.make_node("Add", ["g", "x"], ["y"])]
    inputs = [helper.make_tensor_value_info("idx", TensorProto.INT64, [1, 5]), helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 5, 4])]
    calib = {"idx": rng.integers(0, 10, (8, 5)), "x": rng.normal(0, 1, (8, 5, 4)).astype(np.float32)}
    graph, reference = _quantized(tmp_path, nodes, inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5, 4])], [table, *bounds], calib)
    assert any(n.op == "clip" and n.inputs[0].type.quant is None for n in graph.nodes)
    feeds = {"idx": rng.integers(0, 10, (1, 5)), "x": rng.normal(0, 1, (1, 5, 4)).astype(np.float32)}
    for row in _rows(graph, reference, [feeds], "isolated").values():
        assert row.max_abs <= 1, row


def test_layer_norm_bias_rounds_where_qcc_rounds_it(tmp_path: Path) -> None:
    """qcc rounds beta to the output grid on its own (docs/arithmetic.md §3.10); the export's
    LayerNormalization carries that rounded beta, so the op is onnxruntime's function exactly
    (the float beta differed on about a quarter of magika's layer-norm outputs)."""
    rng = np.random.default_rng(8)
    params = [helper.make_tensor(name, TensorProto.FLOAT, [32], values.astype(np.float32).tolist())
              for name, values in (("gamma", rng.uniform(0.5, 1.5, 32)), ("beta", rng.normal(0, 1, 32)))]
    nodes = [helper.make_node("LayerNormalization", ["x", "gamma", "beta"], ["y"], axis=2)]
    model, calib_path, qir = tmp_path / "ln.onnx", tmp_path / "calib.npz", tmp_path / "ln.qir"
    graph_proto = helper.make_graph(nodes, "ln", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 32])],
                                    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 32])], params)
    onnx.save(helper.make_model(graph_proto, opset_imports=[helper.make_opsetid("", 17)]), model)
    np.savez(calib_path, x=rng.normal(0, 2, (16, 8, 32)).astype(np.float32))
    assert main(["quantize", str(model), "--calib", str(calib_path), "-o", str(qir)]) == 0
    graph, reference = load_graph(qir), float_reference(model)
    samples = [{"x": rng.normal(0, 2, (1, 8, 32)).astype(np.float32)} for _ in range(4)]
    (row,) = [r for r in _rows(rounded_once(graph), reference, samples, "isolated").values() if r.op == "q.layer_norm"]
    assert row.elements == 4 * 8 * 32 and row.differ <= 0.01 * row.elements, row
