"""Exporter spellings the importer resolves once input shapes are fixed:

* a named dynamic dim shared by several inputs (PyTorch names a recurrent state's batch
  ``[2, 'batch', 128]`` like the data's ``['batch', 'sequence']``) takes the value one input fixes;
* an ``If`` whose condition is known at import (a test on shapes) becomes the branch it takes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from qcc.onnx.importer import import_model
from tests.test_cli import assert_clean_error, qcc


def test_shared_dim_name_takes_the_value_another_input_fixes() -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "sequence"])
    state = helper.make_tensor_value_info("state", TensorProto.FLOAT, [2, "batch", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    s = helper.make_tensor_value_info("s", TensorProto.FLOAT, None)
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"]), helper.make_node("Relu", ["state"], ["s"])],
                              "shared", [x, state], [y, s])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    g = import_model(model, input_shapes={"x": (1, 512)})
    assert [i.type.shape for i in g.inputs] == [(1, 512), (2, 1, 4)]


def _branch(name: str, scale: float) -> onnx.GraphProto:
    """y = x * scale, reading x from the outer graph by name."""
    k = numpy_helper.from_array(np.array(scale, np.float32), f"{name}_k")
    return helper.make_graph([helper.make_node("Mul", ["x", f"{name}_k"], [f"{name}_y"])], name, [],
                             [helper.make_tensor_value_info(f"{name}_y", TensorProto.FLOAT, None)], [k])


def test_if_on_a_shape_test_becomes_the_branch_it_takes() -> None:
    """Equal(Shape(x)[1], 512) is known once x's shape is fixed: the then branch (x * 2) runs."""
    inits = [numpy_helper.from_array(np.array([1], np.int64), "one"), numpy_helper.from_array(np.array([512], np.int64), "n")]
    nodes = [helper.make_node("Shape", ["x"], ["shape"]), helper.make_node("Gather", ["shape", "one"], ["len"]),
             helper.make_node("Equal", ["len", "n"], ["cond"]),
             helper.make_node("If", ["cond"], ["y"], then_branch=_branch("then", 2.0), else_branch=_branch("else", 3.0))]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, "sequence"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    model = helper.make_model(helper.make_graph(nodes, "if", [x], [y], inits), opset_imports=[helper.make_opsetid("", 17)])
    for length, scale in ((512, 2.0), (256, 3.0)):
        g = import_model(model, input_shapes={"x": (1, length)})
        assert [n.op for n in g.nodes] == ["mul"]
        assert float(np.asarray(g.nodes[0].inputs[1].data)) == scale


def test_every_op_qcc_cannot_import_is_named_in_one_line(tmp_path: Path) -> None:
    """Two unsupported ops, one fed by the other (as ConvInteger follows DynamicQuantizeLinear in an
    onnxruntime dynamically quantized model): one error names both nodes, not only the first."""
    nodes = [helper.make_node("DynamicQuantizeLinear", ["x"], ["q", "s", "z"], name="dql"),
             helper.make_node("MatMulInteger", ["q", "w", "z"], ["acc"], name="mmi"),
             helper.make_node("Cast", ["acc"], ["y"], to=TensorProto.FLOAT, name="cast")]
    w = numpy_helper.from_array(np.ones((4, 2), np.uint8), "w")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(helper.make_graph(nodes, "dq", [x], [y], [w]), opset_imports=[helper.make_opsetid("", 17)]), path)
    proc = qcc("import", path)
    assert_clean_error(proc, "2 nodes have ops qcc cannot import", "'DynamicQuantizeLinear' is not supported by qcc (1: 'dql')",
                       "'MatMulInteger' is not supported by qcc (1: 'mmi')")
