"""The inputs the mutators start from: real models (the shipped example, onnx's light models),
small generated ones that quantize and compile in well under a second, their IR text, and
calibration data that fits them."""

from __future__ import annotations

import contextlib
import functools
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from tests.conftest_models import relu_add_model
from tests.onnx.light_models import LIGHT_MODELS, light_model_path

EXAMPLE = Path(__file__).parents[2] / "examples" / "digits_mbv2.onnx"


def conv_gemm_model() -> onnx.ModelProto:
    """x: f32[1,1,4,4] -> Conv 3x3 -> Relu -> Flatten -> Gemm -> y: f32[1,3]."""
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.normal(size=(4, 1, 3, 3)).astype(np.float32), "w"),
        numpy_helper.from_array(rng.normal(size=(4,)).astype(np.float32), "b"),
        numpy_helper.from_array(rng.normal(size=(3, 64)).astype(np.float32), "fw"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1], name="conv"),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("Flatten", ["r"], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "fw"], ["y"], transB=1, name="fc"),
    ]
    graph = helper.make_graph(nodes, "small", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def calibration(samples: int = 8) -> np.ndarray:
    """Inputs for conv_gemm_model, stacked on the batch axis."""
    return np.random.default_rng(1).normal(size=(samples, 1, 4, 4)).astype(np.float32)


@functools.cache
def onnx_seeds() -> dict[str, bytes]:
    """Serialized seed models by name; the light models add real architectures (a few, to keep a case fast)."""
    seeds = {"example": EXAMPLE.read_bytes(), "conv_gemm": conv_gemm_model().SerializeToString(),
             "relu_add": relu_add_model().SerializeToString()}
    for name in LIGHT_MODELS[:4]:
        seeds[name] = light_model_path(name).read_bytes()
    return seeds


@functools.cache
def ir_seeds() -> dict[str, tuple[str, bytes | None]]:
    """IR text and .npz sidecar (large constants) of the small models, float and quantized (the
    quantized one shows every q-op field), written by qcc itself."""
    from tests.fuzz.harness import run_cli

    seeds: dict[str, tuple[str, bytes | None]] = {}
    with case_folder() as folder:
        onnx.save(conv_gemm_model(), folder / "m.onnx")
        np.savez(folder / "c.npz", x=calibration())
        commands = {
            "conv_gemm": ["import", str(folder / "m.onnx"), "-o", str(folder / "conv_gemm.qir")],
            "example": ["import", str(EXAMPLE), "-o", str(folder / "example.qir")],
            "conv_gemm_int8": ["quantize", str(folder / "m.onnx"), "--calib", str(folder / "c.npz"), "-o", str(folder / "conv_gemm_int8.qir")],
        }
        for name, argv in commands.items():
            outcome = run_cli(argv)
            assert outcome.code == 0, outcome.stderr
            sidecar = folder / f"{name}.npz"
            seeds[name] = ((folder / f"{name}.qir").read_text(), sidecar.read_bytes() if sidecar.exists() else None)
    return seeds


@contextlib.contextmanager
def case_folder() -> Iterator[Path]:
    """A fresh folder for one case (hypothesis runs many cases per test, so tmp_path will not do)."""
    with tempfile.TemporaryDirectory(prefix="qcc-fuzz-") as name:
        yield Path(name)
