"""A synthetic model made of the blocks real mobile and detector models use, built with onnx.helper:
conv + hard-swish, squeeze-and-excite (global pool -> 1x1 conv -> ReLU -> 1x1 conv -> hard-sigmoid
-> Mul of two activations), nearest Resize, ConvTranspose, Concat, Split, Slice, Transpose,
Sigmoid, Reshape and a MatMul of two activations."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def mobile_blocks_model(seed: int = 0) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)

    def init(name: str, *shape: int, scale: float = 0.3) -> onnx.TensorProto:
        return numpy_helper.from_array((rng.normal(size=shape) * scale).astype(np.float32), name)

    def ints(name: str, values: list[int]) -> onnx.TensorProto:
        return numpy_helper.from_array(np.array(values, np.int64), name)

    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("HardSwish", ["c1"], ["hs"]),
        helper.make_node("GlobalAveragePool", ["hs"], ["gp"]),
        helper.make_node("Conv", ["gp", "w2", "b2"], ["s1"]),
        helper.make_node("Relu", ["s1"], ["r"]),
        helper.make_node("Conv", ["r", "w3", "b3"], ["s2"]),
        helper.make_node("HardSigmoid", ["s2"], ["gate"], alpha=1 / 6, beta=0.5),
        helper.make_node("Mul", ["hs", "gate"], ["se"]),
        helper.make_node("Resize", ["se", "", "scales"], ["up"], mode="nearest"),
        helper.make_node("ConvTranspose", ["se", "w4", "b4"], ["ct"], strides=[2, 2]),
        helper.make_node("Concat", ["up", "ct"], ["cat"], axis=1),
        helper.make_node("Split", ["cat", "split"], ["p1", "p2"], axis=1),
        helper.make_node("Slice", ["p1", "starts", "ends", "axes"], ["sl"]),
        helper.make_node("Transpose", ["sl"], ["tr"], perm=[0, 1, 3, 2]),
        helper.make_node("Sigmoid", ["p2"], ["sg"]),
        helper.make_node("Reshape", ["tr", "shape_a"], ["ra"]),
        helper.make_node("Reshape", ["sg", "shape_b"], ["rb"]),
        helper.make_node("Transpose", ["rb"], ["rbt"], perm=[0, 2, 1]),
        helper.make_node("MatMul", ["ra", "rbt"], ["y"]),
    ]
    inits = [
        init("w1", 16, 8, 3, 3), init("b1", 16, scale=0.1), init("w2", 4, 16, 1, 1), init("b2", 4, scale=0.1),
        init("w3", 16, 4, 1, 1), init("b3", 16, scale=0.1), init("w4", 16, 8, 2, 2), init("b4", 8, scale=0.1),
        numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales"),
        ints("split", [12, 12]), ints("starts", [0]), ints("ends", [8]), ints("axes", [1]),
        ints("shape_a", [1, 8, 256]), ints("shape_b", [1, 12, 256]),
    ]
    graph = helper.make_graph(
        nodes, "mobile_blocks",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 12])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    onnx.checker.check_model(model)
    return model
