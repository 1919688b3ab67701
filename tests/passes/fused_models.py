"""Small ONNX models spelling one function the ways exporters do (built with onnx.helper), for the
fuse-elementwise and canonicalize tests."""

from __future__ import annotations

from typing import Callable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SHAPE = [1, 4, 8, 8]
LAYER_NORM_SHAPE = [1, 6, 16]


def _const(name: str, value: float | list[float]) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(value, dtype=np.float32), name)


def _model(name: str, nodes: list[onnx.NodeProto], consts: list[onnx.TensorProto], shape: list[int], opset: int = 13) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)],
        initializer=consts,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def paddle_hardswish() -> onnx.ModelProto:
    """x * clip(x + 3, 0, 6) / 6 with Clip's bounds as inputs (opset 11+)."""
    nodes = [
        helper.make_node("Add", ["x", "three"], ["a"]),
        helper.make_node("Clip", ["a", "zero", "six"], ["c"]),
        helper.make_node("Mul", ["x", "c"], ["m"]),
        helper.make_node("Div", ["m", "six"], ["y"], name="hardswish_58.tmp_0"),
    ]
    return _model("paddle_hardswish", nodes, [_const("three", 3.0), _const("zero", 0.0), _const("six", 6.0)], SHAPE)


def torch_hardswish() -> onnx.ModelProto:
    """PyTorch's export before HardSwish existed (opset < 14): x * HardSigmoid(x, alpha=1/6)."""
    nodes = [helper.make_node("HardSigmoid", ["x"], ["h"], alpha=1 / 6), helper.make_node("Mul", ["x", "h"], ["y"])]
    return _model("torch_hardswish", nodes, [], SHAPE)


def scaled_hardswish() -> onnx.ModelProto:
    """relu6(x + 3) * (1/6) * x: the division as a multiplication by a [1,1,1,1] constant."""
    nodes = [
        helper.make_node("Add", ["x", "three"], ["a"]),
        helper.make_node("Clip", ["a", "zero", "six"], ["c"]),
        helper.make_node("Mul", ["c", "sixth"], ["s"]),
        helper.make_node("Mul", ["s", "x"], ["y"]),
    ]
    consts = [_const("three", 3.0), _const("zero", 0.0), _const("six", 6.0), _const("sixth", [[[[1 / 6]]]])]
    return _model("scaled_hardswish", nodes, consts, SHAPE)


def silu() -> onnx.ModelProto:
    nodes = [helper.make_node("Sigmoid", ["x"], ["s"]), helper.make_node("Mul", ["x", "s"], ["y"])]
    return _model("silu", nodes, [], SHAPE)


def gelu_erf() -> onnx.ModelProto:
    """PyTorch's GELU before opset 20: x * 0.5 * (1 + erf(x / sqrt(2)))."""
    nodes = [
        helper.make_node("Div", ["x", "root2"], ["d"]),
        helper.make_node("Erf", ["d"], ["e"]),
        helper.make_node("Add", ["e", "one"], ["p"]),
        helper.make_node("Mul", ["x", "p"], ["m"]),
        helper.make_node("Mul", ["m", "half"], ["y"]),
    ]
    return _model("gelu_erf", nodes, [_const("root2", 1.4142135), _const("one", 1.0), _const("half", 0.5)], SHAPE)


def mish() -> onnx.ModelProto:
    nodes = [helper.make_node("Softplus", ["x"], ["s"]), helper.make_node("Tanh", ["s"], ["t"]), helper.make_node("Mul", ["x", "t"], ["y"])]
    return _model("mish", nodes, [], SHAPE)


def decomposed_layer_norm() -> onnx.ModelProto:
    """LayerNorm as PyTorch exports it before opset 17, over the last axis, with gamma and beta."""
    rng = np.random.default_rng(1)
    n = LAYER_NORM_SHAPE[-1]
    nodes = [
        helper.make_node("ReduceMean", ["x"], ["mean"], axes=[-1]),
        helper.make_node("Sub", ["x", "mean"], ["d"]),
        helper.make_node("Pow", ["d", "two"], ["sq"]),
        helper.make_node("ReduceMean", ["sq"], ["var"], axes=[-1]),
        helper.make_node("Add", ["var", "eps"], ["ve"]),
        helper.make_node("Sqrt", ["ve"], ["std"]),
        helper.make_node("Div", ["d", "std"], ["n"]),
        helper.make_node("Mul", ["n", "gamma"], ["g"]),
        helper.make_node("Add", ["g", "beta"], ["y"]),
    ]
    consts = [_const("two", 2.0), _const("eps", 1e-5), _const("gamma", list(rng.uniform(0.5, 1.5, n))), _const("beta", list(rng.uniform(-0.2, 0.2, n)))]
    return _model("decomposed_layer_norm", nodes, consts, LAYER_NORM_SHAPE)


# name -> (model builder, the one integer op the compute must become)
SPELLINGS: dict[str, tuple[Callable[[], onnx.ModelProto], str]] = {
    "paddle_hardswish": (paddle_hardswish, "q.lut"),
    "torch_hardswish": (torch_hardswish, "q.lut"),
    "scaled_hardswish": (scaled_hardswish, "q.lut"),
    "silu": (silu, "q.lut"),
    "gelu_erf": (gelu_erf, "q.lut"),
    "mish": (mish, "q.lut"),
    "decomposed_layer_norm": (decomposed_layer_norm, "q.layer_norm"),
}


def samples(model: onnx.ModelProto, count: int, seed: int) -> np.ndarray:
    """``count`` inputs stacked on the batch axis, spread over [-6, 6] (hard-swish's interesting range)."""
    shape = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    return np.random.default_rng(seed).uniform(-6, 6, (count, *shape[1:])).astype(np.float32)
