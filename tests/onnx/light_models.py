"""The real-architecture models shipped in the onnx wheel (onnx/backend/test/data/light/), with the
input and expected output the ONNX backend test runner uses for them."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

LIGHT_DIR = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
LIGHT_MODELS = sorted(p.stem for p in LIGHT_DIR.glob("light_*.onnx"))


def light_model_path(name: str) -> Path:
    return LIGHT_DIR / f"{name}.onnx"


def light_model_data(model: onnx.ModelProto, name: str) -> tuple[dict[str, np.ndarray], list[np.ndarray]]:
    """The runner's deterministic input (arange(n)/n per non-initializer input) and the shipped
    expected outputs."""
    inits = {t.name for t in model.graph.initializer}
    feeds = {}
    for info in model.graph.input:
        if info.name in inits:
            continue
        shape = tuple(d.dim_value if d.HasField("dim_value") else 1 for d in info.type.tensor_type.shape.dim)
        n = math.prod(shape)
        feeds[info.name] = (np.arange(n).reshape(shape) / n).astype(np.float32)
    expected = []
    for i in range(len(model.graph.output)):
        tensor = onnx.TensorProto()
        tensor.ParseFromString((LIGHT_DIR / f"{name}_output_{i}.pb").read_bytes())
        expected.append(numpy_helper.to_array(tensor))
    return feeds, expected
