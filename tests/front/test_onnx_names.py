"""Inputs and outputs keep their ONNX names wherever a user sees them: npz keys of --calib, --input
and --data, --input-shape, qcc run's printed lines and -o arrays, qcc eval, report.md and the
compiled folder. Only C identifiers are sanitized, and names that collide after sanitizing stay
distinct there."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from tests.test_cli import assert_clean_error, qcc

IN_A = "gpu_0/data_0"
IN_B = "gpu_0_data_0"  # the same C identifier as IN_A once sanitized
OUT = "1st/*out*/:é"  # a leading digit, comment markers, a colon and unicode


def two_input_model() -> onnx.ModelProto:
    """OUT = relu(IN_A) + IN_B + c, with a dynamic batch spelled as Paddle does (-1)."""
    nodes = [
        helper.make_node("Relu", [IN_A], ["r:0"]),
        helper.make_node("Add", ["r:0", IN_B], ["s.0"]),
        helper.make_node("Add", ["s.0", "c/1"], [OUT]),
    ]
    graph = helper.make_graph(
        nodes, "names",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, [-1, 4]) for n in (IN_A, IN_B)],
        [helper.make_tensor_value_info(OUT, TensorProto.FLOAT, [-1, 4])],
        [numpy_helper.from_array(np.array([1, -1, 0.5, 0], np.float32), "c/1")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "m.onnx"
    onnx.save(two_input_model(), path)
    return path


@pytest.fixture
def data(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    path = tmp_path / "d.npz"
    np.savez(path, **{IN_A: rng.normal(size=(6, 4)).astype(np.float32), IN_B: rng.normal(size=(6, 4)).astype(np.float32),
                      "label": np.arange(6) % 4})
    return path


def expected(data: Path) -> np.ndarray:
    with np.load(data) as d:
        return np.maximum(d[IN_A], 0) + d[IN_B] + np.array([1, -1, 0.5, 0], np.float32)


def test_run_takes_and_writes_onnx_names(model: Path, data: Path, tmp_path: Path) -> None:
    proc = qcc("run", model, "--input", data, "-o", tmp_path / "y.npz", "--input-shape", f"{IN_A}=1x4", "--input-shape", f"{IN_B}=1x4")
    assert proc.returncode == 0, proc.stderr
    assert "executor: float interpreter" in proc.stdout
    assert '%"1st/*out*/:é": float32[6, 4]' in proc.stdout
    with np.load(tmp_path / "y.npz") as y:
        assert y.files == [OUT]
        np.testing.assert_allclose(y[OUT], expected(data), rtol=1e-6)


def test_a_key_that_is_not_an_input_lists_the_onnx_names(model: Path, tmp_path: Path) -> None:
    np.savez(tmp_path / "bad.npz", gpu_0_data_1=np.zeros((1, 4), np.float32))
    assert_clean_error(qcc("run", model, "--input", tmp_path / "bad.npz"),
                       "'gpu_0_data_1' that is not a model input (inputs: gpu_0/data_0, gpu_0_data_0)")


def test_quantize_eval_and_run_integer_reference(model: Path, data: Path, tmp_path: Path) -> None:
    qir = tmp_path / "q.qir"
    proc = qcc("quantize", model, "--calib", data, "-o", qir)
    assert proc.returncode == 0, proc.stderr
    assert f'%"{IN_A}": f32[1,4]' in qir.read_text()
    proc = qcc("eval", model, qir, "--data", data)
    assert proc.returncode == 0, proc.stderr
    assert 'output %"1st/*out*/:é": SQNR' in proc.stdout
    proc = qcc("run", qir, "--input", data, "-o", tmp_path / "yq.npz")
    assert proc.returncode == 0, proc.stderr
    assert "executor: integer reference" in proc.stdout
    with np.load(tmp_path / "yq.npz") as y:
        assert y.files == [OUT]
        assert y[OUT].dtype == np.float32
        np.testing.assert_allclose(y[OUT], expected(data), atol=0.05)  # 8-bit steps of ~0.02


def test_compile_sanitizes_only_c_identifiers(model: Path, data: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = qcc("compile", model, "--calib", data, "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert "byte-equal" in proc.stdout
    header = (out / "model.h").read_text()
    assert "input 0: gpu_0/data_0" in header and "input 1: gpu_0_data_0" in header
    assert "*/:" not in header  # the output's comment markers never reach the C text
    report = (out / "report.md").read_text()
    assert f"output `{OUT}`" in report
    proc = qcc("run", out, "--input", data, "-o", tmp_path / "yc.npz")
    assert proc.returncode == 0, proc.stderr
    assert "executor: compiled C model" in proc.stdout
    with np.load(tmp_path / "yc.npz") as y:
        assert y.files == [OUT]
