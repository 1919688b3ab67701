"""calibrate runs samples in batches: the ranges are those of one sample at a time (the
observers see the samples in order), and a graph that cannot be batched is calibrated one sample at
a time, with the reason in the log."""

from __future__ import annotations

import numpy as np
import pytest

from qcc import PassContext, import_model, parse, run_pipeline
from qcc.arith.params import activation_params
from qcc.ir.core import Graph
from qcc.targets import get_target
from tests.quant.example_model import CALIB, MODEL


def _calibrated(method: str, memory_mb: int, log: list[str]) -> Graph:
    calib = [{"input": x[None]} for x in np.load(CALIB)["input"][:40]]
    ctx = PassContext(calibration=calib, target=get_target("generic-int8"), log=log.append)
    pipeline = f"fold-batchnorm,fuse-activation,quant-scheme{{method={method}}},calibrate{{memory-mb={memory_mb}}}"
    return run_pipeline(import_model(str(MODEL)), pipeline, ctx)


@pytest.mark.parametrize("method", ["minmax", "percentile", "entropy"])
def test_batched_ranges_are_the_per_sample_ranges(method: str) -> None:
    one_log: list[str] = []
    batched_log: list[str] = []
    one = _calibrated(method, 0, one_log)
    batched = _calibrated(method, 256, batched_log)
    assert any("one at a time" in line for line in one_log)
    assert any("up to 64 per batch" in line for line in batched_log)
    pairs = [(a, b) for a, b in zip(one.nodes, batched.nodes)]
    assert pairs
    for a, b in pairs:
        qa, qb = a.results[0].type.quant, b.results[0].type.quant
        assert qa is not None and qb is not None, a.name
        assert qa.zero_point == qb.zero_point, a.name
        assert qa.scale_value() == pytest.approx(qb.scale_value(), rel=1e-5), a.name


def test_a_graph_that_cannot_be_batched_is_calibrated_one_sample_at_a_time() -> None:
    graph = parse(
        "graph @g(%x: f32[1,4]) -> (%y: f32[2,4]) {\n"
        "  %r = relu(%x) : f32[1,4]\n"
        "  %y = concat(%r, %x) {axis = 0} : f32[2,4]\n"
        "  return %y\n}\n"
    )
    rng = np.random.default_rng(0)
    calib = [{"x": rng.normal(size=(1, 4)).astype(np.float32)} for _ in range(6)]
    log: list[str] = []
    ctx = PassContext(calibration=calib, target=get_target("generic-int8"), log=log.append)
    run_pipeline(graph, "quant-scheme{method=minmax},calibrate", ctx)
    assert "calibrate: one sample at a time: node 'y' (concat) joins along the batch axis" in log[0]
    data = np.concatenate([c["x"] for c in calib])
    bits = graph.outputs[0].type.quant.bits  # type: ignore[union-attr]
    assert graph.outputs[0].type.quant == activation_params(float(data.min()), float(data.max()), bits)
