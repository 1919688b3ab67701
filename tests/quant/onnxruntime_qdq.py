"""onnxruntime's recommended static quantization of a model (QDQ, per-channel int8 weights, int8
activations, MinMax calibration) on given samples, and its outputs: the reference qcc's accuracy
claims are compared with (tests and benchmarks)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import onnx
import onnx.version_converter
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static


class _Reader(CalibrationDataReader):
    def __init__(self, samples: Sequence[dict[str, np.ndarray]]) -> None:
        self.items: Iterator[dict[str, np.ndarray]] = iter(samples)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self.items, None)


def quantize_static_outputs(model: onnx.ModelProto, calibration: Sequence[dict[str, np.ndarray]], evaluation: Sequence[dict[str, np.ndarray]]) -> list[np.ndarray]:
    """The first output of onnxruntime's QDQ-quantized model on each evaluation feed."""
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "float.onnx", Path(tmp) / "qdq.onnx"
        if model.opset_import[0].version < 13:  # per-channel QDQ needs DequantizeLinear's axis (opset 13)
            model = onnx.version_converter.convert_version(model, 13)
        onnx.save(model, src)
        quantize_static(
            str(src), str(dst), _Reader(calibration), quant_format=QuantFormat.QDQ, per_channel=True,
            activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax,
        )
        session = ort.InferenceSession(str(dst), providers=["CPUExecutionProvider"])
        return [session.run(None, feed)[0] for feed in evaluation]
