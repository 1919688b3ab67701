"""The integer reference computes sums of integer products in float32 only where that is exact.

Every partial sum of a conv or gemm accumulator is bounded by max |x - zp| times the largest
per-output sum of |w|; at most 2^24 every such integer is a float32, beyond it float64 is used.
The cases sit right at the bound: one more and an odd accumulator above 2^24 would round in
float32, so the accumulator would come out wrong.
"""

from __future__ import annotations

import numpy as np

from qcc.arith.fixedpoint import INT32_MAX, INT32_MIN
from qcc.backends.numpy_int.executor import run_integer
from qcc.backends.numpy_int.kernels import FLOAT32_EXACT, _product_dtype
from qcc.ir.ops import Tensor
from qcc.ir.types import DType, QuantParams, TensorType
from tests.backends.c.harness import act_type, single_node


def _accumulator(op: str, x: np.ndarray, zp: int, w: np.ndarray, attrs: dict) -> np.ndarray:
    channels = w.shape[0] if op == "q.conv_acc" else w.shape[1]
    bounds = dict(acc_min=Tensor(np.full(channels, INT32_MIN, np.int32)), acc_max=Tensor(np.full(channels, INT32_MAX, np.int32)))
    graph, feeds = single_node(op, [("x", (act_type(DType.I8, x.shape, zp), x)), ("w", w)], {**attrs, "in_zp": zp, **bounds})
    result = graph.outputs[0]
    result.type = TensorType(DType.I32, result.type.shape, QuantParams(0.001, 0, None, 32))
    return run_integer(graph, feeds)[result.name]


def test_the_product_type_is_float32_up_to_two_to_the_24() -> None:
    assert _product_dtype(255, np.array([FLOAT32_EXACT // 255])) == np.float32
    assert _product_dtype(255, np.array([FLOAT32_EXACT // 255 + 1])) == np.float64
    assert _product_dtype(0, np.array([])) == np.float32


def test_gemm_accumulators_above_two_to_the_24_are_exact() -> None:
    k = 1040  # 255 * 127 * 1040 = 33,679,200 > 2^24
    a = np.full((2, k), 127, np.int8)
    a[0, 0] = 126  # odd accumulators: not float32 numbers
    a[1, :5] = -128
    w = np.full((k, 3), 127, np.int8)
    w[:, 2] = -1
    got = _accumulator("q.gemm_acc", a, -128, w, dict(trans_a=False, trans_b=False))
    expected = (a.astype(np.int64) + 128) @ w.astype(np.int64)
    assert got.dtype == np.int32 and np.array_equal(got, expected)
    assert expected[0, 0] > FLOAT32_EXACT and expected[0, 0] % 2 == 1


def test_conv_accumulators_on_both_sides_of_the_bound_are_exact() -> None:
    rng = np.random.default_rng(0)
    for cin in (32, 1040):  # 3x3 taps: 255 * 127 * 288 < 2^24 (float32), 255 * 127 * 9360 > 2^24 (float64)
        x = rng.integers(-128, 128, (1, cin, 5, 5)).astype(np.int8)
        x[0, :, 1:4, 1:4] = 127
        w = np.full((2, cin, 3, 3), 127, np.int8)
        w[1] = rng.integers(-127, 128, (cin, 3, 3))
        got = _accumulator("q.conv_acc", x, -128, w, dict(strides=[1, 1], pads=[1, 1, 1, 1], dilations=[1, 1], group=1))
        centered = np.pad(x.astype(np.int64) + 128, ((0, 0), (0, 0), (1, 1), (1, 1)))
        windows = np.lib.stride_tricks.sliding_window_view(centered, (3, 3), axis=(2, 3))  # [1, C, 5, 5, 3, 3]
        expected = np.einsum("ncyxij,ocij->noyx", windows, w.astype(np.int64))
        assert np.array_equal(got, expected)
