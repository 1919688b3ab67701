"""The ONNX LSTM imports unrolled over its sequence length into ops qcc quantizes: the float graph
computes what onnxruntime computes, the ONNX project's LSTM cases pass (both layouts, peepholes),
and a bidirectional LSTM compiles to C byte-equal to the integer reference."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from qcc.interp.interpreter import run_samples
from qcc.onnx.conformance import collect_cases, run_case
from qcc.onnx.importer import import_model

STEPS, SIZE, HIDDEN = 6, 4, 8


def bidirectional_lstm(peepholes: bool = False) -> onnx.ModelProto:
    """x [1, 6, 4] (batch first, as PyTorch exports it) -> Transpose -> bidirectional LSTM (hidden 8,
    biases, non-zero initial states) -> Y, Y_h, Y_c."""
    rng = np.random.default_rng(5)
    weights = {
        "W": rng.normal(0, 0.5, (2, 4 * HIDDEN, SIZE)), "R": rng.normal(0, 0.3, (2, 4 * HIDDEN, HIDDEN)),
        "B": rng.normal(0, 0.2, (2, 8 * HIDDEN)), "h0": rng.normal(0, 0.5, (2, 1, HIDDEN)), "c0": rng.normal(0, 0.5, (2, 1, HIDDEN)),
    }
    if peepholes:
        weights["P"] = rng.normal(0, 0.3, (2, 3 * HIDDEN))
    inputs = ["xt", "W", "R", "B", "", "h0", "c0"] + (["P"] if peepholes else [])
    nodes = [helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2]),
             helper.make_node("LSTM", inputs, ["y", "y_h", "y_c"], name="lstm", direction="bidirectional", hidden_size=HIDDEN)]
    graph = helper.make_graph(
        nodes, "bilstm", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, STEPS, SIZE])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("y", "y_h", "y_c")],
        initializer=[numpy_helper.from_array(v.astype(np.float32), k) for k, v in weights.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])



@pytest.mark.parametrize("peepholes", [False, True])
def test_unrolled_lstm_computes_what_onnxruntime_computes(peepholes: bool) -> None:
    ort = pytest.importorskip("onnxruntime")
    model = bidirectional_lstm(peepholes)
    x = np.random.default_rng(1).normal(0, 1, (1, STEPS, SIZE)).astype(np.float32)
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    got = run_samples(import_model(model), {"x": x})
    for name, expected in zip(("y", "y_h", "y_c"), want):
        np.testing.assert_allclose(got[name], expected, atol=1e-5, rtol=0)


def test_onnx_lstm_cases_pass() -> None:
    results = [run_case(c) for c in collect_cases() if any(n.op_type == "LSTM" for n in c.model.graph.node)]
    assert {r.name for r in results} >= {"test_lstm_defaults", "test_lstm_with_peepholes", "test_lstm_batchwise", "test_lstm_bidirectional"}
    assert all(r.status == "pass" for r in results), results


def test_lstm_compiles_to_c_byte_equal_to_the_reference(tmp_path: Path) -> None:
    onnx.save(bidirectional_lstm(), tmp_path / "lstm.onnx")
    x = np.random.default_rng(0).normal(0, 1, (8, STEPS, SIZE)).astype(np.float32)
    np.savez(tmp_path / "calib.npz", x=x)
    proc = subprocess.run(
        [sys.executable, "-m", "qcc.cli", "compile", str(tmp_path / "lstm.onnx"), "-o", str(tmp_path / "out"),
         "--calib", str(tmp_path / "calib.npz"), "--verify", "8"],
        check=False, capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "byte-equal" in proc.stdout
