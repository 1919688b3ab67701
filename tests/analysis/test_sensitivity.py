"""Per-layer sensitivity on the example model: the cumulative SQNR ends at the fake-quant network's
output SQNR, wider grids are better, and a layer's weights alone cost less than the whole network."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from qcc.analysis.sensitivity import OnGrid, SensitivityRunner, layer_sensitivity, scheme_grid
from qcc.calibration.source import CalibrationSet
from qcc.ir.parser import parse
from qcc.model_io import load_graph
from qcc.pipeline import PassContext, PassManager, parse_pipeline
from qcc.analysis.error import ErrorStats
from qcc.interp.interpreter import run
from qcc.quant.fakequant import FakeQuant
from qcc.quant.lowering import Settings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def calibrated():
    passes = parse_pipeline("fold-constants,canonicalize,matmul-to-gemm,fold-batchnorm,fuse-activation,fuse-elementwise,dce,calibrate{samples=32}")
    graph = PassManager(passes).run(load_graph(EXAMPLES / "digits_mbv2.onnx"), PassContext(calibration=str(EXAMPLES / "calib.npz")))
    samples = [dict(f) for f in CalibrationSet(graph, str(EXAMPLES / "test.npz"), 8)]
    return graph, samples


def _fake_quant_sqnr(graph, settings: Settings, samples) -> float:  # type: ignore[no-untyped-def]
    stats, fq = ErrorStats(), FakeQuant(graph, settings)
    for feeds in samples:
        got = fq.run(feeds)
        for name, ref in run(graph, feeds).items():
            stats.add(np.asarray(ref), np.asarray(got[name]))
    return stats.sqnr_db


def test_cumulative_sqnr_ends_at_the_fake_quant_network(calibrated) -> None:
    graph, samples = calibrated
    settings = Settings.from_scheme(graph.scheme, graph)
    rows = layer_sensitivity(SensitivityRunner(graph, samples), settings)
    assert [r.node for r in rows[1:]] == [n.name for n in graph.nodes]
    assert rows[-1].cumulative == pytest.approx(_fake_quant_sqnr(graph, settings, samples), abs=0.01)
    for row in rows:
        if row.weights is not None:
            assert row.weights[4] < row.weights[8] < row.weights[16]
            assert row.weights[8] > rows[-1].cumulative
        if row.activations is not None:
            assert row.activations[8] < row.activations[16]


def test_nothing_on_the_grid_is_the_float_network(calibrated) -> None:
    graph, samples = calibrated
    assert SensitivityRunner(graph, samples).sqnr_db(OnGrid()) == math.inf


def test_batched_and_one_at_a_time_agree(calibrated) -> None:
    graph, samples = calibrated
    conv = next(n for n in graph.nodes if n.op == "conv")
    on_grid = OnGrid(weights={conv.name: (4, True)}, activations={conv.results[0].name: 8})
    batched = SensitivityRunner(graph, samples).sqnr_db(on_grid)
    single = SensitivityRunner(graph, samples, batch_bytes=1).sqnr_db(on_grid)
    assert batched == pytest.approx(single, abs=1e-3)


def test_the_scheme_grid_is_the_last_cumulative_row(calibrated) -> None:
    graph, samples = calibrated
    settings = Settings.from_scheme(graph.scheme, graph)
    runner = SensitivityRunner(graph, samples)
    (stats,) = runner.output_errors(scheme_grid(graph, settings)).values()
    assert stats.sqnr_db == layer_sensitivity(runner, settings)[-1].cumulative


def test_outputs_of_different_magnitudes_are_reported_one_by_one() -> None:
    """A box-like output 100x the score-like one: together, the boxes' SQNR dominates."""
    graph = parse(
        "graph @g(%x: f32[1,4]) -> (%boxes: f32[1,4], %scores: f32[1,4]) {\n"
        "  %big = const f32[4,4] dense<[100.0, 3.0, -7.0, 20.0, 1.0, 90.0, 5.0, -3.0, 30.0, 8.0, 70.0, 1.0, -5.0, 2.0, 9.0, 80.0]>\n"
        "  %small = const f32[4,4] dense<[0.3, 0.1, -0.2, 0.05, 0.01, 0.4, 0.07, 0.2, 0.13, 0.2, 0.33, 0.1, 0.05, 0.25, 0.15, 0.6]>\n"
        "  %boxes = gemm(%x, %big) {trans_b=true} : f32[1,4]\n"
        "  %scores = gemm(%x, %small) {trans_b=true} : f32[1,4]\n"
        "  return %boxes, %scores\n}\n"
    )
    rng = np.random.default_rng(0)
    samples = [{"x": rng.standard_normal((1, 4)).astype(np.float32)} for _ in range(8)]
    graph = PassManager(parse_pipeline("calibrate")).run(graph, PassContext(calibration=samples))
    runner = SensitivityRunner(graph, samples)
    on_grid = scheme_grid(graph, Settings.from_scheme(graph.scheme, graph))
    each = {name: s.sqnr_db for name, s in runner.output_errors(on_grid).items()}
    assert set(each) == {"boxes", "scores"}
    assert runner.sqnr_db(on_grid) == pytest.approx(each["boxes"], abs=0.1)
