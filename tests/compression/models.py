"""Small float models for the compression tests, built with onnx.helper: two 3x3 convs and a 1x1
conv joined by ReLUs (every compression method applies), with random weights."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from qcc.ir.core import Graph
from qcc.onnx.importer import import_model

SIZE = 8


def three_conv_model(seed: int = 0) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)
    shapes = {"w1": (8, 3, 3, 3), "w2": (8, 8, 3, 3), "w3": (4, 8, 1, 1)}
    inits = [numpy_helper.from_array((rng.standard_normal(s) / np.sqrt(np.prod(s[1:]))).astype(np.float32), n) for n, s in shapes.items()]
    inits += [numpy_helper.from_array(rng.uniform(-0.2, 0.2, s[0]).astype(np.float32), n.replace("w", "b")) for n, s in shapes.items()]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("Conv", ["r2", "w3", "b3"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "three_conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, SIZE, SIZE])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def three_conv_graph(seed: int = 0) -> Graph:
    return import_model(three_conv_model(seed))


def inputs(count: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((count, 3, SIZE, SIZE)).astype(np.float32)
