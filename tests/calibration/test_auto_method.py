"""The default calibration method, ``auto``: at 8-bit activations the 0.01% extreme tails are clipped
(percentile), at 16 bits the observed range is kept (minmax)."""

from __future__ import annotations

import numpy as np
import pytest

from qcc import PassContext, parse, run_pipeline
from qcc.ptq.ranges import resolved_method
from qcc.quant.scheme import scheme_for_target
from qcc.targets import get_target

# x is not an output and reaches the output through a compute op (a relu would be data movement, and
# outputs keep their whole range: tests/calibration/test_whole_range.py)
GRAPH = """graph @g(%x: f32[1,20000]) -> (%y: f32[1,20000]) {
  %y = sigmoid(%x) : f32[1,20000]
  return %y
}"""


def _input_range(target: str, method: str = "") -> tuple[float, float, str]:
    rng = np.random.default_rng(0)
    samples = []
    for _ in range(4):
        x = rng.normal(0.0, 1.0, (1, 20000)).astype(np.float32)
        x[0, 0] = 40.0  # one outlier per sample: 4 of 80,000 values, inside the 0.01% tail
        samples.append({"x": x})
    scheme = f"quant-scheme{{method={method}}}," if method else ""
    graph = run_pipeline(parse(GRAPH), f"{scheme}calibrate", PassContext(calibration=samples, target=get_target(target)))
    q = graph.inputs[0].type.quant
    assert q is not None and graph.scheme is not None
    lo = q.scale_value() * (-32767 - q.zero_point_value()) if q.bits == 16 else q.scale_value() * (-128 - q.zero_point_value())
    hi = q.scale_value() * ((32767 if q.bits == 16 else 127) - q.zero_point_value())
    return lo, hi, graph.scheme.calibration


def test_the_default_scheme_calibrates_with_auto() -> None:
    assert scheme_for_target(get_target("generic-int8")).calibration == "auto"


def test_auto_clips_the_extreme_tail_at_8_bits() -> None:
    lo, hi, method = _input_range("generic-int8")
    assert method == "auto"
    assert hi < 10.0  # the outliers at 40 are clipped; the bulk (|x| < ~4.5) is kept
    assert hi > 3.0 and lo < -3.0
    assert (lo, hi) == pytest.approx(_input_range("generic-int8", "percentile")[:2])


def test_auto_keeps_the_observed_range_at_16_bits() -> None:
    lo, hi, _ = _input_range("dsp-w4a16")
    assert hi == pytest.approx(40.0, rel=1e-3)
    assert (lo, hi) == pytest.approx(_input_range("dsp-w4a16", "minmax")[:2])


@pytest.mark.parametrize(("bits", "method"), [(4, "percentile"), (8, "percentile"), (16, "minmax")])
def test_what_auto_stands_for(bits: int, method: str) -> None:
    assert resolved_method("auto", bits) == method
    assert resolved_method("mse", bits) == "mse"
