"""Small ONNX models in the spellings tf2onnx and jax export (built with onnx.helper) for the
canonicalize tests: layer norm from sums of squares over a middle axis, softmax written out, and
an embedding lookup as a one-hot matrix product."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ONE_HOT_ROWS = 10


def _const(name: str, value: np.ndarray | float | list[float], dtype: type = np.float32) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(value, dtype=dtype), name)


def _model(name: str, nodes: list[onnx.NodeProto], consts: list[onnx.TensorProto], x: onnx.ValueInfoProto, y_shape: list[int]) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, name, [x], [helper.make_tensor_value_info("y", TensorProto.FLOAT, y_shape)], initializer=consts)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def tf2onnx_layer_norm() -> onnx.ModelProto:
    """flax LayerNorm over axis 1 of [1, 8, 6] as tf2onnx writes it: sums times 1/N, E[x^2] - E[x]^2
    clamped at 0, Sqrt, Reciprocal, gamma multiplied into the inverse std, then beta."""
    shape = [1, 8, 6]
    rng = np.random.default_rng(7)
    nodes = [
        helper.make_node("ReduceSum", ["x", "axis1"], ["s"], keepdims=0),
        helper.make_node("Mul", ["x", "x"], ["sq"]),
        helper.make_node("ReduceSum", ["sq", "axis1"], ["s2"], keepdims=0),
        helper.make_node("Mul", ["s2", "inv_n"], ["ex2"]),
        helper.make_node("Mul", ["s", "inv_n"], ["mean"]),
        helper.make_node("Mul", ["mean", "mean"], ["mean2"]),
        helper.make_node("Sub", ["ex2", "mean2"], ["var"]),
        helper.make_node("Max", ["zero", "var"], ["var_pos"]),
        helper.make_node("Reshape", ["var_pos", "keep_shape"], ["var_k"]),
        helper.make_node("Add", ["var_k", "eps"], ["var_eps"]),
        helper.make_node("Sqrt", ["var_eps"], ["std"]),
        helper.make_node("Reciprocal", ["std"], ["inv_std"]),
        helper.make_node("Mul", ["inv_std", "gamma"], ["scale"]),
        helper.make_node("Reshape", ["mean", "keep_shape"], ["mean_k"]),
        helper.make_node("Sub", ["x", "mean_k"], ["d"]),
        helper.make_node("Mul", ["d", "scale"], ["n"]),
        helper.make_node("Add", ["n", "beta"], ["y"]),
    ]
    consts = [
        _const("axis1", [1], np.int64), _const("inv_n", 1 / 8), _const("zero", 0.0), _const("eps", 1e-6),
        _const("keep_shape", [1, 1, 6], np.int64),
        _const("gamma", rng.uniform(0.5, 2.0, (1, 8, 1))), _const("beta", rng.uniform(-0.5, 0.5, (1, 8, 1))),
    ]
    return _model("tf2onnx_layer_norm", nodes, consts, helper.make_tensor_value_info("x", TensorProto.FLOAT, shape), shape)


def jax_softmax() -> onnx.ModelProto:
    """jax.nn.softmax over the last axis of [1, 4, 12]: the max clamped by -inf, sums without keepdims."""
    shape = [1, 4, 12]
    nodes = [
        helper.make_node("ReduceMax", ["x"], ["mx"], axes=[2], keepdims=0),
        helper.make_node("Max", ["ninf", "mx"], ["mc"]),
        helper.make_node("Reshape", ["mc", "keep_shape"], ["mk"]),
        helper.make_node("Sub", ["x", "mk"], ["z"]),
        helper.make_node("Exp", ["z"], ["e"]),
        helper.make_node("ReduceSum", ["e", "axis2"], ["s"], keepdims=0),
        helper.make_node("Reshape", ["s", "keep_shape"], ["sk"]),
        helper.make_node("Div", ["e", "sk"], ["y"]),
    ]
    consts = [_const("ninf", -np.inf), _const("keep_shape", [1, 4, 1], np.int64), _const("axis2", [2], np.int64)]
    return _model("jax_softmax", nodes, consts, helper.make_tensor_value_info("x", TensorProto.FLOAT, shape), shape)


def one_hot_embedding() -> onnx.ModelProto:
    """Cast(Equal(reshape(i), arange(10))) @ W for int32 ids [1, 16], then Tanh."""
    w = np.random.default_rng(3).normal(0.0, 1.0, (ONE_HOT_ROWS, 5))
    nodes = [
        helper.make_node("Reshape", ["x", "ids_shape"], ["ik"]),
        helper.make_node("Equal", ["ik", "range"], ["eq"]),
        helper.make_node("Cast", ["eq"], ["oh"], to=TensorProto.FLOAT),
        helper.make_node("MatMul", ["oh", "w"], ["emb"]),
        helper.make_node("Tanh", ["emb"], ["y"]),
    ]
    consts = [_const("ids_shape", [1, 16, 1], np.int64), _const("range", np.arange(ONE_HOT_ROWS).reshape(1, 1, -1), np.int32), _const("w", w)]
    return _model("one_hot_embedding", nodes, consts, helper.make_tensor_value_info("x", TensorProto.INT32, [1, 16]), [1, 16, 5])


def samples(model: onnx.ModelProto, count: int, seed: int) -> np.ndarray:
    """Inputs for ``model``: normal floats (shifted and scaled so statistics matter), or ids that
    include some outside [0, 10), which the one-hot maps to zero rows."""
    rng = np.random.default_rng(seed)
    x = model.graph.input[0]
    shape = [count, *[d.dim_value for d in x.type.tensor_type.shape.dim][1:]]
    if x.type.tensor_type.elem_type == TensorProto.INT32:
        return rng.integers(-3, ONE_HOT_ROWS + 3, shape).astype(np.int32)
    return (rng.normal(0.0, 1.0, shape) * rng.uniform(0.5, 3.0, (count, 1, 1)) + 0.5).astype(np.float32)


MODELS = {"tf2onnx_layer_norm": (tf2onnx_layer_norm, "layer_norm"), "jax_softmax": (jax_softmax, "softmax"), "one_hot_embedding": (one_hot_embedding, "gather")}
