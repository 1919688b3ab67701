"""The nn op family: result types and their errors, kernels against onnxruntime on the variants the
ONNX conformance cases leave out (older opsets, groups, dilations, depthwise multipliers, f16,
batches), and every conformance case of the converted ONNX ops."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from qcc.errors import IRError, UnsupportedOpError
from qcc.interp.interpreter import evaluate, run
from qcc.ir.core import Graph
from qcc.ir.types import DType, TensorType
from qcc.onnx.conformance import run_case
from qcc.onnx.importer import import_model
from tests.conftest import single_op_cases

F32, F16, I64, U8 = DType.F32, DType.F16, DType.I64, DType.U8


def t(dtype: DType, *shape: int) -> TensorType:
    return TensorType(dtype, shape)


def result_types(op: str, operands: Sequence[TensorType], **attrs: Any) -> list[TensorType]:
    graph = Graph()
    inputs = [graph.add_input(f"x{i}", ty) for i, ty in enumerate(operands)]
    return [r.type for r in graph.add_node(op, inputs, attrs).results]


CONV2D = {"strides": (1, 1), "pads": (0, 0, 0, 0), "dilations": (1, 1)}
POOL2D = {"strides": (1, 1), "pads": (0, 0, 0, 0), "dilations": (1, 1)}


# ---- result types ------------------------------------------------------------------------------


def test_conv_result_size_follows_pads_strides_and_dilations() -> None:
    x, w = t(F32, 1, 3, 32, 32), t(F32, 8, 3, 3, 3)
    assert result_types("conv", [x, w], **{**CONV2D, "pads": (1, 1, 1, 1)}) == [t(F32, 1, 8, 32, 32)]
    assert result_types("conv", [x, w], **{**CONV2D, "strides": (2, 2), "pads": (1, 1, 1, 1)}) == [t(F32, 1, 8, 16, 16)]
    assert result_types("conv", [x, w], **{**CONV2D, "dilations": (2, 3)}) == [t(F32, 1, 8, 28, 26)]


def test_conv_takes_1d_and_3d_and_grouped_operands() -> None:
    assert result_types("conv", [t(F32, 2, 4, 10), t(F32, 6, 2, 3)], strides=(1,), pads=(0, 0), dilations=(1,), group=2) == [t(F32, 2, 6, 8)]
    assert result_types("conv", [t(F32, 1, 2, 5, 6, 7), t(F32, 4, 2, 3, 3, 3)], strides=(1, 1, 1), pads=(0,) * 6, dilations=(1, 1, 1)) == [
        t(F32, 1, 4, 3, 4, 5)
    ]


def test_conv_rejects_a_weight_for_other_input_channels() -> None:
    with pytest.raises(IRError, match=r"conv: weight f32\[8,4,3,3\] expects 4 input channels \(group=1\), input f32\[1,3,32,32\] has 3"):
        result_types("conv", [t(F32, 1, 3, 32, 32), t(F32, 8, 4, 3, 3)], **CONV2D)


def test_conv_rejects_groups_that_do_not_divide_channels() -> None:
    with pytest.raises(IRError, match=r"conv: group=4 must divide input channels \(6\) and output channels \(6\)"):
        result_types("conv", [t(F32, 1, 6, 8, 8), t(F32, 6, 2, 3, 3)], **CONV2D, group=4)


def test_conv_rejects_attributes_of_the_wrong_length_and_a_bad_bias() -> None:
    with pytest.raises(IRError, match=r"conv: pads=\[1, 1\] must have 4 entries for 2 spatial axes"):
        result_types("conv", [t(F32, 1, 3, 8, 8), t(F32, 8, 3, 3, 3)], **{**CONV2D, "pads": (1, 1)})
    with pytest.raises(IRError, match=r"conv: bias must be \[8\] \(one per output channel\), got f32\[3\]"):
        result_types("conv", [t(F32, 1, 3, 8, 8), t(F32, 8, 3, 3, 3), t(F32, 3)], **CONV2D)


def test_conv_rejects_a_kernel_larger_than_the_padded_input() -> None:
    with pytest.raises(IRError, match=r"conv: window of 5 .* does not fit spatial axis 0 of size 3"):
        result_types("conv", [t(F32, 1, 1, 3, 8), t(F32, 1, 1, 5, 1)], **CONV2D)


def test_conv_transpose_result_size() -> None:
    x, w = t(F32, 1, 4, 3, 3), t(F32, 4, 2, 3, 3)  # [C_in, C_out/group, k, k]
    attrs = {**CONV2D, "strides": (3, 2), "output_padding": (1, 1), "group": 2}
    assert result_types("conv_transpose", [x, w], **attrs) == [t(F32, 1, 4, 10, 8)]
    with pytest.raises(IRError, match=r"conv_transpose: weight f32\[2,2,3,3\] must have 4 input channels first"):
        result_types("conv_transpose", [x, t(F32, 2, 2, 3, 3)], **attrs)


def test_gemm_transposes_and_broadcasts_c() -> None:
    assert result_types("gemm", [t(F32, 4, 3), t(F32, 5, 4), t(F32, 5)], trans_a=True, trans_b=True) == [t(F32, 3, 5)]
    with pytest.raises(IRError, match=r"gemm: inner dimensions differ: op\(a\) is \[4,3\], op\(b\) is \[4,5\]"):
        result_types("gemm", [t(F32, 4, 3), t(F32, 4, 5)])
    with pytest.raises(IRError, match=r"gemm: c f32\[3,5\] does not broadcast to the result \[4,5\]"):
        result_types("gemm", [t(F32, 4, 3), t(F32, 3, 5), t(F32, 3, 5)])


@pytest.mark.parametrize(
    ("a", "b", "result"),
    [((3,), (3,), ()), ((3,), (2, 3, 4), (2, 4)), ((2, 1, 4, 3), (5, 3, 6), (2, 5, 4, 6)), ((7, 3), (3,), (7,))],
)
def test_matmul_follows_numpy_including_1d_operands(a: tuple[int, ...], b: tuple[int, ...], result: tuple[int, ...]) -> None:
    assert result_types("matmul", [t(F32, *a), t(F32, *b)]) == [t(F32, *result)]
    assert np.matmul(np.zeros(a), np.zeros(b)).shape == result


def test_matmul_rejects_mismatched_inner_dimensions() -> None:
    with pytest.raises(IRError, match=r"matmul: inner dimensions differ: \[2, 3\] @ \[4, 5\]"):
        result_types("matmul", [t(F32, 2, 3), t(F32, 4, 5)])


def test_ceil_mode_keeps_a_last_window_only_if_it_starts_inside_input_or_begin_padding() -> None:
    x = t(F32, 1, 1, 2, 2)
    attrs = {**POOL2D, "kernel_shape": (3, 3), "strides": (3, 3), "pads": (1, 1, 1, 1)}
    assert result_types("avg_pool", [x], **attrs) == [t(F32, 1, 1, 1, 1)]
    assert result_types("avg_pool", [x], **attrs, ceil_mode=True) == [t(F32, 1, 1, 1, 1)]  # 2nd would start at pad
    assert result_types("max_pool", [t(F32, 1, 1, 4, 4)], **{**POOL2D, "kernel_shape": (3, 3), "strides": (2, 2)}, ceil_mode=True) == [
        t(F32, 1, 1, 2, 2)
    ]


def test_pools_keep_the_element_type_and_indices_are_i64() -> None:
    attrs = {**POOL2D, "kernel_shape": (2, 2), "strides": (2, 2)}
    assert result_types("max_pool", [t(U8, 1, 2, 4, 4)], **attrs) == [t(U8, 1, 2, 2, 2)]
    assert result_types("max_pool_indices", [t(F32, 1, 2, 4, 4)], **attrs) == [t(I64, 1, 2, 2, 2)]
    assert result_types("global_avg_pool", [t(F16, 2, 3, 5, 7)]) == [t(F16, 2, 3, 1, 1)]


def test_pools_reject_padding_as_large_as_the_kernel() -> None:
    with pytest.raises(IRError, match=r"max_pool: pads \[2, 0, 0, 0\] must be smaller than kernel_shape \[2, 2\] on spatial axis 0"):
        result_types("max_pool", [t(F32, 1, 1, 4, 4)], **{**POOL2D, "kernel_shape": (2, 2), "pads": (2, 0, 0, 0)})


def test_batch_norm_wants_one_value_per_channel() -> None:
    x, c = t(F32, 2, 3, 4, 4), t(F32, 3)
    assert result_types("batch_norm", [x, c, c, c, c]) == [x]
    with pytest.raises(IRError, match=r"batch_norm: var must be \[3\] \(one per channel\), got f32\[4\]"):
        result_types("batch_norm", [x, c, c, c, t(F32, 4)])


def test_layer_norm_and_its_statistics() -> None:
    x = t(F16, 2, 3, 4)
    assert result_types("layer_norm", [x, t(F16, 3, 4)], axis=1) == [x]
    assert result_types("layer_norm_stats", [x], axis=1) == [t(F32, 2, 1, 1), t(F32, 2, 1, 1)]
    with pytest.raises(IRError, match=r"layer_norm: axis=-1 must be in \[0, 3\) \(normalized, non-negative\)"):
        result_types("layer_norm", [x, t(F16, 4)], axis=-1)
    with pytest.raises(IRError, match=r"layer_norm: scale f16\[2,4\] does not broadcast to x f16\[2,3,4\]"):
        result_types("layer_norm", [x, t(F16, 2, 4)], axis=2)


def test_softmax_axis_must_be_normalized() -> None:
    assert result_types("softmax", [t(F32, 2, 5)], axis=1) == [t(F32, 2, 5)]
    with pytest.raises(IRError, match=r"softmax: axis=2 must be in \[0, 2\)"):
        result_types("softmax", [t(F32, 2, 5)], axis=2)


def test_reductions_keep_or_drop_axes_and_want_sorted_axes() -> None:
    x = t(F32, 2, 3, 4)
    assert result_types("reduce_mean", [x], axes=(0, 2)) == [t(F32, 1, 3, 1)]
    assert result_types("reduce_sum", [x], axes=(1,), keepdims=False) == [t(F32, 2, 4)]
    assert result_types("reduce_max", [x], axes=()) == [x]
    with pytest.raises(IRError, match=r"reduce_mean: axes=\[2, 0\] must be sorted, distinct and in \[0, 3\)"):
        result_types("reduce_mean", [x], axes=(2, 0))


# ---- kernels against onnxruntime ---------------------------------------------------------------


def _model(node: onnx.NodeProto, inputs: dict[str, np.ndarray], opset: int, weights: dict[str, np.ndarray]) -> onnx.ModelProto:
    """A one-node model; outputs have the first input's element type, MaxPool's indices i64."""

    def elem_type(array: np.ndarray) -> int:
        return helper.np_dtype_to_tensor_dtype(array.dtype)

    first = elem_type(next(iter(inputs.values())))
    out_types = [TensorProto.INT64 if node.op_type == "MaxPool" and i == 1 else first for i in range(len(node.output))]
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info(k, elem_type(v), v.shape) for k, v in inputs.items()],
        [helper.make_tensor_value_info(o, ty, None) for o, ty in zip(node.output, out_types) if o],
        [onnx.numpy_helper.from_array(v, k) for k, v in weights.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)


def check_against_onnxruntime(
    node: onnx.NodeProto, inputs: dict[str, np.ndarray], opset: int, weights: dict[str, np.ndarray] | None = None, tol: float = 1e-5
) -> None:
    """Import the one-node model, run it with the interpreter and with onnxruntime, compare."""
    ort = pytest.importorskip("onnxruntime")
    model = _model(node, inputs, opset, weights or {})
    expected = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, inputs)
    got = list(run(import_model(model), inputs).values())
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.dtype == e.dtype and g.shape == e.shape
        np.testing.assert_allclose(g.astype(np.float64), e.astype(np.float64), rtol=tol, atol=tol)


def _rand(*shape: int, dtype: type = np.float32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "attrs"),
    [
        ((2, 8, 9, 9), (8, 1, 3, 3), {"group": 8, "pads": [1, 1, 1, 1]}),  # depthwise, batch 2
        ((1, 4, 11, 10), (8, 1, 3, 3), {"group": 4, "strides": [2, 2], "dilations": [2, 1], "pads": [2, 1, 0, 1]}),  # multiplier 2
        ((1, 6, 7, 7), (6, 1, 5, 5), {"group": 6, "strides": [3, 2], "pads": [2, 2, 2, 2]}),
        ((1, 6, 10, 12), (9, 2, 3, 2), {"group": 3, "strides": [1, 2], "dilations": [2, 2]}),  # grouped
        ((2, 3, 15), (4, 3, 4), {"strides": [2], "pads": [1, 2]}),  # 1-D
        ((1, 4, 5, 6, 7), (4, 2, 3, 2, 3), {"group": 2, "strides": [1, 2, 1], "pads": [1, 0, 1, 1, 0, 1]}),  # 3-D
        ((1, 4, 5, 6, 7), (4, 1, 3, 3, 3), {"group": 4, "strides": [2, 1, 2], "pads": [1, 1, 1, 1, 1, 1]}),  # 3-D depthwise
        ((1, 3, 8, 8), (5, 3, 1, 1), {"strides": [2, 2]}),  # strided 1x1
        ((1, 3, 7, 8), (4, 3, 3, 3), {"auto_pad": "SAME_LOWER", "strides": [2, 2]}),
    ],
)
def test_conv_variants(x_shape: tuple[int, ...], w_shape: tuple[int, ...], attrs: dict[str, Any]) -> None:
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], **attrs)
    weights = {"w": _rand(*w_shape, seed=1), "b": _rand(w_shape[0], seed=2)}
    check_against_onnxruntime(node, {"x": _rand(*x_shape)}, 17, weights, tol=1e-4)


def test_conv_computes_f16_in_f32() -> None:
    x, w = _rand(1, 2, 6, 6, dtype=np.float16), _rand(4, 2, 3, 3, dtype=np.float16, seed=1)
    (y,) = evaluate("conv", [x, w], {**CONV2D, "group": 1})
    (y32,) = evaluate("conv", [x.astype(np.float32), w.astype(np.float32)], {**CONV2D, "group": 1})
    assert y.dtype == np.float16
    np.testing.assert_array_equal(y, y32.astype(np.float16))


def test_conv_applies_the_fused_clamp() -> None:
    x, w = _rand(1, 2, 5, 5), _rand(3, 2, 3, 3, seed=1)
    (y,) = evaluate("conv", [x, w], {**CONV2D, "group": 1, "act_min": 0.0, "act_max": 6.0})
    (ref,) = evaluate("conv", [x, w], {**CONV2D, "group": 1, "act_min": -np.inf, "act_max": np.inf})
    np.testing.assert_array_equal(y, np.clip(ref, 0, 6))


@pytest.mark.parametrize(
    "attrs",
    [
        {"strides": [2, 2], "group": 2, "dilations": [2, 1], "pads": [1, 0, 2, 1]},
        {"strides": [2, 3], "output_shape": [9, 11], "auto_pad": "SAME_UPPER"},
        {"strides": [2, 2], "auto_pad": "SAME_LOWER"},
        {"strides": [3, 2], "output_shape": [12, 10]},
        {"strides": [2, 2], "auto_pad": "VALID", "output_padding": [1, 0]},
    ],
)
def test_conv_transpose_variants(attrs: dict[str, Any]) -> None:
    node = helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], **attrs)
    weights = {"w": _rand(4, 3, 3, 3, seed=1), "b": _rand(3 * attrs.get("group", 1), seed=2)}
    check_against_onnxruntime(node, {"x": _rand(2, 4, 4, 5)}, 17, weights, tol=1e-4)


def test_conv_transpose_output_shape_needing_output_before_the_input_is_unsupported() -> None:
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[4, 4], auto_pad="SAME_UPPER")
    model = _model(node, {"x": _rand(1, 1, 3, 3)}, 17, {"w": _rand(1, 1, 1, 1)})
    with pytest.raises(UnsupportedOpError, match=r"output_shape \[12, 12\] needs output before the first input position"):
        import_model(model)


@pytest.mark.parametrize("opset", [9, 11, 13])
def test_gemm_across_opsets(opset: int) -> None:
    node = helper.make_node("Gemm", ["a", "b", "c"], ["y"], alpha=0.5, beta=2.0, transA=1)
    check_against_onnxruntime(node, {"a": _rand(4, 3), "b": _rand(4, 5, seed=1), "c": _rand(1, 5, seed=2)}, opset)


def test_gemm_without_c_and_matmul_with_batches() -> None:
    check_against_onnxruntime(helper.make_node("Gemm", ["a", "b"], ["y"], transB=1), {"a": _rand(2, 3), "b": _rand(4, 3, seed=1)}, 13)
    check_against_onnxruntime(helper.make_node("MatMul", ["a", "b"], ["y"]), {"a": _rand(3, 1, 2, 4), "b": _rand(5, 4, 2, seed=1)}, 9)


@pytest.mark.parametrize(
    ("op", "opset", "attrs"),
    [
        ("MaxPool", 9, {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}),
        ("MaxPool", 11, {"kernel_shape": [3, 2], "strides": [2, 2], "ceil_mode": 1, "dilations": [1, 2]}),
        ("MaxPool", 12, {"kernel_shape": [2, 2], "auto_pad": "SAME_LOWER"}),
        ("AveragePool", 9, {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1], "count_include_pad": 1}),
        ("AveragePool", 11, {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 0, 1, 0], "ceil_mode": 1}),
        ("AveragePool", 11, {"kernel_shape": [2, 3], "strides": [2, 2], "pads": [1, 1, 0, 1], "ceil_mode": 1, "count_include_pad": 1}),
        ("AveragePool", 19, {"kernel_shape": [2, 2], "dilations": [2, 2], "strides": [1, 2]}),
    ],
)
def test_pool_variants(op: str, opset: int, attrs: dict[str, Any]) -> None:
    check_against_onnxruntime(helper.make_node(op, ["x"], ["y"], **attrs), {"x": _rand(2, 3, 8, 9)}, opset)


@pytest.mark.parametrize("storage_order", [0, 1])
def test_max_pool_indices(storage_order: int) -> None:
    node = helper.make_node("MaxPool", ["x"], ["y", "i"], kernel_shape=[2, 3], strides=[2, 2], pads=[1, 1, 0, 1], storage_order=storage_order)
    check_against_onnxruntime(node, {"x": _rand(2, 3, 5, 6)}, 12)


def test_max_pool_indices_skip_padding_even_when_it_ties_with_the_input() -> None:
    x = np.zeros((1, 1, 2, 2), np.uint8)  # 0 is also the padding value of u8
    attrs = {**POOL2D, "kernel_shape": (2, 2), "pads": (1, 1, 0, 0), "ceil_mode": False, "storage_order": 0}
    (index,) = evaluate("max_pool_indices", [x], attrs)
    np.testing.assert_array_equal(index, [[[[0, 0], [0, 0]]]])


@pytest.mark.parametrize("opset", [9, 14, 15])
def test_batch_norm_across_opsets(opset: int) -> None:
    node = helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], epsilon=1e-3)
    weights = {"s": _rand(3, seed=1), "b": _rand(3, seed=2), "m": _rand(3, seed=3), "v": np.abs(_rand(3, seed=4))}
    check_against_onnxruntime(node, {"x": _rand(2, 3, 4, 5)}, opset, weights)


def test_batch_norm_training_mode_is_a_one_line_unsupported_error() -> None:
    node = helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y", "rm", "rv"], training_mode=1)
    weights = {k: np.ones(3, np.float32) for k in "sbmv"}
    with pytest.raises(UnsupportedOpError, match=r"training_mode=1 is not supported \(inference only\)"):
        import_model(_model(node, {"x": _rand(2, 3, 4)}, 15, weights))


def test_layer_norm_without_bias_and_with_statistics() -> None:
    node = helper.make_node("LayerNormalization", ["x", "s"], ["y", "mean", "inv_std"], axis=-2, epsilon=1e-3)
    check_against_onnxruntime(node, {"x": _rand(2, 3, 4, 5)}, 17, {"s": _rand(4, 5, seed=1)})


def test_lrn_matches_onnxruntime() -> None:
    node = helper.make_node("LRN", ["x"], ["y"], size=3, alpha=0.01, beta=0.5, bias=2.0)
    check_against_onnxruntime(node, {"x": _rand(2, 5, 3, 3)}, 13)


def test_lrn_even_size_sums_one_channel_more_above() -> None:
    """The ONNX formula, channel by channel (onnxruntime refuses even sizes)."""
    x = _rand(2, 5, 3, 3)
    (y,) = evaluate("lrn", [x], {"size": 4, "alpha": 0.01, "beta": 0.5, "bias": 2.0})
    for c in range(5):
        square_sum = np.sum(x[:, max(0, c - 1) : c + 3] ** 2, axis=1)  # channels c-1 .. c+2
        np.testing.assert_allclose(y[:, c], x[:, c] / (2.0 + 0.01 / 4 * square_sum) ** 0.5, rtol=1e-6)


@pytest.mark.parametrize(("opset", "axis"), [(11, 1), (11, 0), (11, -1), (9, None), (13, 1), (13, None)])
def test_softmax_legacy_flattening_and_opset_13_axis(opset: int, axis: int | None) -> None:
    attrs = {} if axis is None else {"axis": axis}
    check_against_onnxruntime(helper.make_node("Softmax", ["x"], ["y"], **attrs), {"x": _rand(2, 3, 4)}, opset)


def test_legacy_softmax_imports_as_reshape_softmax_reshape() -> None:
    model = _model(helper.make_node("Softmax", ["x"], ["y"], axis=1), {"x": _rand(2, 3, 4)}, 11, {})
    graph = import_model(model)
    assert [(n.op, dict(n.attrs)) for n in graph.nodes] == [
        ("reshape", {"shape": (2, 12)}),
        ("softmax", {"axis": 1}),
        ("reshape", {"shape": (2, 3, 4)}),
    ]


def test_softmax_is_stable_for_large_inputs() -> None:
    (y,) = evaluate("softmax", [np.array([[1000.0, 1001.0]], np.float32)], {"axis": 1})
    np.testing.assert_allclose(y, [[0.26894142, 0.73105858]], rtol=1e-6)


@pytest.mark.parametrize(
    ("op", "opset", "attrs"),
    [
        ("ReduceMean", 13, {"axes": [-1, 0], "keepdims": 0}),
        ("ReduceMean", 11, {}),
        ("ReduceSum", 11, {"axes": [1]}),
        ("ReduceMax", 13, {"axes": [2], "keepdims": 0}),
    ],
)
def test_reductions_with_axes_as_attribute(op: str, opset: int, attrs: dict[str, Any]) -> None:
    check_against_onnxruntime(helper.make_node(op, ["x"], ["y"], **attrs), {"x": _rand(2, 3, 4)}, opset)


def test_reductions_with_axes_as_operand_normalize_them() -> None:
    node = helper.make_node("ReduceMean", ["x", "axes"], ["y"])
    model = _model(node, {"x": _rand(2, 3, 4)}, 18, {"axes": np.array([2, -3], np.int64)})
    (reduce,) = import_model(model).nodes
    assert reduce.op == "reduce_mean" and reduce.attr("axes") == (0, 2)


def test_reduction_axes_computed_at_run_time_are_reported() -> None:
    node = helper.make_node("ReduceSum", ["x", "axes"], ["y"])
    model = _model(node, {"x": _rand(2, 3), "axes": np.array([1], np.int64)}, 13, {})
    with pytest.raises(UnsupportedOpError, match=r"input 'axes' \(axes\) must be a constant"):
        import_model(model)


# ---- ONNX conformance --------------------------------------------------------------------------

ONNX_OPS = (
    "Conv ConvTranspose Gemm MatMul MaxPool AveragePool GlobalAveragePool GlobalMaxPool BatchNormalization "
    "LayerNormalization LRN Softmax ReduceMean ReduceMax ReduceSum"
).split()

# Deliberately unsupported: batch statistics and running-average updates are training, not
# inference; the importer refuses them with a one-line error.
UNSUPPORTED = {"test_batchnorm_example_training_mode", "test_batchnorm_epsilon_training_mode"}


@pytest.mark.parametrize("case", single_op_cases(ONNX_OPS), ids=lambda c: c.name)
def test_onnx_conformance(case: Any) -> None:
    result = run_case(case)
    if case.name in UNSUPPORTED:
        assert result.status == "error" and "not supported" in result.detail, result
    else:
        assert result.status == "pass", f"{result.status}: {result.detail}"
