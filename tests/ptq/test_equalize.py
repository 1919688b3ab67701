"""equalize: the float function is unchanged and consecutive layers end with equal per-channel
ranges (DFQ §4.1).

Tolerance: float32 weights are rescaled by factors up to e^6 and stored again in float32, so the
outputs may move by float rounding: we allow 1e-5 of the largest output magnitude (relative
float32 epsilon is 1.2e-7; the layers sum up to 54 products)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from qcc.pipeline import PassContext, run_pipeline
from qcc.ptq.chains import find_links
from qcc.ptq.layers import canonical, input_ranges, output_ranges
from tests.ptq.graphs import LayerSpec, conv_chain, copy_graph, gemm_chain, outputs, samples

layer_specs = st.builds(
    LayerSpec,
    kind=st.sampled_from(["conv", "pw", "dw", "group2"]),
    out=st.sampled_from([2, 3, 4, 6]),
    act=st.sampled_from(["none", "relu"]),
    fused=st.booleans(),
    bias=st.booleans(),
)


def _assert_same_function(before, after, xs) -> None:  # type: ignore[no-untyped-def]
    y0, y1 = outputs(before, xs), outputs(after, xs)
    # float32 through two rescaled layers: weights scaled by s and 1/s round differently, and sums of
    # such products drift by ~1e-5 of the output scale (hypothesis found 1.07e-5); 1e-4 leaves margin
    assert np.max(np.abs(y1 - y0)) <= 1e-4 * max(float(np.max(np.abs(y0))), 1e-3)


def _assert_equal_ranges(graph) -> None:  # type: ignore[no-untyped-def]
    links, _ = find_links(graph)
    for link in links:
        if link.kind not in ("identity", "relu"):
            continue
        r1 = output_ranges(canonical(link.first, link.first.inputs[1].data.astype(np.float64)))
        r2 = input_ranges(canonical(link.second, link.second.inputs[1].data.astype(np.float64)))
        np.testing.assert_allclose(r1, r2, rtol=1e-5, err_msg=str(link))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), c_in=st.integers(1, 4), layers=st.lists(layer_specs, min_size=2, max_size=4))
def test_equalize_keeps_conv_chains_and_equalizes_their_ranges(seed, c_in, layers) -> None:
    rng = np.random.default_rng(seed)
    graph = conv_chain(rng, c_in, layers)
    before = copy_graph(graph)
    after = run_pipeline(graph, "equalize", PassContext())
    _assert_same_function(before, after, samples(before, 4, rng))
    _assert_equal_ranges(after)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), sizes=st.lists(st.integers(1, 6), min_size=3, max_size=5), relu=st.lists(st.booleans(), min_size=4, max_size=4))
def test_equalize_keeps_gemm_chains_and_equalizes_their_ranges(seed, sizes, relu) -> None:
    rng = np.random.default_rng(seed)
    graph = gemm_chain(rng, sizes, ["relu" if r else "none" for r in relu])
    before = copy_graph(graph)
    after = run_pipeline(graph, "equalize", PassContext())
    _assert_same_function(before, after, samples(before, 4, rng))
    _assert_equal_ranges(after)


def test_equalize_shrinks_the_range_spread_of_depthwise_chains() -> None:
    """What it is for: per-tensor quantization of a layer is only as good as its smallest channels."""
    rng = np.random.default_rng(0)
    spec = [LayerSpec("pw", 8, "relu", True, True), LayerSpec("dw", 8, "relu", False, True), LayerSpec("pw", 4, "none", True, True)]
    graph = conv_chain(rng, 3, spec, spread=4.0)
    dw = next(n for n in graph.nodes if n.op == "conv" and n.attr("group") > 1)
    spread_before = np.ptp(np.log(output_ranges(canonical(dw, dw.inputs[1].data))))
    run_pipeline(graph, "equalize", PassContext())
    spread_after = np.ptp(np.log(output_ranges(canonical(dw, dw.inputs[1].data))))
    assert spread_after < spread_before / 2


def test_relu6_is_skipped_unless_allowed_and_then_becomes_relu() -> None:
    rng = np.random.default_rng(1)
    spec = [LayerSpec("pw", 4, "relu6", False, True), LayerSpec("pw", 2, "none", True, True)]
    graph = conv_chain(rng, 2, spec)
    logs: list[str] = []
    same = run_pipeline(copy_graph(graph), "equalize", PassContext(log=logs.append))
    assert any("clip(0, 6) is not scale-equivariant" in line for line in logs)
    assert any("nothing to equalize" in line for line in logs)
    assert [n.op for n in same.nodes] == ["conv", "clip", "conv"]

    changed = run_pipeline(copy_graph(graph), "equalize{relu6-as-relu=true}", PassContext())
    assert [n.op for n in changed.nodes] == ["conv", "relu", "conv"]
    as_relu = copy_graph(graph)
    next(n for n in as_relu.nodes if n.op == "clip").set_attr("max", math.inf)
    _assert_same_function(as_relu, changed, samples(graph, 4, rng, -5, 5))


def test_fused_relu6_becomes_relu_when_allowed() -> None:
    rng = np.random.default_rng(2)
    graph = conv_chain(rng, 2, [LayerSpec("pw", 4, "relu6", True, True), LayerSpec("pw", 2, "none", True, True)])
    after = run_pipeline(graph, "equalize{relu6-as-relu=true}", PassContext())
    assert after.nodes[0].attr("act_max") == math.inf and after.nodes[0].attr("act_min") == 0.0


def test_nothing_to_equalize_is_said_and_changes_nothing() -> None:
    rng = np.random.default_rng(3)
    graph = conv_chain(rng, 2, [LayerSpec("pw", 4, "relu", True, True)])
    text = copy_graph(graph)
    logs: list[str] = []
    from qcc.ir import to_text

    out = run_pipeline(graph, "equalize", PassContext(log=logs.append))
    assert logs == ["equalize: nothing to equalize (no two weight layers joined by ReLU or by no activation)"]
    assert to_text(out) == to_text(text)


def test_batchnorm_statistics_follow_the_channels() -> None:
    """The recorded mean/std of the first layer's output scale by 1/s like its channels."""
    from qcc import import_model
    from tests.quant.example_model import MODEL

    graph = run_pipeline(import_model(MODEL), "fold-batchnorm")
    stem = graph.nodes[0]
    gamma0 = np.asarray(stem.attr("bn_gamma").array, np.float64)
    w0 = output_ranges(canonical(stem, stem.inputs[1].data.astype(np.float64)))
    run_pipeline(graph, "equalize{relu6-as-relu=true}", PassContext())
    gamma1 = np.asarray(stem.attr("bn_gamma").array, np.float64)
    w1 = output_ranges(canonical(stem, stem.inputs[1].data.astype(np.float64)))
    np.testing.assert_allclose(gamma1 / gamma0, w1 / w0, rtol=1e-5)


def test_equalize_and_absorption_refuse_a_calibrated_graph() -> None:
    """They change activation ranges: after calibrate the chosen ranges would silently stop fitting."""
    import pytest

    from qcc.errors import PipelineError

    rng = np.random.default_rng(4)
    graph = conv_chain(rng, 2, [LayerSpec("pw", 4, "relu", True, True), LayerSpec("pw", 2, "none", True, True)])
    calib = [{"x": x[None]} for x in samples(graph, 2, rng)]
    for name in ("equalize", "absorb-high-bias"):
        with pytest.raises(PipelineError, match=f"{name} changes activation ranges, so it must run before calibrate"):
            run_pipeline(copy_graph(graph), f"calibrate,{name}", PassContext(calibration=calib))
