"""spatial-svd: the factorization is exact at full rank (strides, pads and dilations included) and
its error falls as the rank grows."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcc.analysis.macs import graph_macs
from qcc.compression.spatial_svd import full_rank, svd_factors
from qcc.interp.interpreter import run
from qcc.ir.core import Graph
from qcc.ir.types import DType, TensorType
from qcc.pipeline import run_pipeline


def conv_graph(weight: np.ndarray, strides: list[int], pads: list[int], dilations: list[int], size: int) -> Graph:
    graph = Graph("g")
    x = graph.add_input("x", _type(weight.shape[1], size))
    w = graph.add_const(weight, "w")
    b = graph.add_const(np.linspace(-1, 1, weight.shape[0]).astype(np.float32), "b")
    node = graph.add_node("conv", [x, w, b], {"strides": strides, "pads": pads, "dilations": dilations}, names="y")
    graph.outputs = [node.result]
    return graph


def _type(channels: int, size: int) -> TensorType:
    return TensorType(DType.F32, (1, channels, size, size))


@settings(max_examples=25, deadline=None)
@given(
    c_in=st.integers(1, 4), c_out=st.integers(1, 4), kh=st.integers(2, 3), kw=st.integers(2, 3),
    stride=st.tuples(st.integers(1, 2), st.integers(1, 2)), dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    pads=st.tuples(*[st.integers(0, 2)] * 4), seed=st.integers(0, 10**6),
)
def test_full_rank_reproduces_the_layer(c_in, c_out, kh, kw, stride, dilation, pads, seed) -> None:
    rng = np.random.default_rng(seed)
    weight = rng.standard_normal((c_out, c_in, kh, kw)).astype(np.float32)
    graph = conv_graph(weight, list(stride), list(pads), list(dilation), 7)
    x = rng.standard_normal((1, c_in, 7, 7)).astype(np.float32)
    expected = run(graph, {"x": x})["y"]
    rank = full_rank(graph.nodes[0])
    split = run_pipeline(graph, f"spatial-svd{{layer=y rank={rank}}}")
    assert [n.op for n in split.nodes] == ["conv", "conv"]
    got = run(split, {"x": x})["y"]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * float(np.abs(expected).max()))


def test_error_falls_with_rank_and_macs_follow_the_formula() -> None:
    rng = np.random.default_rng(0)
    weight = rng.standard_normal((8, 6, 3, 3)).astype(np.float32)
    graph = conv_graph(weight, [1, 1], [1, 1, 1, 1], [1, 1], 8)
    x = rng.standard_normal((1, 6, 8, 8)).astype(np.float32)
    expected = run(graph, {"x": x})["y"]
    errors = []
    for rank in (2, 6, 12, 18):
        split = run_pipeline(conv_graph(weight, [1, 1], [1, 1, 1, 1], [1, 1], 8), f"spatial-svd{{layer=w rank={rank}}}")
        errors.append(float(np.abs(run(split, {"x": x})["y"] - expected).max()))
        # k x 1 conv: rank * C_in * 3 per position of its 8 x 8 result (the 1 x 3 conv pads the width); 1 x 3 conv: 8 * rank * 3
        assert graph_macs(split) == rank * 6 * 3 * 8 * 8 + 8 * rank * 3 * 8 * 8
    assert errors == sorted(errors, reverse=True) and errors[-1] < 1e-4


def test_factors_follow_the_documented_reshape() -> None:
    """M[(c, i), (o, j)] = W[o, c, i, j]: rank-1 weights factor into their two vectors."""
    a = np.array([[1.0, 2.0, -1.0], [0.5, 0.0, 1.0]])  # [C_in, k_h]
    b = np.array([[1.0, -2.0, 0.5], [3.0, 1.0, 0.0], [0.0, 1.0, 1.0], [2.0, 2.0, -1.0]])  # [C_out, k_w]
    weight = np.einsum("ci,oj->ocij", a, b).astype(np.float32)
    first, second = svd_factors(weight, 1)
    np.testing.assert_allclose(np.einsum("kci,okj->ocij", first[..., 0], second[:, :, 0, :]), weight, rtol=1e-5, atol=1e-6)
    scale = first.reshape(-1)[0] / a[0, 0]  # the k_h x 1 filter is a, up to scale
    np.testing.assert_allclose(first.reshape(-1), scale * a.reshape(-1), rtol=1e-5, atol=1e-6)


def test_rank_out_of_range_is_one_line() -> None:
    from qcc.errors import PipelineError

    graph = conv_graph(np.ones((2, 2, 3, 3), np.float32), [1, 1], [0, 0, 0, 0], [1, 1], 5)
    with pytest.raises(PipelineError, match=r"rank=7 for layer 'y' must be in \[1, 6\]"):
        run_pipeline(graph, "spatial-svd{layer=y rank=7}")
    with pytest.raises(PipelineError, match="no layer 'nope'"):
        run_pipeline(graph, "spatial-svd{layer=nope rank=1}")
