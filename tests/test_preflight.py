"""The pre-flight check: every node that cannot be lowered is named in one line, before calibration
or any PTQ pass reads data, and what it refuses is exactly what quantize and the C backend refuse."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from qcc.cli import main
from qcc.onnx.importer import import_model
from qcc.pipeline import PassContext, run_pipeline
from qcc.preflight import unsupported_nodes


def _two_unsupported(path: Path) -> Path:
    """A conv whose result feeds two reduce_sums (no integer lowering) and a sqrt (a table)."""
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.normal(0, 0.3, (8, 3, 3, 3)).astype(np.float32), "W")
    nodes = [
        helper.make_node("Conv", ["x", "W"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("ReduceSum", ["c"], ["s"], keepdims=1),
        helper.make_node("Sqrt", ["c"], ["q"]),
        helper.make_node("Erf", ["c"], ["e"]),
        helper.make_node("ReduceSum", ["e"], ["l"], keepdims=1),
        helper.make_node("Add", ["s", "l"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "preflight", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 1, 1]), helper.make_tensor_value_info("q", TensorProto.FLOAT, [1, 8, 8, 8])], [w],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    np.savez(path.with_suffix(".npz"), x=rng.normal(0, 1, (64, 3, 8, 8)).astype(np.float32))
    return path


@pytest.mark.parametrize("recipe", ["fast", "adaround"])
def test_every_unsupported_node_is_named_in_one_line_before_any_data_is_read(tmp_path: Path, capsys: pytest.CaptureFixture[str], recipe: str) -> None:
    model = _two_unsupported(tmp_path / "m.onnx")
    out = tmp_path / "out"
    start = time.perf_counter()
    code = main(["compile", str(model), "--calib", str(model.with_suffix(".npz")), "-o", str(out), "--recipe", recipe])
    seconds = time.perf_counter() - start
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "2 nodes cannot be lowered" in err and "'s' (reduce_sum)" in err and "'l' (reduce_sum)" in err
    assert "'q'" not in err, "sqrt becomes a table: it is not refused"
    assert seconds < 2.0, f"{seconds:.2f} s: the check must come before calibration and AdaRound"
    assert not out.exists()


def _integer_compare(path: Path) -> Path:
    """An int32 input compared with a constant: the reference runs `equal`, the C backend has no kernel."""
    nodes = [
        helper.make_node("Equal", ["ids", "k"], ["eq"]),
        helper.make_node("Cast", ["eq"], ["f"], to=TensorProto.FLOAT),
        helper.make_node("Relu", ["f"], ["y"]),
    ]
    k = numpy_helper.from_array(np.array([3], np.int32), "k")
    graph = helper.make_graph(nodes, "cmp", [helper.make_tensor_value_info("ids", TensorProto.INT32, [1, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])], [k])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    np.savez(path.with_suffix(".npz"), ids=np.arange(32, dtype=np.int32).reshape(4, 8) % 5)
    return path


def test_quantize_and_compile_ask_the_same_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = _integer_compare(tmp_path / "cmp.onnx")
    calib = str(model.with_suffix(".npz"))
    assert main(["quantize", str(model), "--calib", calib, "-o", str(tmp_path / "q.qir")]) == 0
    graph = import_model(str(model))
    assert unsupported_nodes(graph, c_backend=False) == []
    assert [(name, op) for name, op, _ in unsupported_nodes(graph)] == [("eq", "equal")]
    capsys.readouterr()
    assert main(["compile", str(model), "--calib", calib, "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "'eq' (equal): no C kernel for this op on integer data yet (C backend)" in err


def _resize(path: Path, mode: str, coordinates: str) -> Path:
    roi = numpy_helper.from_array(np.array([0, 0, 0, 0, 1, 1, 1, 1], np.float32), "roi")
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")
    nodes = [helper.make_node("Resize", ["x", "roi", "scales"], ["y"], mode=mode, coordinate_transformation_mode=coordinates)]
    graph = helper.make_graph(nodes, "rs", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 8, 8])], [roi, scales])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_a_resize_the_c_backend_cannot_run_is_refused_by_quantize_too(tmp_path: Path, mode: str) -> None:
    """Formerly a nearest tf_crop_and_resize quantized and evaluated, then compile refused it."""
    graph = import_model(str(_resize(tmp_path / "rs.onnx", mode, "tf_crop_and_resize")))
    refusals = unsupported_nodes(graph, c_backend=False)
    assert len(refusals) == 1 and "tf_crop_and_resize" in refusals[0][2]
    calibration = [{"x": np.ones((1, 2, 4, 4), np.float32)}]
    with pytest.raises(Exception, match="tf_crop_and_resize"):
        run_pipeline(graph, "calibrate,quantize", PassContext(calibration=calibration))
