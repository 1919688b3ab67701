"""A small ONNX model with every binary op between two activations that qcc lowers with
docs/arithmetic.md §3.3 and §3.14-§3.16: two conv branches (one through a sigmoid, one through a
relu) meet in Div, Max, Min, Pow and a broadcasting Sub, each a graph output of its own.

Broadcasting is exercised on purpose: the divisor and one Max operand are [1,1,H,W] and [1,C,1,1]
reductions of the other branch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

INPUT = "x"
SHAPE = (1, 3, 8, 8)
OUTPUTS = ("div", "max", "min", "pow", "sub")


def binary_ops_model(path: Path, with_pow: bool = True) -> Path:
    """Write the model to ``path``; ``with_pow=False`` leaves Pow out (it has no int16 form)."""
    rng = np.random.default_rng(7)
    inits = [
        numpy_helper.from_array(rng.normal(0, 0.4, (4, 3, 3, 3)).astype(np.float32), "w1"),
        numpy_helper.from_array(rng.normal(0, 0.4, (4, 3, 3, 3)).astype(np.float32), "w2"),
        numpy_helper.from_array(np.full(4, 0.2, np.float32), "b2"),
        numpy_helper.from_array(np.array([1], np.int64), "axis1"),
    ]
    node = helper.make_node
    nodes = [
        node("Conv", [INPUT, "w1"], ["c1"], pads=[1, 1, 1, 1]),
        node("Sigmoid", ["c1"], ["s"]),                                   # (0, 1)
        node("Conv", [INPUT, "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]),
        node("Relu", ["c2"], ["r"]),                                      # [0, ...)
        node("ReduceMean", ["s"], ["s_hw"], axes=[1], keepdims=1),         # [1,1,H,W], in (0, 1)
        node("GlobalAveragePool", ["c2"], ["c2_c"]),                       # [1,C,1,1]
        node("Div", ["r", "s_hw"], ["div"]),                               # [1,C,H,W] / [1,1,H,W]
        node("Max", ["s", "c2_c", "c1"], ["max"]),                         # variadic: a chain of two
        node("Min", ["c1", "c2"], ["min"]),
        node("Pow", ["s", "r"], ["pow"]),
        node("Sub", ["c1", "c2_c"], ["sub"]),                              # [1,C,H,W] - [1,C,1,1]
    ]
    outputs = [name for name in OUTPUTS if with_pow or name != "pow"]
    nodes = [n for n in nodes if n.output[0] in outputs or n.op_type != "Pow"]
    graph = helper.make_graph(nodes, "binops", [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, list(SHAPE))],
                              [helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in outputs], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


def calibration(path: Path, samples: int = 16, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    np.savez(path, **{INPUT: rng.normal(0, 1, (samples, *SHAPE[1:])).astype(np.float32)})
    return path
