"""Models the fuzzing suite (tests/fuzz/) found crashing the importer: each now ends in one
``ModelImportError`` (or ``LimitExceeded``) naming what is wrong."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from qcc.errors import ModelImportError
from qcc.limits import LimitExceeded
from qcc.onnx.importer import import_model
from tests.conftest_models import relu_add_model


def test_a_name_that_is_not_utf8_is_refused_at_load(tmp_path: Path) -> None:
    # proto2 lets a string field hold any bytes; protobuf then returns bytes where a str is expected
    model = relu_add_model()
    model.graph.node[0].name = "NAME"
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString().replace(b"NAME", b"\xff\xfe\xfd\xfc"))
    with pytest.raises(ModelImportError, match=r"text field model\.graph\.node\[0\]\.name is not valid UTF-8"):
        import_model(path)


def test_an_attribute_of_the_wrong_type_is_refused() -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    node = helper.make_node("LeakyRelu", ["x"], ["y"], name="leaky", alpha=[0.1, 0.2])  # alpha is a FLOAT
    model = helper.make_model(helper.make_graph([node], "g", [x], [y]), opset_imports=[helper.make_opsetid("", 13)])
    with pytest.raises(ModelImportError, match=r"node 'leaky' \(LeakyRelu\): attribute 'alpha' has type FLOATS, but the op declares FLOAT"):
        import_model(model)


def test_an_attribute_without_a_type_is_refused() -> None:
    model = relu_add_model()
    model.graph.node.append(helper.make_node("Elu", ["y"], ["z"], name="elu"))
    model.graph.node[-1].attribute.add(name="alpha")  # a byte flip can leave the type UNDEFINED
    model.graph.output[0].name = "z"
    with pytest.raises(ModelImportError, match=r"node 'elu' \(Elu\): attribute 'alpha' has type UNDEFINED"):
        import_model(model, input_shapes={"x": (1, 4)})


def _constant_model(nodes: list, initializers: list, output: str) -> onnx.ModelProto:
    """A model whose output ``output`` is made from constants alone (x is there to be an input)."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info(output, TensorProto.FLOAT, None)
    return helper.make_model(helper.make_graph(nodes, "g", [x], [y], initializers), opset_imports=[helper.make_opsetid("", 13)])


def _int64s(name: str, values: list[int]) -> TensorProto:
    return numpy_helper.from_array(np.array(values, np.int64), name)


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ([1] * 34848, r"node 'fill' \(ConstantOfShape\): the result has 34,848 dims; tensors have at most 64"),  # the fuzz case
        ([65536, 65536], r"the result \[65536, 65536\] has 4,294,967,296 elements; the C kernels index tensors with int32"),
    ],
)
def test_constant_of_shape_past_the_limits_is_refused_before_it_is_made(shape: list[int], message: str) -> None:
    node = helper.make_node("ConstantOfShape", ["s"], ["c"], name="fill")
    with pytest.raises(LimitExceeded, match=message):
        import_model(_constant_model([node], [_int64s("s", shape)], "c"))


@pytest.mark.parametrize(
    ("limit", "error", "message"),
    [
        (2**40, LimitExceeded, r"node 'r' \(Range\): the result \[1099511627776\] has 1,099,511,627,776 elements"),
        (math.inf, ModelImportError, r"node 'r' \(Range\): .*must be finite"),
    ],
)
def test_a_range_past_the_limits_is_refused_before_it_is_made(limit: float, error: type[Exception], message: str) -> None:
    dtype = np.int64 if isinstance(limit, int) else np.float32
    bounds = [numpy_helper.from_array(np.array(v, dtype), n) for n, v in (("lo", 0), ("hi", limit), ("step", 1))]
    node = helper.make_node("Range", ["lo", "hi", "step"], ["c"], name="r")
    with pytest.raises(error, match=message):
        import_model(_constant_model([node], bounds, "c"))


def test_folding_a_constant_past_the_limits_is_refused_before_it_is_made() -> None:
    value = numpy_helper.from_array(np.ones(1, np.float32), "v")
    node = helper.make_node("Expand", ["v", "s"], ["c"], name="grow")
    with pytest.raises(LimitExceeded, match=r"node 'grow' \(Expand\): result 'c' \[65536, 65536\] has 4,294,967,296 elements"):
        import_model(_constant_model([node], [value, _int64s("s", [65536, 65536])], "c"))


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        ([], r"node 'relu0' \(Relu\): has 0 outputs; the op has 1$"),  # the fuzz case (a Conv): IndexError
        (["r", "extra"], r"node 'relu0' \(Relu\): has 2 outputs; the op has 1$"),
        ([""], r"node 'relu0' \(Relu\): output 0 is required but has no name"),
    ],
)
def test_a_node_with_the_wrong_outputs_is_refused(outputs: list[str], message: str) -> None:
    model = relu_add_model()
    del model.graph.node[0].output[:]
    model.graph.node[0].output.extend(outputs)
    with pytest.raises(ModelImportError, match=message):
        import_model(model, input_shapes={"x": (1, 4)})


def test_a_cycle_through_a_node_without_a_name_is_reported() -> None:
    model = relu_add_model()
    model.graph.node[0].name = ""
    model.graph.node[0].input[0] = "y"  # relu reads add's output, add reads relu's
    with pytest.raises(ModelImportError, match=r"graph has a cycle through node '(r|add0)'"):
        import_model(model, input_shapes={"x": (1, 4)})


def test_a_tensor_attribute_whose_data_does_not_fill_its_dims_is_refused() -> None:
    # the fuzz case: ConstantOfShape's value had dims [1, 0] and one element (numpy ValueError)
    value = TensorProto(name="value", data_type=TensorProto.FLOAT, dims=[1, 0], float_data=[1.0])  # make_tensor would refuse it
    node = helper.make_node("ConstantOfShape", ["s"], ["c"], name="fill", value=value)
    with pytest.raises(ModelImportError, match=r"node 'fill' \(ConstantOfShape\): attribute 'value': cannot read its data"):
        import_model(_constant_model([node], [_int64s("s", [2])], "c"))
