"""The tensor / shape op family: result types, ONNX import into canonical attributes, folding of
shape arithmetic, and the ONNX conformance cases of every converted op."""

from __future__ import annotations

import re
from typing import Any, Sequence

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from qcc.errors import IRError, ModelImportError, UnsupportedOpError
from qcc.interp.interpreter import run
from qcc.ir.core import Graph
from qcc.ir.types import DType, TensorType
from qcc.onnx.conformance import run_case
from qcc.onnx.importer import import_model
from tests.conftest import single_op_cases


def result_types(op: str, operands: Sequence[TensorType], **attrs: Any) -> list[TensorType]:
    graph = Graph()
    inputs = [graph.add_input(f"x{i}", t) for i, t in enumerate(operands)]
    return [r.type for r in graph.add_node(op, inputs, attrs).results]


def f32(*shape: int) -> TensorType:
    return TensorType(DType.F32, shape)


# ---- result types ------------------------------------------------------------------------------


def test_concat_adds_up_the_joined_axis() -> None:
    assert result_types("concat", [f32(1, 2, 4), f32(1, 3, 4)], axis=1) == [f32(1, 5, 4)]


def test_concat_rejects_operands_that_differ_elsewhere() -> None:
    with pytest.raises(IRError, match=r"operand shapes \[1, 2, 4\] and \[1, 3, 5\] differ outside axis 1"):
        result_types("concat", [f32(1, 2, 4), f32(1, 3, 5)], axis=1)


def test_split_has_one_result_per_piece() -> None:
    assert result_types("split", [f32(2, 6)], axis=1, sizes=[1, 2, 3]) == [f32(2, 1), f32(2, 2), f32(2, 3)]


def test_split_sizes_must_cover_the_axis() -> None:
    with pytest.raises(IRError, match=r"sizes \[2, 2\] do not add up to the length 6 of axis 1"):
        result_types("split", [f32(2, 6)], axis=1, sizes=[2, 2])


def test_slice_counts_strided_and_reversed_ranges() -> None:
    # axis 0: 1, 3 ; axis 1: 4, 2, 0 (from the last element backwards through index 0)
    assert result_types("slice", [f32(5, 5)], starts=[1, 4], ends=[5, -1], axes=[0, 1], steps=[2, -2]) == [f32(2, 3)]


def test_slice_wants_resolved_bounds() -> None:
    with pytest.raises(IRError, match=r"bounds -1:5:1 of axis 0 \(length 5\) are not resolved"):
        result_types("slice", [f32(5)], starts=[-1], ends=[5], axes=[0])


def test_transpose_needs_a_permutation() -> None:
    assert result_types("transpose", [f32(1, 2, 3)], perm=[2, 0, 1]) == [f32(3, 1, 2)]
    with pytest.raises(IRError, match=r"perm \[0, 0, 1\] is not a permutation"):
        result_types("transpose", [f32(1, 2, 3)], perm=[0, 0, 1])


def test_pad_grows_and_crops_and_limits_reflection() -> None:
    assert result_types("pad", [f32(1, 4)], pads=[0, 2, 0, -1]) == [f32(1, 5)]
    with pytest.raises(IRError, match="reflect mode pads axis 1 by 4, but it has only 4 elements"):
        result_types("pad", [f32(1, 4)], pads=[0, 4, 0, 0], mode="reflect")


def test_gather_replaces_the_axis_by_the_indices_shape() -> None:
    indices = TensorType(DType.I64, (2, 3))
    assert result_types("gather", [f32(4, 5, 6), indices], axis=1) == [f32(4, 2, 3, 6)]
    with pytest.raises(IRError, match="indices must be i32 or i64, got f32"):
        result_types("gather", [f32(4, 5), f32(2)], axis=0)


def test_expand_checks_broadcasting() -> None:
    assert result_types("expand", [f32(3, 1)], shape=[2, 3, 4]) == [f32(2, 3, 4)]
    with pytest.raises(IRError, match=r"operand shape \[3, 2\] does not broadcast to \[3, 4\]"):
        result_types("expand", [f32(3, 2)], shape=[3, 4])


def test_cast_changes_only_the_element_type() -> None:
    assert result_types("cast", [f32(2, 3)], to="i64") == [TensorType(DType.I64, (2, 3))]


def test_resize_takes_its_shape_from_sizes_and_checks_modes() -> None:
    assert result_types("resize", [f32(1, 3, 4, 4)], sizes=[1, 3, 8, 8], mode="linear") == [f32(1, 3, 8, 8)]
    with pytest.raises(IRError, match="mode 'bicubic' is not one of nearest, linear, cubic"):
        result_types("resize", [f32(1, 3, 4, 4)], sizes=[1, 3, 8, 8], mode="bicubic")
    with pytest.raises(IRError, match="tf_crop_and_resize needs a roi of 2 entries per axis"):
        result_types("resize", [f32(1, 3, 4, 4)], sizes=[1, 3, 8, 8], coordinate_transformation_mode="tf_crop_and_resize")


def test_reshape_keeps_the_element_count() -> None:
    with pytest.raises(IRError, match=r"cannot reshape \[2, 3\] \(6 elements\) to \[4\]"):
        result_types("reshape", [f32(2, 3)], shape=[4])


# ---- import: canonical attributes ----------------------------------------------------------------


def make_model(
    nodes: list[onnx.NodeProto],
    inputs: dict[str, tuple[int, Sequence[int]]],
    outputs: Sequence[str],
    constants: dict[str, np.ndarray] | None = None,
    opset: int = 18,
) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes,
        "t",
        [helper.make_tensor_value_info(n, dt, shape) for n, (dt, shape) in inputs.items()],
        [helper.make_tensor_value_info(n, TensorProto.UNDEFINED, None) for n in outputs],
        [numpy_helper.from_array(np.asarray(a), n) for n, a in (constants or {}).items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def one_node(op_type: str, inputs: Sequence[str], constants: dict[str, np.ndarray], shape: Sequence[int] = (1, 3, 4, 4), opset: int = 18, **attrs: Any) -> Graph:
    """Import one ONNX node applied to x: f32[shape] and the given constant operands."""
    node = helper.make_node(op_type, list(inputs), ["y"], **attrs)
    return import_model(make_model([node], {"x": (TensorProto.FLOAT, shape)}, ["y"], constants, opset))


def only_node(graph: Graph) -> tuple[str, dict[str, Any]]:
    assert len(graph.nodes) == 1, graph.nodes
    node = graph.nodes[0]
    return node.op, dict(node.attrs)


def test_slice_rejects_repeated_axes() -> None:
    consts = {"s": np.array([0, 0]), "e": np.array([1, 1]), "a": np.array([3, -1])}
    with pytest.raises(ModelImportError, match=r"axes \[3, -1\] repeat an axis"):
        one_node("Slice", ["x", "s", "e", "a"], {k: v.astype(np.int64) for k, v in consts.items()}, shape=(2, 3, 4, 5))


def test_slice_clamps_starts_and_ends() -> None:
    consts = {"s": np.array([-100, 10]), "e": np.array([2, -100]), "a": np.array([3, -3]), "st": np.array([1, -1])}
    op, attrs = only_node(one_node("Slice", ["x", "s", "e", "a", "st"], {k: v.astype(np.int64) for k, v in consts.items()}, shape=(2, 3, 4, 5)))
    assert (op, attrs["axes"], attrs["starts"], attrs["ends"], attrs["steps"]) == ("slice", (1, 3), (2, 0), (-1, 2), (-1, 1))


def test_reshape_resolves_zero_and_minus_one() -> None:
    op, attrs = only_node(one_node("Reshape", ["x", "s"], {"s": np.array([0, -1, 2], np.int64)}))
    assert (op, attrs["shape"]) == ("reshape", (1, 24, 2))


def test_reshape_allowzero_keeps_a_literal_zero() -> None:
    with pytest.raises(ModelImportError, match="the -1 dim cannot be inferred"):
        one_node("Reshape", ["x", "s"], {"s": np.array([0, -1], np.int64)}, allowzero=1)


def test_flatten_squeeze_unsqueeze_become_reshape() -> None:
    assert only_node(one_node("Flatten", ["x"], {}, axis=-1)) == ("reshape", {"shape": (12, 4)})
    assert only_node(one_node("Squeeze", ["x", "a"], {"a": np.array([0], np.int64)})) == ("reshape", {"shape": (3, 4, 4)})
    assert only_node(one_node("Unsqueeze", ["x", "a"], {"a": np.array([-1, 1], np.int64)})) == ("reshape", {"shape": (1, 1, 3, 4, 4, 1)})
    assert only_node(one_node("Unsqueeze", ["x"], {}, opset=11, axes=[0])) == ("reshape", {"shape": (1, 1, 3, 4, 4)})


def test_split_num_outputs_makes_the_last_piece_smaller() -> None:
    node = helper.make_node("Split", ["x"], ["a", "b", "c"], axis=1, num_outputs=3)
    graph = import_model(make_model([node], {"x": (TensorProto.FLOAT, (1, 7))}, ["a", "b", "c"]))
    assert only_node(graph) == ("split", {"axis": 1, "sizes": (3, 3, 1)})


def test_pad_axes_expand_to_every_axis() -> None:
    consts = {"p": np.array([1, 2, 3, 4], np.int64), "v": np.array(1.5, np.float32), "a": np.array([-1, 2], np.int64)}
    op, attrs = only_node(one_node("Pad", ["x", "p", "v", "a"], consts))
    assert (op, attrs["pads"], attrs["mode"], attrs["value"]) == ("pad", (0, 0, 2, 1, 0, 0, 4, 3), "constant", 1.5)


def test_resize_with_sizes_and_axes_keeps_aspect_ratio() -> None:
    graph = one_node(
        "Resize", ["x", "", "", "s"], {"s": np.array([7, 9], np.int64)}, shape=(1, 3, 3, 5),
        axes=[2, 3], keep_aspect_ratio_policy="not_larger", mode="linear",
    )
    op, attrs = only_node(graph)
    # scale = min(7/3, 9/5) = 1.8 on both axes; sizes round half up: 5.4 -> 5, 9.0 -> 9
    assert (op, attrs["sizes"], attrs["scales"]) == ("resize", (1, 3, 5, 9), (1.0, 1.0, 1.8, 1.8))


def test_resize_by_integer_scales_needs_no_scales_attribute() -> None:
    op, attrs = only_node(one_node("Resize", ["x", "", "sc"], {"sc": np.array([1, 1, 2, 2], np.float32)}, mode="nearest"))
    assert (op, attrs["sizes"], attrs["scales"]) == ("resize", (1, 3, 8, 8), ())


def test_noops_emit_no_node() -> None:
    x = (TensorProto.FLOAT, (1, 3, 4, 4))
    nodes = [
        helper.make_node("Identity", ["x"], ["a"]),
        helper.make_node("Dropout", ["a"], ["b", "mask"], ratio=0.3),
        helper.make_node("Transpose", ["b"], ["c"], perm=[0, 1, 2, 3]),
        helper.make_node("Cast", ["c"], ["y"], to=TensorProto.FLOAT),
    ]
    graph = import_model(make_model(nodes, {"x": x}, ["y", "mask"], opset=11))
    assert graph.nodes == []
    assert graph.outputs[0] is graph.inputs[0]
    mask = graph.outputs[1].data
    assert mask is not None and mask.dtype == np.bool_ and mask.shape == (1, 3, 4, 4) and mask.all()


# ---- import: folding of shape arithmetic -----------------------------------------------------------


def test_shape_arithmetic_folds_into_one_reshape() -> None:
    """x.view(x.shape[0], -1) as exporters write it: only the reshape survives."""
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Gather", ["shape", "zero"], ["batch"], axis=0),
        helper.make_node("Unsqueeze", ["batch", "axes0"], ["batch1"]),
        helper.make_node("Concat", ["batch1", "minus_one"], ["target"], axis=0),
        helper.make_node("Reshape", ["x", "target"], ["y"]),
    ]
    consts = {"zero": np.array(0, np.int64), "axes0": np.array([0], np.int64), "minus_one": np.array([-1], np.int64)}
    graph = import_model(make_model(nodes, {"x": (TensorProto.FLOAT, ("N", 3, 4, 4))}, ["y"], consts, opset=13))
    assert only_node(graph) == ("reshape", {"shape": (1, 48)})
    assert graph.constants == []


def test_detector_grid_folds_to_a_constant() -> None:
    """The YOLO-style grid: xs/ys from Range over the feature map's shape, broadcast with Expand
    against a ConstantOfShape, stacked and cast: all of it is a constant once shapes are fixed."""
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Gather", ["shape", "two"], ["ny"], axis=0),
        helper.make_node("Gather", ["shape", "three"], ["nx"], axis=0),
        helper.make_node("Range", ["zero", "ny", "one"], ["ys"]),
        helper.make_node("Range", ["zero", "nx", "one"], ["xs"]),
        helper.make_node("Unsqueeze", ["ny", "axes0"], ["ny1"]),
        helper.make_node("Unsqueeze", ["nx", "axes0"], ["nx1"]),
        helper.make_node("Concat", ["ny1", "nx1"], ["hw"], axis=0),
        helper.make_node("ConstantOfShape", ["hw"], ["ones"], value=numpy_helper.from_array(np.array([1], np.int64))),
        helper.make_node("Unsqueeze", ["ys", "axes1"], ["ys_col"]),
        helper.make_node("Expand", ["ys_col", "hw"], ["grid_y"]),
        helper.make_node("Expand", ["xs", "hw"], ["grid_x"]),
        helper.make_node("Unsqueeze", ["grid_x", "axes_last"], ["gx"]),
        helper.make_node("Unsqueeze", ["grid_y", "axes_last"], ["gy"]),
        helper.make_node("Concat", ["gx", "gy"], ["grid_i"], axis=-1),
        helper.make_node("Cast", ["grid_i"], ["grid"], to=TensorProto.FLOAT),
        helper.make_node("Expand", ["grid", "anchors_shape"], ["y"]),
    ]
    consts = {
        "two": np.array(2, np.int64), "three": np.array(3, np.int64), "zero": np.array(0, np.int64),
        "one": np.array(1, np.int64), "axes0": np.array([0], np.int64), "axes1": np.array([1], np.int64),
        "axes_last": np.array([-1], np.int64), "anchors_shape": np.array([1, 3, 1, 1, 1], np.int64),
    }
    graph = import_model(make_model(nodes, {"x": (TensorProto.FLOAT, (1, 255, 2, 3))}, ["y", "ones"], consts))
    assert graph.nodes == []
    grid = graph.outputs[0].data
    ys, xs = np.meshgrid(np.arange(2), np.arange(3), indexing="ij")
    expected = np.broadcast_to(np.stack([xs, ys], -1).astype(np.float32), (1, 3, 2, 3, 2))
    assert grid is not None and grid.dtype == np.float32
    np.testing.assert_array_equal(grid, expected)
    np.testing.assert_array_equal(graph.outputs[1].data, np.ones((2, 3), np.int64))


# ---- unsupported variants are one-line errors --------------------------------------------------------


def test_constant_of_shape_needs_a_constant_shape() -> None:
    node = helper.make_node("ConstantOfShape", ["s"], ["y"])
    with pytest.raises(ModelImportError, match=r"input 's' \(shape\) must be a constant"):
        import_model(make_model([node], {"s": (TensorProto.INT64, (2,))}, ["y"]))


def test_training_dropout_is_unsupported() -> None:
    with pytest.raises(UnsupportedOpError, match="training_mode=True"):
        one_node("Dropout", ["x", "r", "t"], {"r": np.array(0.5, np.float32), "t": np.array(True)})


def test_cast_to_float8_is_unsupported() -> None:
    with pytest.raises(UnsupportedOpError, match="element type FLOAT8E4M3FN is not supported"):
        one_node("Cast", ["x"], {}, to=TensorProto.FLOAT8E4M3FN)


def test_legacy_nearest_resize_in_both_directions_is_unsupported() -> None:
    with pytest.raises(UnsupportedOpError, match="upsamples some axes and downsamples others"):
        one_node("Resize", ["x", "sc"], {"sc": np.array([1, 1, 0.5, 2], np.float32)}, opset=10)


# ---- kernels on data -------------------------------------------------------------------------------


def test_resize_bilinear_half_pixel_matches_hand_computation() -> None:
    graph = one_node("Resize", ["x", "", "sc"], {"sc": np.array([1, 1, 1, 2], np.float32)}, shape=(1, 1, 1, 2), mode="linear")
    (y,) = run(graph, {"x": np.array([[[[0.0, 4.0]]]], np.float32)}).values()
    # half_pixel: output j samples input (j + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25 (clamped at the edges)
    np.testing.assert_allclose(y.reshape(-1), [0.0, 1.0, 3.0, 4.0])


def test_gather_accepts_negative_run_time_indices() -> None:
    node = helper.make_node("Gather", ["x", "i"], ["y"], axis=1)
    model = make_model([node], {"x": (TensorProto.FLOAT, (2, 3)), "i": (TensorProto.INT64, (2,))}, ["y"])
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    (y,) = run(import_model(model), {"x": x, "i": np.array([-1, 0])}).values()
    np.testing.assert_array_equal(y, x[:, [2, 0]])


# ---- ONNX conformance ------------------------------------------------------------------------------

CONVERTED = (
    "Concat Split Slice Reshape Flatten Transpose Squeeze Unsqueeze Resize Pad Gather Shape Constant "
    "ConstantOfShape Identity Dropout Cast Expand Range Tile Upsample GatherElements Size CastLike"
).split()

# Element types the IR has no type for (float8, float4, 2- and 4-bit integers, e8m0): Cast/CastLike
# cases that produce or consume them stop with "element type X is not supported".
IR_TYPES = {"FLOAT", "FLOAT16", "DOUBLE", "BFLOAT16", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64", "BOOL"}

DELIBERATELY_UNSUPPORTED = {
    # sequence and optional values are not tensors; qcc graphs carry tensors only
    "test_identity_sequence",
    "test_identity_opt",
    # random dropout in training mode (ratio > 0): qcc compiles inference graphs
    "test_training_dropout",
    "test_training_dropout_default",
    "test_training_dropout_default_mask",
    "test_training_dropout_mask",
}


def expected_status(name: str) -> str:
    if name in DELIBERATELY_UNSUPPORTED:
        return "error"
    cast = re.search(r"_([A-Z0-9]+)_to_([A-Z0-9]+)", name)
    if cast and not set(cast.groups()) <= IR_TYPES:
        return "error"
    return "pass"


CASES = single_op_cases(CONVERTED)


def test_every_converted_op_has_conformance_cases() -> None:
    covered = {c.model.graph.node[0].op_type for c in CASES}
    assert covered == set(CONVERTED)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_conformance_case(case: Any) -> None:
    result = run_case(case)
    assert result.status == expected_status(case.name), result.detail
    if result.status == "error":
        assert "\n" not in result.detail and result.detail
