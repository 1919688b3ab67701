"""The integer reference executor's kernels against direct (loop) implementations of
docs/arithmetic.md, compared with np.array_equal."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from qcc.arith.fixedpoint import requantize, rounding_divide
from qcc.backends.numpy_int.executor import integer_node
from qcc.ir import DType, Graph, QuantParams, TensorType


def _node(op: str, inputs: list[np.ndarray], attrs: dict, out_shape=None, quant=None):
    g = Graph("g")
    values = []
    for i, a in enumerate(inputs):
        v = g.add_const(a, f"in{i}")
        values.append(v)
    node = g.add_node(op, values, attrs, names="out")
    if quant is not None:
        node.result.type = TensorType(node.result.type.dtype, node.result.type.shape, quant)
    return node


@settings(max_examples=40, deadline=None)
@given(
    h=st.integers(1, 6), w=st.integers(1, 6), k=st.integers(1, 3), s=st.integers(1, 2),
    pad=st.integers(0, 1), ceil=st.booleans(), include=st.booleans(), seed=st.integers(0, 2**16),
)
def test_avg_pool_matches_loops(h, w, k, s, pad, ceil, include, seed) -> None:
    assume(k <= h + 2 * pad and k <= w + 2 * pad and pad < k)
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, size=(1, 2, h, w)).astype(np.int8)
    zp = int(rng.integers(-128, 128))
    attrs = dict(kernel_shape=(k, k), strides=(s, s), pads=(pad, pad, pad, pad), dilations=(1, 1), ceil_mode=ceil, count_include_pad=include, zp=zp)
    node = _node("q.avg_pool", [x], attrs)
    got = integer_node(node, [x])[0]
    want = np.zeros(got.shape, np.int64)
    for n, c, oy, ox in itertools.product(*map(range, got.shape)):
        total = count = 0
        for ky, kx in itertools.product(range(k), range(k)):
            y, xx = oy * s - pad + ky, ox * s - pad + kx
            if 0 <= y < h and 0 <= xx < w:
                total += int(x[n, c, y, xx])
                count += 1
            elif -pad <= y < h + pad and -pad <= xx < w + pad and include:
                total += zp
                count += 1
        want[n, c, oy, ox] = rounding_divide(total, count)
    assert np.array_equal(got, want.astype(np.int8))


@settings(max_examples=30, deadline=None)
@given(cin=st.integers(1, 4), cout=st.integers(1, 4), k=st.integers(1, 3), seed=st.integers(0, 2**16), rounding=st.sampled_from(["double", "single"]))
def test_conv_matches_loops(cin, cout, k, seed, rounding) -> None:
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, size=(1, cin, 5, 5)).astype(np.int8)
    w = rng.integers(-127, 128, size=(cout, cin, k, k)).astype(np.int8)
    b = rng.integers(-5000, 5000, size=cout).astype(np.int32)
    mult = rng.integers(2**30, 2**31 - 1, size=cout).astype(np.int32)
    shift = rng.integers(-12, -6, size=cout).astype(np.int32)
    in_zp, out_zp = int(rng.integers(-128, 128)), int(rng.integers(-128, 128))
    attrs = dict(strides=(1, 1), pads=(1, 1, 1, 1), dilations=(1, 1), in_zp=in_zp, multiplier=mult, shift=shift, out_zp=out_zp, qmin=-100, qmax=120, rounding=rounding)
    node = _node("q.conv", [x, w, b], attrs)
    got = integer_node(node, [x, w, b])[0]
    padded = np.pad(x.astype(np.int64) - in_zp, ((0, 0), (0, 0), (1, 1), (1, 1)))
    acc = np.zeros(got.shape, np.int64)
    for o, oy, ox in itertools.product(range(cout), range(got.shape[2]), range(got.shape[3])):
        acc[0, o, oy, ox] = int(b[o]) + int(np.sum(padded[0, :, oy : oy + k, ox : ox + k] * w[o].astype(np.int64)))
    want = requantize(acc, mult.reshape(1, -1, 1, 1), shift.reshape(1, -1, 1, 1), out_zp, -100, 120, rounding)
    assert np.array_equal(got, want.astype(np.int8))


def test_quantize_and_dequantize_use_the_result_and_operand_parameters() -> None:
    x = np.array([-1.0, 0.0, 0.1, 0.05, 2.0], np.float32)
    q = QuantParams(0.1, 3)
    node = _node("quantize", [x], {"dtype": DType.I8}, quant=q)
    got = integer_node(node, [x])[0]
    # 0.05/0.1 is exactly 0.5 in float32 and rounds to even (0), so it lands on the zero point
    assert got.dtype == np.int8 and got.tolist() == [-7, 3, 4, 3, 23]
    g = Graph("d")
    c = g.add_const(got, "q")
    c.type = TensorType(DType.I8, c.type.shape, q)
    deq = g.add_node("dequantize", [c], {}, names="r")
    assert np.allclose(integer_node(deq, [got])[0], [-1.0, 0.0, 0.1, 0.0, 2.0])
