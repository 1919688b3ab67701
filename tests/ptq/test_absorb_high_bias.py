"""absorb-high-bias: outputs are unchanged for inputs inside the batch-norm 3-sigma range
(pre-activations >= beta - 3 gamma), and activation ranges shrink by c = max(0, beta - 3 gamma)."""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from qcc.interp.interpreter import evaluate, run
from qcc.pipeline import PassContext, run_pipeline
from tests.ptq.graphs import LayerSpec, conv_chain, copy_graph, gemm_chain, outputs, samples


def _pre_activations(node, xs: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The first layer's output before its clamp, per channel over all samples and positions."""
    attrs = dict(node.attrs)
    attrs["act_min"], attrs["act_max"] = -np.inf, np.inf
    z = evaluate(node.op, [xs] + [v.data for v in node.inputs[1:]], attrs)[0]
    return np.moveaxis(z, 1, 0).reshape(z.shape[1], -1)


def _record_stats(node, z: np.ndarray, rng: np.random.Generator) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Statistics for which every observed pre-activation lies inside the 3-sigma range:
    beta - 3 gamma = c with 0 <= c <= min z (c = 0 where min z <= 0). Returns c."""
    low = z.min(axis=1)
    c = np.where(low > 0, rng.uniform(0.0, 1.0, len(low)) * low, 0.0)
    gamma = rng.uniform(0.1, 2.0, len(low))
    node.set_attr("bn_gamma", gamma.astype(np.float32))
    node.set_attr("bn_beta", (c + 3 * gamma).astype(np.float32))
    return np.maximum(0.0, (c + 3 * gamma).astype(np.float32).astype(np.float64) - 3 * gamma.astype(np.float32))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), c_in=st.integers(1, 3), mid=st.integers(1, 5), relu=st.booleans(), fused=st.booleans(), second=st.sampled_from(["pw", "group2"]))
def test_outputs_unchanged_inside_three_sigma(seed, c_in, mid, relu, fused, second) -> None:
    rng = np.random.default_rng(seed)
    mid = mid * 2 if second == "group2" else mid
    graph = conv_chain(rng, c_in, [LayerSpec("conv", mid, "relu" if relu else "none", fused, True), LayerSpec(second, 4, "none", True, True)], spread=1.0)
    first = graph.nodes[0]
    # a large positive bias on some channels: what high-bias absorption is for
    bias = first.inputs[2].data + rng.choice([0.0, 8.0], mid).astype(np.float32)
    from qcc.ir.rewrite import set_const_operand

    set_const_operand(graph, first, 2, bias)
    xs = samples(graph, 6, rng)
    c = _record_stats(first, _pre_activations(first, xs), rng)
    assume(np.any(c > 0))
    before = copy_graph(graph)
    after = run_pipeline(graph, "absorb-high-bias", PassContext())
    y0, y1 = outputs(before, xs), outputs(after, xs)
    assert np.max(np.abs(y1 - y0)) <= 1e-5 * max(float(np.max(np.abs(y0))), 1.0)
    # the first layer's bias dropped by c, and so did its recorded mean
    np.testing.assert_allclose(after.nodes[0].inputs[2].data, bias - c, rtol=1e-5, atol=1e-5)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), sizes=st.lists(st.integers(1, 5), min_size=3, max_size=3))
def test_gemm_pairs_unchanged_inside_three_sigma(seed, sizes) -> None:
    rng = np.random.default_rng(seed)
    graph = gemm_chain(rng, sizes, ["relu"], spread=1.0)
    first = graph.nodes[0]
    from qcc.ir.rewrite import set_const_operand

    set_const_operand(graph, first, 2, first.inputs[2].data + np.float32(10.0))
    xs = samples(graph, 6, rng)
    c = _record_stats(first, _pre_activations(first, xs[:, 0, :] if xs.ndim == 3 else xs), rng)
    assume(np.any(c > 0))
    before = copy_graph(graph)
    after = run_pipeline(graph, "absorb-high-bias", PassContext())
    y0, y1 = outputs(before, xs), outputs(after, xs)
    assert np.max(np.abs(y1 - y0)) <= 1e-5 * max(float(np.max(np.abs(y0))), 1.0)


def test_outside_the_range_the_relu_floor_shows() -> None:
    """Absorption is exact only inside the range: an input driving the pre-activation below c
    (here: far below) changes the output. This is the approximation the paper accepts."""
    rng = np.random.default_rng(5)
    graph = conv_chain(rng, 1, [LayerSpec("pw", 2, "relu", True, True), LayerSpec("pw", 1, "none", True, True)], spread=0.0)
    first = graph.nodes[0]
    first.set_attr("bn_gamma", np.array([0.1, 0.1], np.float32))
    first.set_attr("bn_beta", np.array([3.0, 3.0], np.float32))
    before = copy_graph(graph)
    after = run_pipeline(graph, "absorb-high-bias", PassContext())
    w = first.inputs[1].data.reshape(-1)
    x = np.full((1, 1, 4, 4), -100.0 * np.sign(w[0]), np.float32)  # drives channel 0 deep below 0
    a = next(iter(run(before, {"x": x}).values()))
    b = next(iter(run(after, {"x": x}).values()))
    assert not np.allclose(a, b)


def test_without_statistics_there_is_nothing_to_do() -> None:
    rng = np.random.default_rng(6)
    graph = conv_chain(rng, 1, [LayerSpec("pw", 2, "relu", True, True), LayerSpec("pw", 1, "none", True, True)])
    logs: list[str] = []
    run_pipeline(graph, "absorb-high-bias", PassContext(log=logs.append))
    assert logs == ["absorb-high-bias: nothing to do: no layer has batch-norm statistics (fold-batchnorm records them when it folds a batch_norm)"]
