"""The int32-accumulator kernels (q.conv_acc, q.gemm_acc; docs/arithmetic.md §3.20) against the
numpy reference, byte for byte: hypothesis draws conv shapes (1-3 spatial axes, strides, pads,
dilations, groups, int4/int8 weights) and gemm shapes (transposed operands), zero points, biases
near the int32 proof's limit and per-channel accumulator bounds, some of them active."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from qcc.arith.fixedpoint import INT32_MAX, INT32_MIN
from qcc.ir.ops import Tensor
from qcc.ir.types import DType, QuantParams, TensorType
from tests.backends.c.harness import Case, act_type, check_cases, random_acts, single_node

SETTINGS = settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.reuse, Phase.generate])


def _bounds(draw: Any, rng: np.random.Generator, channels: int, reach: int) -> tuple[Tensor, Tensor]:
    """Per-channel accumulator bounds: none (the int32 limits), or a fused clamp inside the reach."""
    lo = np.full(channels, INT32_MIN, np.int64)
    hi = np.full(channels, INT32_MAX, np.int64)
    if draw(st.booleans()):
        lo = rng.integers(-reach, 1, channels)
    if draw(st.booleans()):
        hi = np.maximum(lo, rng.integers(0, reach + 1, channels))
    return Tensor(lo.astype(np.int32)), Tensor(hi.astype(np.int32))


def _accumulator_case(op: str, inputs: list[tuple[str, Any]], attrs: dict[str, Any], label: str) -> Case:
    """A single-node program whose integer output is the accumulator (the scale does not enter the kernel)."""
    graph, feeds = single_node(op, inputs, attrs)
    result = graph.outputs[0]
    result.type = TensorType(DType.I32, result.type.shape, QuantParams(0.001, 0, None, 32))
    return Case(graph, feeds, label)


def _bias(draw: Any, rng: np.random.Generator, channels: int, bound: int) -> list[tuple[str, Any]]:
    limit = min(INT32_MAX - bound, 1 << 28)
    return [("b", rng.integers(-limit, limit + 1, channels).astype(np.int32))] if draw(st.booleans()) and limit > 0 else []


@st.composite
def conv_acc_case(draw: Any) -> Case:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    nsp = draw(st.sampled_from([1, 2, 2, 3]))
    groups = draw(st.sampled_from([1, 1, 2]))
    cin, cout = groups * draw(st.integers(1, 4)), groups * draw(st.integers(1, 4))
    kernel = [draw(st.integers(1, 2 if nsp == 3 else 3)) for _ in range(nsp)]
    stride = [draw(st.integers(1, 2)) for _ in range(nsp)]
    dil = [draw(st.integers(1, 2)) for _ in range(nsp)]
    pads = [draw(st.integers(0, k - 1)) for k in kernel] + [draw(st.integers(0, k - 1)) for k in kernel]
    span = [(k - 1) * d + 1 for k, d in zip(kernel, dil)]
    size = [draw(st.integers(max(1, s - pads[i] - pads[nsp + i]), s + 5)) for i, s in enumerate(span)]
    wbits = draw(st.sampled_from([4, 8]))
    wmax = (1 << (wbits - 1)) - 1
    w = rng.integers(-wmax, wmax + 1, size=(cout, cin // groups, *kernel)).astype(np.int8)
    zp = draw(st.integers(-128, 127))
    reach = max(zp + 128, 127 - zp) * wmax * (cin // groups) * math.prod(kernel)
    x = random_acts(rng, DType.I8, (draw(st.integers(1, 2)), cin, *size))
    acc_min, acc_max = _bounds(draw, rng, cout, reach)
    attrs = dict(strides=stride, pads=pads, dilations=dil, group=groups, in_zp=zp, acc_min=acc_min, acc_max=acc_max)
    inputs = [("x", (act_type(DType.I8, x.shape, zp), x)), ("w", w), *_bias(draw, rng, cout, reach)]
    return _accumulator_case("q.conv_acc", inputs, attrs, f"q.conv_acc w{wbits} x{list(x.shape)} k{kernel} s{stride} d{dil} p{pads} g{groups}")


@st.composite
def gemm_acc_case(draw: Any) -> Case:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    m, n, k = draw(st.integers(1, 4)), draw(st.integers(1, 12)), draw(st.integers(1, 40))
    trans_a, trans_b = draw(st.booleans()), draw(st.booleans())
    wbits = draw(st.sampled_from([4, 8]))
    wmax = (1 << (wbits - 1)) - 1
    w = rng.integers(-wmax, wmax + 1, size=(n, k) if trans_b else (k, n)).astype(np.int8)
    zp = draw(st.integers(-128, 127))
    reach = max(zp + 128, 127 - zp) * wmax * k
    a = random_acts(rng, DType.I8, (k, m) if trans_a else (m, k))
    acc_min, acc_max = _bounds(draw, rng, n, reach)
    attrs = dict(trans_a=trans_a, trans_b=trans_b, in_zp=zp, acc_min=acc_min, acc_max=acc_max)
    inputs = [("x", (act_type(DType.I8, a.shape, zp), a)), ("w", w), *_bias(draw, rng, n, reach)]
    return _accumulator_case("q.gemm_acc", inputs, attrs, f"q.gemm_acc w{wbits} m{m} n{n} k{k} ta{trans_a} tb{trans_b}")


@SETTINGS
@given(st.lists(conv_acc_case(), min_size=8, max_size=8), st.lists(gemm_acc_case(), min_size=8, max_size=8))
def test_accumulator_kernels_equal_the_reference(convs: list[Case], gemms: list[Case]) -> None:
    kernels = check_cases(convs + gemms, min_valid=1.0)
    assert set(kernels) == {"qcc_conv_acc_s8", "qcc_fc_acc_s8"}
