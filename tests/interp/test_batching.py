"""Batched float interpretation: a graph run on N stacked samples gives what N single-sample runs
give (to 1e-5 relative: BLAS may block a bigger product differently), attributes that spell the
batch are rewritten, and a graph with an op that works across the batch axis is refused once, by
name, so that callers run it one sample at a time."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from qcc import import_model, parse
from qcc.errors import InputError
from qcc.interp.batching import batch_size, plan_batching, run_batch, run_samples_batched, sample_bytes, stack_samples
from qcc.interp.interpreter import run
from qcc.ir.core import Graph
from tests.onnx.light_models import LIGHT_MODELS, light_model_path
from tests.quant.example_model import CALIB, MODEL

RTOL = 1e-5
QUICK_LIGHT = ["light_squeezenet", "light_shufflenet", "light_resnet50", "light_inception_v1"]


def _samples(graph: Graph, n: int, seed: int = 0) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [{v.name: rng.random(v.type.static_shape).astype(v.type.dtype.numpy) for v in graph.inputs} for _ in range(n)]


def _assert_batched_equals_per_sample(graph: Graph, samples: list[dict[str, np.ndarray]]) -> None:
    plan = plan_batching(graph)
    assert plan.ok, plan.reason
    batched = run_batch(graph, plan, stack_samples(samples), len(samples))
    for name, array in batched.items():
        expected = np.concatenate([run(graph, s)[name] for s in samples])
        assert array.shape == expected.shape
        scale = float(np.max(np.abs(expected))) or 1.0
        np.testing.assert_allclose(array, expected, rtol=0, atol=RTOL * scale, err_msg=name)


def _model(nodes: list[onnx.NodeProto], inputs: list[onnx.ValueInfoProto], output: str, inits: list[onnx.TensorProto]) -> Graph:
    graph = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info(output, TensorProto.FLOAT, None)], inits)
    return import_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))


def _data_ops_model() -> Graph:
    """transpose (batch axis kept), reshape to [1, 24], gather and concat on axis 1, matmul,
    expand, softmax on the last axis."""
    rng = np.random.default_rng(1)
    nodes = [
        helper.make_node("Transpose", ["x"], ["t"], perm=[0, 2, 1], name="t"),
        helper.make_node("Reshape", ["t", "shape"], ["r"], name="r"),
        helper.make_node("Gather", ["r", "idx"], ["g"], axis=1, name="g"),
        helper.make_node("Concat", ["r", "g"], ["c"], axis=1, name="c"),
        helper.make_node("MatMul", ["c", "w"], ["m"], name="m"),
        helper.make_node("Unsqueeze", ["m", "one"], ["u"], name="u"),
        helper.make_node("Expand", ["u", "eshape"], ["e"], name="e"),
        helper.make_node("Softmax", ["e"], ["y"], axis=-1, name="y"),
    ]
    inits = [
        numpy_helper.from_array(np.array([1, 24], np.int64), "shape"),
        numpy_helper.from_array(np.array([0, 5, 23], np.int64), "idx"),
        numpy_helper.from_array(rng.normal(size=(27, 5)).astype(np.float32), "w"),
        numpy_helper.from_array(np.array([1], np.int64), "one"),
        numpy_helper.from_array(np.array([1, 3, 5], np.int64), "eshape"),
    ]
    return _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 6])], "y", inits)


def test_the_example_model_batched_equals_per_sample() -> None:
    graph = import_model(str(MODEL))
    samples = [{"input": x[None]} for x in np.load(CALIB)["input"][:24]]
    _assert_batched_equals_per_sample(graph, samples)


@pytest.mark.parametrize("name", [m if m in QUICK_LIGHT else pytest.param(m, marks=pytest.mark.slow) for m in LIGHT_MODELS])
def test_light_models_batched_equal_per_sample(name: str) -> None:
    graph = import_model(str(light_model_path(name)))
    _assert_batched_equals_per_sample(graph, _samples(graph, 3))


def test_data_ops_keep_the_batch_axis_and_reshape_expand_are_rewritten() -> None:
    graph = _data_ops_model()
    plan = plan_batching(graph)
    rewritten = sorted(n.name for n in graph.nodes if id(n) in plan.rewrites)
    assert [n for n in rewritten if n in ("r", "e")] == ["e", "r"]
    _assert_batched_equals_per_sample(graph, _samples(graph, 5))


@pytest.mark.parametrize(
    ("node", "op", "why"),
    [
        (helper.make_node("Concat", ["x", "x"], ["y"], axis=0), "concat", "joins along the batch axis or joins per-sample data with shared data"),
        (helper.make_node("Softmax", ["x"], ["y"], axis=0), "softmax", "works along the batch axis"),
        (helper.make_node("ReduceSum", ["x"], ["y"], keepdims=1), "reduce_sum", "reduces over the batch axis"),
        (helper.make_node("Transpose", ["x"], ["y"], perm=[1, 0, 2]), "transpose", "moves the batch axis"),
    ],
)
def test_ops_across_the_batch_axis_are_refused_by_name(node: onnx.NodeProto, op: str, why: str) -> None:
    graph = _model([node], [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 6])], "y", [])
    plan = plan_batching(graph)
    assert not plan.ok
    assert plan.reason == f"node 'y' ({op}) {why}"
    assert batch_size(graph, plan, 1 << 30) == 1
    with pytest.raises(InputError, match="cannot run batched"):
        run_batch(graph, plan, {"x": np.zeros((2, 4, 6), np.float32)}, 2)


def test_stacked_inputs_run_in_batches_and_fall_back_per_sample() -> None:
    graph = _data_ops_model()
    x = np.random.default_rng(2).random((7, 4, 6)).astype(np.float32)
    expected = np.concatenate([run(graph, {"x": x[i : i + 1]})["y"] for i in range(7)])
    # a budget of two samples: batches of 2, 2, 2 and 1
    out = run_samples_batched(graph, {"x": x}, budget_bytes=2 * sample_bytes(graph))["y"]
    np.testing.assert_allclose(out, expected, rtol=RTOL, atol=1e-7)
    refused = _model(
        [helper.make_node("Concat", ["x", "x"], ["y"], axis=0, name="join")],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 6])], "y", [],
    )  # fmt: skip
    out = run_samples_batched(refused, {"x": x})["y"]
    assert np.array_equal(out, np.concatenate([np.concatenate([x[i : i + 1]] * 2) for i in range(7)]))


def test_batch_size_follows_the_memory_budget() -> None:
    graph = _data_ops_model()
    plan = plan_batching(graph)
    one = sample_bytes(graph)
    assert batch_size(graph, plan, 3 * one) == 3
    assert batch_size(graph, plan, one // 2) == 1
    assert batch_size(graph, plan, 1 << 40) == 64


def test_wrong_batched_input_shape_is_one_line_error() -> None:
    graph = _data_ops_model()
    with pytest.raises(InputError, match=r"input 'x': expected f32\[3, 4, 6\] for 3 samples"):
        run_batch(graph, plan_batching(graph), {"x": np.zeros((2, 4, 6), np.float32)}, 3)


def test_large_activations_are_not_batched() -> None:
    """Batching pays for per-node overhead; a 4 MiB feature map already amortizes it, so a graph
    whose largest activation is that big runs one sample per call whatever the budget."""
    big = parse("graph @g(%x: f32[1,4,512,512]) -> (%y: f32[1,4,512,512]) {\n  %y = relu(%x) : f32[1,4,512,512]\n  return %y\n}\n")
    half = parse("graph @g(%x: f32[1,4,256,512]) -> (%y: f32[1,4,256,512]) {\n  %y = relu(%x) : f32[1,4,256,512]\n  return %y\n}\n")
    assert batch_size(big, plan_batching(big), 1 << 40) == 1
    assert batch_size(half, plan_batching(half), 1 << 40) == 2
