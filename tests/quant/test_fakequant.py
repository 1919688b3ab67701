"""Fake-quant simulation against the integer reference on the example model.

The two differ only in requantization rounding (exact here, double rounding there) and in float
accumulation order, so the logits may drift by a few output steps: at most 3 LSB of the output
scale, and the predicted class agrees on at least 98% of the test samples."""

from __future__ import annotations

import numpy as np

from qcc.backends.numpy_int.executor import run_integer
from qcc.targets import get_target
from qcc.quant.fakequant import FakeQuant, fake_quantize
from qcc.quant.lowering import Settings
from qcc.arith.params import activation_params
from tests.quant.example_model import calibrated, quantized, labelled_samples


def test_fake_quant_tracks_the_integer_reference() -> None:
    graph = calibrated()
    fq = FakeQuant(graph, Settings(8, 8, True, get_target("generic-int8")))
    q = quantized()
    out_scale = float(q.outputs[0].producer.inputs[0].type.quant.scale)
    xs, _ = labelled_samples(100)
    drift, agree = [], 0
    for x in xs:
        a = fq.run({"input": x[None]})["logits"]
        b = run_integer(q, {"input": x[None]})["logits"]
        drift.append(np.abs(a - b).max() / out_scale)
        agree += int(a.argmax() == b.argmax())
    assert max(drift) <= 3.0 + 1e-4
    assert agree >= 98


def test_fake_quantize_lands_on_the_grid() -> None:
    q = activation_params(-1.0, 3.0, 8)
    x = np.linspace(-2, 4, 101, dtype=np.float32)
    y = fake_quantize(x, q)
    steps = (y / np.float32(q.scale)) + q.zero_point
    assert np.allclose(steps, np.rint(steps), atol=1e-3)
    assert -1.0 - float(q.scale) <= y.min() and y.max() <= 3.0 + float(q.scale)
