"""correct-bias: after empirical correction a layer's expected output on the calibration data is
the same with quantized weights as with float weights (on the same quantized inputs); the analytic
expectations are the clipped-normal means; bad input gives a clear error."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcc.targets import get_target
from qcc.errors import PipelineError
from qcc.interp.interpreter import evaluate
from qcc.pipeline import PassContext, run_pipeline
from qcc.ptq.expectation import expected_value
from qcc.ptq.statistics import clipped_normal_mean
from qcc.quant.fakequant import FakeQuant
from qcc.quant.lowering import Settings
from tests.ptq.graphs import LayerSpec, conv_chain, copy_graph, gemm_chain, samples
from tests.ptq.per_layer_reference import quantized_input


def _mean_output(node, xs: list[np.ndarray], weight: np.ndarray, bias: np.ndarray | None) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Mean over samples and positions of the layer's output before its clamp, per channel."""
    attrs = dict(node.attrs)
    attrs["act_min"], attrs["act_max"] = -math.inf, math.inf
    extra = [np.asarray(bias, np.float64)] if bias is not None else []
    y = np.concatenate([evaluate(node.op, [x.astype(np.float64), weight.astype(np.float64)] + extra, attrs)[0] for x in xs])
    return y.mean(axis=tuple(i for i in range(y.ndim) if i != 1))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), per_channel=st.booleans(), kind=st.sampled_from(["conv", "dw", "pw"]), gemm=st.booleans())
def test_empirical_correction_removes_the_mean_output_shift(seed, per_channel, kind, gemm) -> None:
    """E[W~ x~ + b'] == E[W x~ + b] per channel, x~ = the layer's input with everything upstream
    fake-quantized (upstream corrections included), over the calibration samples."""
    rng = np.random.default_rng(seed)
    if gemm:
        graph = gemm_chain(rng, [4, 5, 3], ["relu"])
    else:
        graph = conv_chain(rng, 3, [LayerSpec("conv", 4, "relu", True, True), LayerSpec(kind, 3, "none", True, kind != "dw")])
    calib = [{graph.inputs[0].name: x[None]} for x in samples(graph, 8, rng, 0.0, 1.0)]
    target = get_target("dsp-w4a16")
    option = "" if per_channel else " per-channel=false"
    before = copy_graph(graph)
    graph = run_pipeline(graph, f"quant-scheme{{weights=4 acts=8{option}}},calibrate,correct-bias{{guard=false}}", PassContext(calibration=calib, target=target))
    fq = FakeQuant(graph, Settings(4, 8, per_channel, target))
    for node, original in zip(graph.nodes, before.nodes):
        xs = [quantized_input(graph, fq, feeds, node) for feeds in calib]
        old_bias = original.inputs[2].data if len(original.inputs) > 2 else None
        quantized = _mean_output(node, xs, fq.weights[id(node)], node.inputs[2].data)
        reference = _mean_output(node, xs, original.inputs[1].data, old_bias)
        tolerance = 1e-5 * max(float(np.max(np.abs(reference))), 1.0)
        assert np.max(np.abs(quantized - reference)) <= tolerance, (node.name, quantized - reference)


def test_empirical_correction_changes_only_biases() -> None:
    rng = np.random.default_rng(3)
    graph = conv_chain(rng, 2, [LayerSpec("pw", 4, "relu", True, False), LayerSpec("pw", 2, "none", True, True)])
    calib = [{"x": x[None]} for x in samples(graph, 4, rng)]
    before = copy_graph(graph)
    after = run_pipeline(graph, "calibrate,correct-bias", PassContext(calibration=calib))
    for a, b in zip(before.nodes, after.nodes):
        np.testing.assert_array_equal(a.inputs[1].data, b.inputs[1].data)
    assert len(after.nodes[0].inputs) == 3  # a bias was added where there was none


@settings(max_examples=200, deadline=None)
@given(
    mean=st.floats(-5, 5),
    std=st.one_of(st.just(0.0), st.floats(0.01, 3.0)),
    lo=st.one_of(st.just(-math.inf), st.floats(-4, 4)),
    width=st.one_of(st.just(math.inf), st.floats(0.0, 8.0)),
)
def test_clipped_normal_mean_matches_numerical_integration(mean, std, lo, width) -> None:
    hi = lo + width if math.isfinite(lo) else width - 4.0
    got = float(clipped_normal_mean(np.array([mean]), np.array([std]), lo, hi)[0])
    if std == 0.0:
        assert got == min(max(mean, lo), hi)
        return
    x = np.linspace(mean - 12 * std, mean + 12 * std, 200001)
    pdf = np.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))
    want = float(np.trapezoid(np.clip(x, lo, hi) * pdf, x))
    assert got == pytest.approx(want, abs=1e-6 * max(1.0, abs(want)))


def test_expectations_pass_through_adds_and_pooling() -> None:
    from qcc import import_model
    from tests.quant.example_model import MODEL

    graph = run_pipeline(import_model(MODEL), "fold-batchnorm,fuse-activation")
    fc = graph.nodes[-1]
    assert fc.op == "gemm"
    # logits' input = reshape(global_avg_pool(add(add(block2 output, block3), block4)))
    adds = [n for n in graph.nodes if n.op == "add"]
    parts = [expected_value(v) for v in adds[0].inputs] + [expected_value(adds[1].inputs[1])]
    np.testing.assert_allclose(expected_value(fc.inputs[0]), parts[0] + parts[1] + parts[2])
    assert expected_value(graph.nodes[0].inputs[0]) is None  # the model input: unknown


def test_analytic_without_statistics_is_a_clear_error() -> None:
    rng = np.random.default_rng(4)
    graph = conv_chain(rng, 2, [LayerSpec("pw", 4, "relu", True, True), LayerSpec("pw", 2, "none", True, True)])
    with pytest.raises(PipelineError, match=r"correct-bias\{mode=analytic\} needs the batch-norm statistics .* use correct-bias\{mode=empirical\}"):
        run_pipeline(graph, "correct-bias{mode=analytic}", PassContext())


def test_empirical_without_calibration_is_a_clear_error() -> None:
    rng = np.random.default_rng(4)
    graph = conv_chain(rng, 2, [LayerSpec("pw", 4, "relu", True, True)])
    with pytest.raises(PipelineError, match="run calibrate first"):
        run_pipeline(graph, "correct-bias", PassContext(calibration=[{"x": np.zeros((1, 2, 4, 4), np.float32)}]))
