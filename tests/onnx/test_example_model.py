"""The shipped example model: qcc's float interpreter matches onnxruntime on the whole test set
within atol 1e-4 + rtol 1e-5 on the logits (they reach |27|; the measured max difference is
~8e-6) with identical predictions, and reaches the float accuracy recorded in examples/README.md."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort

from qcc import import_model, run_samples
from tests.quant.example_model import MODEL, TEST


def test_example_model_matches_onnxruntime() -> None:
    data = np.load(TEST)
    ours = run_samples(import_model(MODEL), {"input": data["input"]})["logits"]
    session = ort.InferenceSession(str(MODEL), providers=["CPUExecutionProvider"])
    theirs = np.concatenate([session.run(None, {"input": x[None]})[0] for x in data["input"]])
    np.testing.assert_allclose(ours, theirs, atol=1e-4, rtol=1e-5)
    assert np.array_equal(ours.argmax(axis=1), theirs.argmax(axis=1))
    assert round(100 * float(np.mean(ours.argmax(axis=1) == data["label"])), 2) == 99.17
