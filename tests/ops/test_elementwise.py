"""The element-wise op family: result types, kernels that keep element types, ONNX import into the
IR ops later passes expect (clip{min,max}, chains of add), and the ONNX conformance cases of every
converted op."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Sequence

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper, version_converter

from qcc.errors import IRError, UnsupportedOpError
from qcc.interp.interpreter import evaluate, run
from qcc.ir.core import Graph
from qcc.ir.ops import get_op
from qcc.ir.types import DType, TensorType
from qcc.onnx.conformance import run_case
from qcc.onnx.converters.elementwise import DIRECT, VARIADIC
from qcc.onnx.importer import MIN_OPSET, import_model
from qcc.ops.elementwise import BINARY_OPS, FLOAT, UNARY_OPS
from tests.conftest import single_op_cases


def result_types(op: str, operands: Sequence[TensorType], **attrs: Any) -> list[TensorType]:
    graph = Graph()
    inputs = [graph.add_input(f"x{i}", t) for i, t in enumerate(operands)]
    return [r.type for r in graph.add_node(op, inputs, attrs).results]


def t(dtype: DType, *shape: int) -> TensorType:
    return TensorType(dtype, shape)


F32, I8, I32, I64, BOOL = DType.F32, DType.I8, DType.I32, DType.I64, DType.BOOL


# ---- result types ------------------------------------------------------------------------------


def test_binary_ops_broadcast_like_numpy() -> None:
    assert result_types("add", [t(F32, 2, 1, 4), t(F32, 3, 1)]) == [t(F32, 2, 3, 4)]


def test_binary_ops_reject_shapes_that_do_not_broadcast() -> None:
    with pytest.raises(IRError, match=r"sub: operand shapes \[2, 3\] and \[4\] do not broadcast"):
        result_types("sub", [t(F32, 2, 3), t(F32, 4)])


def test_binary_ops_reject_mixed_element_types() -> None:
    with pytest.raises(IRError, match=r"mul: operands have different element types: f32, i32"):
        result_types("mul", [t(F32, 4), t(I32, 4)])


def test_comparisons_give_bool() -> None:
    assert result_types("equal", [t(I8, 3, 4), t(I8, 4)]) == [t(BOOL, 3, 4)]
    assert result_types("less", [t(F32, 2), t(F32, 1)]) == [t(BOOL, 2)]


def test_pow_keeps_the_base_type_whatever_the_exponent_type() -> None:
    assert result_types("pow", [t(F32, 3), t(I64, 1)]) == [t(F32, 3)]
    assert result_types("pow", [t(I32, 3), t(F32, 3)]) == [t(I32, 3)]


def test_prelu_slope_must_broadcast_to_x() -> None:
    assert result_types("prelu", [t(F32, 1, 3, 4, 4), t(F32, 3, 1, 1)]) == [t(F32, 1, 3, 4, 4)]
    with pytest.raises(IRError, match=r"prelu: slope shape \[2, 3, 1, 1\] does not broadcast to x shape \[1, 3, 4, 4\]"):
        result_types("prelu", [t(F32, 1, 3, 4, 4), t(F32, 2, 3, 1, 1)])


def test_float_math_rejects_integer_operands() -> None:
    with pytest.raises(IRError, match=r"sqrt: operand has element type i32, expected a float type"):
        result_types("sqrt", [t(I32, 4)])


def test_logical_ops_want_bool() -> None:
    with pytest.raises(IRError, match=r"and: operand 'a' has element type f32, expected bool"):
        result_types("and", [t(F32, 4), t(BOOL, 4)])


def test_where_broadcasts_all_three_operands_and_wants_a_bool_condition() -> None:
    assert result_types("where", [t(BOOL, 2, 1), t(F32, 3), t(F32, 1, 1)]) == [t(F32, 2, 3)]
    with pytest.raises(IRError, match=r"where: condition has element type f32, expected bool"):
        result_types("where", [t(F32, 2), t(F32, 2), t(F32, 2)])


def test_clip_bounds_default_to_unbounded() -> None:
    graph = Graph()
    node = graph.add_node("clip", [graph.add_input("x", t(F32, 4))])
    assert node.attrs == {"min": -math.inf, "max": math.inf}
    assert node.result.type == t(F32, 4)


@pytest.mark.parametrize("op", ["add", "sub", "mul"])
def test_add_sub_mul_accept_a_fused_clamp(op: str) -> None:
    assert {"act_min", "act_max"} <= set(get_op(op).attr_index)


def test_every_op_is_documented() -> None:
    for name in [*UNARY_OPS, *BINARY_OPS, "where"]:
        assert get_op(name).doc, name


# ---- kernels -----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float16, "bfloat16", np.float64])
@pytest.mark.parametrize("op", [name for name, spec in UNARY_OPS.items() if spec.operands is FLOAT])
def test_float_kernels_keep_the_element_type(op: str, dtype: Any) -> None:
    dt = DType.BF16.numpy if dtype == "bfloat16" else np.dtype(dtype)
    x = np.linspace(-3, 3, 13).astype(dt)
    attrs = get_op(op).normalize_attrs({}, op)
    with np.errstate(all="ignore"):  # sqrt/log of negatives: NaN, as ONNX says
        (y,) = evaluate(op, [x], attrs)
    assert y.dtype == dt and y.shape == x.shape


def test_integer_division_truncates_toward_zero() -> None:
    a = np.array([-7, 7, -7, 7, 6, -6], np.int32)
    b = np.array([2, 2, -2, -2, 3, 3], np.int32)
    (q,) = evaluate("div", [a, b], {})
    assert q.tolist() == [-3, 3, 3, -3, 2, -2] and q.dtype == np.int32


def test_integer_pow_with_negative_exponents_truncates() -> None:
    base = np.array([2, 1, -1, -1, 3], np.int64)
    exponent = np.array([-1, -5, -3, -2, 2], np.int64)
    assert evaluate("pow", [base, exponent], {})[0].tolist() == [0, 1, -1, 1, 9]


def test_integer_clip_rounds_fractional_bounds_inward() -> None:
    x = np.array([-128, -2, -1, 0, 1, 2, 127], np.int8)
    (y,) = evaluate("clip", [x], {"min": -1.5, "max": 1.5})
    assert y.tolist() == [-1, -1, -1, 0, 1, 1, 1] and y.dtype == np.int8


def test_clip_with_min_above_max_gives_max() -> None:
    (y,) = evaluate("clip", [np.array([-5.0, 0.0, 5.0], np.float32)], {"min": 2.0, "max": 1.0})
    assert y.tolist() == [1.0, 1.0, 1.0]


def test_add_honours_a_fused_clamp() -> None:
    a, b = np.array([-3.0, 2.0, 5.0], np.float32), np.float32(1.0) * np.ones(3, np.float32)
    (y,) = evaluate("add", [a, b], {"act_min": 0.0, "act_max": 5.0})
    assert y.tolist() == [0.0, 3.0, 5.0] and y.dtype == np.float32


def test_erf_matches_the_standard_library() -> None:
    x = np.linspace(-5, 5, 2001)
    expected = np.array([math.erf(v) for v in x])
    np.testing.assert_allclose(evaluate("erf", [x], {})[0], expected, rtol=1e-8, atol=1e-15)


# ---- import ------------------------------------------------------------------------------------


def one_node_model(
    op_type: str, inputs: Sequence[tuple[str, int, Sequence[int]]], *, initializers: Sequence[tuple[str, np.ndarray]] = (),
    opset: int = 17, **attrs: Any,
) -> onnx.ModelProto:
    names = [name for name, _, _ in inputs] + [name for name, _ in initializers]
    graph = helper.make_graph(
        [helper.make_node(op_type, names, ["y"], **attrs)],
        "g",
        [helper.make_tensor_value_info(name, elem, shape) for name, elem, shape in inputs],
        [helper.make_tensor_value_info("y", TensorProto.UNDEFINED, None)],
        [numpy_helper.from_array(arr, name) for name, arr in initializers],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


X4 = ("x", TensorProto.FLOAT, [4])


def test_clip_with_constant_bounds_is_one_clip_node() -> None:
    model = one_node_model("Clip", [X4], initializers=[("lo", np.float32(0)), ("hi", np.float32(6))])
    graph = import_model(model)
    assert [(n.op, n.attrs) for n in graph.nodes] == [("clip", {"min": 0.0, "max": 6.0})]


def test_clip_before_opset_11_reads_its_bounds_from_attributes() -> None:
    graph = import_model(one_node_model("Clip", [X4], opset=10, min=-1.0))
    assert [(n.op, n.attrs) for n in graph.nodes] == [("clip", {"min": -1.0, "max": math.inf})]


def test_clip_with_run_time_bounds_becomes_max_then_min() -> None:
    scalar = [("lo", TensorProto.FLOAT, []), ("hi", TensorProto.FLOAT, [])]
    graph = import_model(one_node_model("Clip", [X4, *scalar]))
    assert [n.op for n in graph.nodes] == ["max", "min"]
    x = np.array([-2, 0.5, 3, 9], np.float32)
    (y,) = run(graph, {"x": x, "lo": np.array(0, np.float32), "hi": np.array(6, np.float32)}).values()
    assert y.tolist() == [0.0, 0.5, 3.0, 6.0]


def test_sum_is_a_chain_of_adds_and_one_operand_is_itself() -> None:
    three = import_model(one_node_model("Sum", [X4, ("b", TensorProto.FLOAT, [4]), ("c", TensorProto.FLOAT, [1])]))
    assert [n.op for n in three.nodes] == ["add", "add"]
    assert three.outputs[0].name == "y"
    one = import_model(one_node_model("Sum", [X4]))
    assert one.nodes == [] and one.outputs == one.inputs


def test_mean_divides_the_sum_by_the_operand_count() -> None:
    graph = import_model(one_node_model("Mean", [X4, ("b", TensorProto.FLOAT, [4])]))
    assert [n.op for n in graph.nodes] == ["add", "div"]


def test_unknown_gelu_approximation_is_a_one_line_error() -> None:
    model = one_node_model("Gelu", [X4], opset=20, approximate="sigmoid")
    with pytest.raises(UnsupportedOpError, match=r"attribute approximate='sigmoid' is not supported \(supported: 'none', 'tanh'\)"):
        import_model(model)


# ---- ONNX conformance --------------------------------------------------------------------------

ONNX_OPS = sorted({*DIRECT, *VARIADIC, "Clip", "Where"})

# Deliberately unsupported, and expected to stop with a clean one-line error:
EXPECTED_ERRORS = {
    # string tensors have no IR element type (qcc compiles numeric models)
    "test_equal_string", "test_equal_string_broadcast",
}

CASES = single_op_cases(ONNX_OPS)


def _opset(case: Any) -> int:
    return next(o.version for o in case.model.opset_import if o.domain in ("", "ai.onnx"))


# The logical ops' cases are written at opsets 1 and 7, older than qcc imports (the importer asks
# for onnx.version_converter): they must fail cleanly as they are and pass once upgraded.
OLD_OPSET = {c.name for c in CASES if _opset(c) < MIN_OPSET}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_conformance_case(case: Any) -> None:
    result = run_case(case)
    if case.name in EXPECTED_ERRORS or case.name in OLD_OPSET:
        assert result.status == "error", result
    else:
        assert result.status == "pass", result.detail


@pytest.mark.parametrize("case", [c for c in CASES if c.name in OLD_OPSET], ids=lambda c: c.name)
def test_old_opset_case_passes_once_upgraded(case: Any) -> None:
    upgraded = dataclasses.replace(case, model=version_converter.convert_version(case.model, MIN_OPSET))
    result = run_case(upgraded)
    assert result.status == "pass", result.detail


@pytest.mark.parametrize("case", [c for c in CASES if c.model.graph.node[0].op_type == "Clip"], ids=lambda c: c.name)
def test_clip_case_with_its_bounds_as_constants(case: Any) -> None:
    """The conformance cases feed Clip's bounds at run time (max/min ops); as constants, as in real
    models, they must import as one clip{min, max} node and give the same result."""
    node = case.model.graph.node[0]
    names = [i.name for i in case.model.graph.input]
    for inputs, (expected,) in case.data_sets:
        arrays = [numpy_helper.to_array(a) if isinstance(a, onnx.TensorProto) else np.asarray(a) for a in inputs]
        feeds = dict(zip(names, arrays))
        bounds = {name: feeds.pop(name) for name in node.input[1:] if name}
        graph = import_model(case.model, bind=bounds)
        assert [n.op for n in graph.nodes] in (["clip"], [])  # no bounds at all: nothing to do
        (got,) = run(graph, feeds).values()
        np.testing.assert_array_equal(got, expected)
