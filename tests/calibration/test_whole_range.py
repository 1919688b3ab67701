"""Graph outputs keep their whole observed range under every calibration method: the values that are
outputs, or reach one through data movement or softmax, are calibrated min-max even where the
method clips tails (percentile, mse, the 8-bit default)."""

from __future__ import annotations

import numpy as np
import pytest

from qcc import PassContext, parse, run_pipeline
from qcc.calibration.activations import whole_range_values
from qcc.ir.core import Graph

# %h is clipped (a conv-free stand-in for the network's inside); %t and %s reach the output %y
# through a transpose and a softmax, %c through a concat; %side ends in a sigmoid, not an output.
GRAPH = """graph @g(%x: f32[1,4,5000]) -> (%y: f32[1,10000,4], %z: f32[1,4,5000]) {
  %h = sigmoid(%x) : f32[1,4,5000]
  %t = mul(%x, %x) : f32[1,4,5000]
  %c = concat(%t, %x) {axis = 2} : f32[1,4,10000]
  %s = softmax(%c) {axis = 2} : f32[1,4,10000]
  %y = transpose(%s) {perm = [0, 2, 1]} : f32[1,10000,4]
  %z = tanh(%h) : f32[1,4,5000]
  return %y, %z
}"""


def _names(graph: Graph, ids: set[int]) -> set[str]:
    return {v.name for v in graph.values() if id(v) in ids}


def test_outputs_and_what_reaches_them_through_movement_or_softmax_keep_their_range() -> None:
    graph = parse(GRAPH)
    # %x reaches %y through concat/softmax/transpose; %h only through tanh (compute), so it is free to clip
    assert _names(graph, whole_range_values(graph)) == {"x", "t", "c", "s", "y", "z"}


def _samples() -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    samples = []
    for _ in range(4):
        x = rng.normal(0.0, 1.0, (1, 4, 5000)).astype(np.float32)
        x[0, 0, 0] = 30.0  # one outlier per sample, inside percentile's clipped tail
        samples.append({"x": x})
    return samples


def _top(graph: Graph, name: str) -> float:
    value = next(v for v in graph.values() if v.name == name)
    q = value.type.quant
    assert q is not None
    return q.scale_value() * (127 - q.zero_point_value())


@pytest.mark.parametrize("method", ["auto", "percentile", "mse"])
def test_clipping_methods_leave_output_ranges_whole(method: str) -> None:
    ctx = PassContext(calibration=_samples())
    graph = run_pipeline(parse(GRAPH), f"quant-scheme{{method={method}}},calibrate", ctx)
    assert _top(graph, "t") == pytest.approx(900.0, rel=0.01)  # the outlier squared, kept
    assert _top(graph, "x") == pytest.approx(30.0, rel=0.01)


def test_inside_the_network_the_method_still_clips() -> None:
    rng = np.random.default_rng(1)
    samples = [{"x": rng.normal(0.0, 1.0, (1, 4, 5000)).astype(np.float32)} for _ in range(4)]
    for s in samples:
        s["x"][0, 0, 0] = 30.0
    # a graph whose input reaches the output only through compute: percentile clips the input's outlier
    inner = """graph @g(%x: f32[1,4,5000]) -> (%z: f32[1,4,5000]) {
  %h = sigmoid(%x) : f32[1,4,5000]
  %z = tanh(%h) : f32[1,4,5000]
  return %z
}"""
    graph = run_pipeline(parse(inner), "quant-scheme{method=percentile},calibrate", PassContext(calibration=samples))
    assert _top(graph, "x") < 10.0
