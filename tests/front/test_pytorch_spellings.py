"""What the PyTorch exporter writes into real models (torchvision ViT, YOLOv8) compiles with its
C output byte-equal to the integer reference:

* shape arithmetic with ops qcc has no converter for (multi-head attention computes its split
  index with ``Mod`` of two constants) folds at import through ``onnx.reference``;
* a layer whose input range is tiny next to its bias (a detector head after nearly dead
  activations) gets weight scales coarse enough for the bias to fit int32, instead of a refusal.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from qcc.arith.params import BIAS_LIMIT, bias_weight_scale_floor, quantize_weight_ints
from qcc.errors import ModelImportError
from qcc.onnx.constant_nodes import fold_constant_node
from qcc.onnx.importer import import_model
from tests.test_cli import assert_clean_error, qcc


def _model(nodes: list[onnx.NodeProto], inits: list[onnx.TensorProto], shape: list[int], name: str) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def attention_split_model() -> onnx.ModelProto:
    """y = the middle third of x's last axis, scaled, where the slice bounds come from
    ``Mod(-1, 3)`` on constants, as torch's multi-head attention export spells its q/k/v split."""
    inits = [numpy_helper.from_array(np.array(-1, np.int64), "minus_one"), numpy_helper.from_array(np.array(3, np.int64), "three"),
             numpy_helper.from_array(np.array([1], np.int64), "one_1d"), numpy_helper.from_array(np.array(4, np.int64), "width"),
             numpy_helper.from_array(np.array(0.5, np.float32), "half")]
    nodes = [
        helper.make_node("Mod", ["minus_one", "three"], ["two"]),  # 2: Python-style modulo of negatives
        helper.make_node("Sub", ["two", "one_1d"], ["part"]),  # [1]
        helper.make_node("Mul", ["part", "width"], ["start"]),  # [4]
        helper.make_node("Add", ["start", "width"], ["end"]),  # [8]
        helper.make_node("Slice", ["x", "start", "end", "minus_one_axis"], ["mid"]),
        helper.make_node("Mul", ["mid", "half"], ["y"]),
    ]
    inits.append(numpy_helper.from_array(np.array([-1], np.int64), "minus_one_axis"))
    return _model(nodes, inits, [1, 5, 12], "attention_split")


def tiny_input_head_model(bias: float = 2.0) -> onnx.ModelProto:
    """A 1x1 conv with a large bias on an input whose calibrated range is about 1e-6."""
    rng = np.random.default_rng(0)
    w = rng.uniform(-0.1, 0.1, (6, 4, 1, 1)).astype(np.float32)
    b = np.full(6, bias, np.float32)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[1, 1])]
    return _model(nodes, [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")], [1, 4, 5, 5], "tiny_head")


def _compile(tmp_path: Path, model: onnx.ModelProto, samples: np.ndarray) -> None:
    path, calib = tmp_path / "m.onnx", tmp_path / "calib.npz"
    onnx.save(model, path)
    np.savez(calib, x=samples)
    proc = qcc("compile", path, "--calib", calib, "-o", tmp_path / "out", "--verify", str(len(samples)))
    assert proc.returncode == 0, proc.stderr
    assert f"byte-equal to the integer reference on {len(samples)}" in proc.stdout


def test_mod_of_constants_folds_at_import() -> None:
    graph = import_model(attention_split_model())
    assert [n.op for n in graph.nodes] == ["slice", "mul"]
    slice_node = graph.nodes[0]
    assert slice_node.result.type.shape == (1, 5, 4)


def test_attention_split_model_compiles_bit_exact(tmp_path: Path) -> None:
    samples = np.random.default_rng(1).normal(size=(4, 5, 12)).astype(np.float32)
    _compile(tmp_path, attention_split_model(), samples)


def test_an_unconverted_op_on_run_time_data_is_still_refused(tmp_path: Path) -> None:
    nodes = [helper.make_node("Mod", ["x", "x"], ["y"], name="runtime_mod", fmod=1)]
    path = tmp_path / "m.onnx"
    onnx.save(_model(nodes, [], [1, 4], "runtime_mod"), path)
    assert_clean_error(qcc("import", path, "-o", tmp_path / "o.qir"), "node 'runtime_mod' (Mod)", "not supported")


def test_a_random_op_is_never_folded(tmp_path: Path) -> None:
    nodes = [helper.make_node("RandomNormal", [], ["noise"], name="noise", shape=[1, 4]), helper.make_node("Add", ["x", "noise"], ["y"])]
    path = tmp_path / "m.onnx"
    onnx.save(_model(nodes, [], [1, 4], "random"), path)
    assert_clean_error(qcc("import", path, "-o", tmp_path / "o.qir"), "node 'noise' (RandomNormal)", "not supported")


def test_a_constant_fold_that_fails_names_the_node() -> None:
    node = helper.make_node("Mod", ["a", "b"], ["c"], name="bad_mod")  # shapes that do not broadcast
    with pytest.raises(ModelImportError, match="node 'bad_mod'.*folding it on constant operands failed"):
        fold_constant_node(node, [np.arange(2, dtype=np.int64), np.arange(1, 4, dtype=np.int64)], 17, "node 'bad_mod' (Mod)")


@pytest.mark.parametrize("bias", [2.0, -300.0, 1e-3])
def test_bias_weight_scale_floor_keeps_the_bias_in_range(bias: float) -> None:
    rng = np.random.default_rng(2)
    w = rng.uniform(-0.1, 0.1, (6, 4, 1, 1))
    x_scale = 1e-9
    biases = np.full(6, bias)
    floor = bias_weight_scale_floor(biases, x_scale)
    _, q, _ = quantize_weight_ints(w, 8, 0, floor)
    scales = np.asarray(q.scale)
    assert np.all(np.abs(np.rint(biases / (x_scale * scales))) <= BIAS_LIMIT)
    plain = np.asarray(quantize_weight_ints(w, 8, 0)[1].scale)
    assert np.array_equal(scales, np.maximum(plain, floor))  # only the scales that must grow do


def test_tiny_input_head_compiles_bit_exact(tmp_path: Path) -> None:
    samples = (np.random.default_rng(3).normal(size=(4, 4, 5, 5)) * 1e-6).astype(np.float32)
    _compile(tmp_path, tiny_input_head_model(), samples)
