"""Detector outputs that join boxes (pixels) and scores (0..1) keep each part's precision
(docs/arithmetic.md §3.17), on the three head shapes of tests/quant/detector_heads.py:

* the quantized output carries per-axis parameters, and the YOLOv8 join (one concat straight to the
  output) requantizes neither part;
* the score part's SQNR against the float model is at least 20 dB at W8A8, where onnxruntime's
  ``quantize_static`` (QDQ, per-channel, MinMax, same calibration samples) scores about 0 dB
  (measured in the same run: one int8 scale for the whole output rounds the scores to zero);
* ``qcc compile --verify 4`` builds them with the C output byte-equal to the integer reference, and
  the generated per-axis dequantize helper returns exactly the reference's floats.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest

from qcc import PassContext, import_model, load_graph, run, run_pipeline
from qcc.backends.numpy_int.executor import run_integer
from qcc.ir.core import Graph
from tests.quant.detector_heads import HEADS, box_part, features, score_part

PIPELINE = "fold-constants,fold-batchnorm,fuse-activation,dce,calibrate,quantize"
HAVE_CC = shutil.which("cc") is not None or shutil.which("gcc") is not None


def sqnr_db(reference: np.ndarray, value: np.ndarray) -> float:
    ref = reference.astype(np.float64)
    noise = float(np.sum((value.astype(np.float64) - ref) ** 2))
    return math.inf if noise == 0 else 10 * math.log10(float(np.sum(ref**2)) / noise)


def quantized_head(kind: str) -> tuple[onnx.ModelProto, Graph]:
    model = HEADS[kind]()
    return model, run_pipeline(import_model(model), PIPELINE, PassContext(calibration=features(kind, 32, seed=1)))


def outputs(graph: Graph, kind: str, integer: bool) -> np.ndarray:
    runner = run_integer if integer else run
    return np.concatenate([runner(graph, feed)["output"] for feed in features(kind, 8, seed=2)])


@pytest.mark.parametrize("kind", sorted(HEADS))
def test_score_part_keeps_its_precision(kind: str) -> None:
    model, quantized = quantized_head(kind)
    joined = quantized.outputs[0].producer.inputs[0]  # the dequantize's operand
    assert joined.type.quant is not None and joined.type.quant.axis is not None
    if kind == "yolov8":
        assert not quantized.find_nodes(("q.requantize", "q.requantize_axis"))
    reference = outputs(import_model(model), kind, integer=False)
    got = outputs(quantized, kind, integer=True)
    assert sqnr_db(score_part(kind, reference), score_part(kind, got)) >= 20.0
    assert sqnr_db(box_part(kind, reference), box_part(kind, got)) >= 20.0


@pytest.mark.parametrize("kind", ["yolov8", "yolov5"])
def test_onnxruntime_quantize_static_loses_the_scores(kind: str) -> None:
    """The baseline of the claim above, measured rather than quoted."""
    pytest.importorskip("onnxruntime")
    from tests.quant.onnxruntime_qdq import quantize_static_outputs

    model = HEADS[kind]()
    reference = outputs(import_model(model), kind, integer=False)
    ort_out = np.concatenate(quantize_static_outputs(model, features(kind, 32, seed=1), features(kind, 8, seed=2)))
    _, quantized = quantized_head(kind)
    qcc_out = outputs(quantized, kind, integer=True)
    ort_db, qcc_db = sqnr_db(score_part(kind, reference), score_part(kind, ort_out)), sqnr_db(score_part(kind, reference), score_part(kind, qcc_out))
    assert ort_db < 3.0 and qcc_db >= ort_db + 20.0, (ort_db, qcc_db)


@pytest.mark.skipif(not HAVE_CC, reason="needs a C compiler")
@pytest.mark.parametrize("kind", ["yolov5", "yolox"])
def test_compiled_head_matches_the_reference_through_the_float_boundary(kind: str, tmp_path: Path) -> None:
    from qcc.backends.c.runtime import load_compiled
    from qcc.cli import main

    model_path, calib_path, out = tmp_path / "head.onnx", tmp_path / "calib.npz", tmp_path / "out"
    onnx.save(HEADS[kind](), model_path)
    samples = features(kind, 8, seed=1)
    np.savez(calib_path, **{name: np.concatenate([s[name] for s in samples]) for name in samples[0]})
    assert main(["compile", str(model_path), "--calib", str(calib_path), "-o", str(out), "--verify", "4"]) == 0
    header = (out / "model.h").read_text()
    assert "OUTPUT0_AXIS" in header and "output0_scale[" in header
    compiled, reference = load_compiled(out), load_graph(out / "model.qir")
    for feed in features(kind, 2, seed=3):
        assert np.array_equal(compiled.run_float(feed)["output"], run_integer(reference, feed)["output"])
