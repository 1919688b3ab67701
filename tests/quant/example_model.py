"""The shipped example model, calibrated and quantized once per test session."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from qcc import PassContext, import_model, run_pipeline
from qcc.ir import Graph, parse, print_graph

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MODEL = EXAMPLES / "digits_mbv2.onnx"
CALIB = EXAMPLES / "calib.npz"
TEST = EXAMPLES / "test.npz"


def copy_graph(graph: Graph) -> Graph:
    text, blobs = print_graph(graph)
    return parse(text, blobs)


@functools.lru_cache(maxsize=None)
def calibrated(method: str = "minmax") -> Graph:
    """The example model folded and calibrated (callers get a private copy via copy_graph)."""
    return run_pipeline(import_model(MODEL), f"fold-batchnorm,fuse-activation,quant-scheme{{method={method}}},calibrate", PassContext(calibration=str(CALIB)))


def quantized(pipeline: str = "quantize", target: str = "generic-int8") -> Graph:
    from qcc.targets import get_target

    return run_pipeline(copy_graph(calibrated()), pipeline, PassContext(target=get_target(target)))


def labelled_samples(n: int) -> tuple[np.ndarray, np.ndarray]:
    d = np.load(TEST)
    return d["input"][:n], d["label"][:n]
