"""Models the fuzzing suite (tests/fuzz/) found crashing the importer: each now ends in one
``ModelImportError`` naming what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
from onnx import TensorProto, helper

from qcc.errors import ModelImportError
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


def test_a_node_without_outputs_is_refused() -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    nodes = [helper.make_node("Relu", ["x"], [], name="relu0"), helper.make_node("Relu", ["x"], ["y"], name="relu1")]
    model = helper.make_model(helper.make_graph(nodes, "g", [x], [y]), opset_imports=[helper.make_opsetid("", 13)])
    with pytest.raises(ModelImportError, match=r"node 'relu0' \(Relu\) has 0 outputs; Relu gives 1"):
        import_model(model)


def test_a_node_with_too_many_inputs_is_refused() -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    node = helper.make_node("Add", ["x", "x", "x"], ["y"], name="add3")
    model = helper.make_model(helper.make_graph([node], "g", [x], [y]), opset_imports=[helper.make_opsetid("", 13)])
    with pytest.raises(ModelImportError, match=r"node 'add3' \(Add\) has 3 inputs; Add takes 2"):
        import_model(model)
