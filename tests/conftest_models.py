"""Tiny ONNX models built in code for CLI and importer tests."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def relu_add_model(opset: int = 13) -> onnx.ModelProto:
    """y = relu(x) + b for x: f32[N,4] (symbolic batch)."""
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu0"), helper.make_node("Add", ["r", "b"], ["y"], name="add0")]
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
        [numpy_helper.from_array(np.array([1, -1, 0.5, 0], np.float32), "b")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def model_with_op(op_type: str, domain: str = "") -> onnx.ModelProto:
    """x -> Relu -> <op_type> -> y: an op qcc may not know."""
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node(op_type, ["r"], ["y"], name="mystery", domain=domain)]
    graph = helper.make_graph(
        nodes, "unsupported",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    opsets = [helper.make_opsetid("", 13)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    return helper.make_model(graph, opset_imports=opsets)
