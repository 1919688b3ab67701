"""Every C kernel against the numpy integer reference, byte for byte, on random programs.

Hypothesis draws whole single-node programs: shapes, strides, pads, dilations, groups (dense,
grouped, depthwise with multipliers), zero points, per-channel multipliers including the edges
(2^30, 2^31 - 1, around 0x7FFF0000, 0) and shifts > 0 up to what the double rule allows, int4
(stored in int8), int8 and int16 data, both rounding modes, 32- and 64-bit accumulators, and
whether the generic kernels are forced instead of the fast ones. Each example builds its batch of
programs into one module (tests/backends/c/harness.py) and compares with ``np.array_equal``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from qcc.arith.fixedpoint import add_rescale, bit_length
from qcc.arith.lut import build_lut_int16
from qcc.ir.ops import Tensor
from qcc.ir.types import DType
from qcc.ops.quantized import RESIZE_WEIGHT_BITS
from tests.backends.c.harness import (
    ROUNDINGS,
    Case,
    act_type,
    check_cases,
    output_stage,
    per_channel,
    random_acts,
    requant_params,
    single_node,
)

# No shrinking: an example is a batch of programs built into one module, so shrinking would
# rebuild it hundreds of times; the failure message names the failing program instead.
SETTINGS = settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.reuse, Phase.generate])
DTYPES = st.sampled_from([DType.I8, DType.I8, DType.I16])


def _rng(draw: Any) -> np.random.Generator:
    return np.random.default_rng(draw(st.integers(0, 2**32 - 1)))


def _max_centered(dtype: DType, zp: int) -> int:
    return max(zp + 128, 127 - zp) if dtype is DType.I8 else 32767


def _in_zp(draw: Any, dtype: DType) -> int:
    return draw(st.integers(-128, 127)) if dtype is DType.I8 else 0


# ---- convolutions --------------------------------------------------------------------------------


@st.composite
def conv_case(draw: Any, transposed: bool = False) -> Case:
    rng = _rng(draw)
    nsp = draw(st.sampled_from([1, 2, 2, 2, 3]))
    dtype = draw(DTYPES)
    kind = draw(st.sampled_from(["dense", "dense", "depthwise", "grouped", "pointwise"]))
    if kind == "pointwise" and not transposed:  # 1x1, stride 1, no padding: the transposing panel path
        groups, cin, cout = 1, draw(st.sampled_from([8, 16, 24, 9])), draw(st.integers(1, 9))
    elif kind == "depthwise":
        cin = draw(st.integers(1, 6))
        groups, cout = cin, cin * draw(st.integers(1, 2))
    elif kind == "grouped":
        groups = draw(st.integers(2, 3))
        cin, cout = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    else:
        groups, cin, cout = 1, draw(st.one_of(st.integers(1, 7), st.sampled_from([8, 16, 19]))), draw(st.integers(1, 9))
    kmax = 2 if nsp == 3 else 3
    pointwise = kind == "pointwise" and not transposed
    kernel = [1 if pointwise else draw(st.integers(1, kmax)) for _ in range(nsp)]
    stride = [1 if pointwise else draw(st.integers(1, 2)) for _ in range(nsp)]
    dil = [1 if pointwise else draw(st.integers(1, 2)) for _ in range(nsp)]
    begin = [draw(st.integers(0, k - 1)) for k in kernel]
    end = [draw(st.integers(0, k - 1)) for k in kernel]
    if transposed:
        size = [draw(st.integers(1, 5)) for _ in range(nsp)]
        out_pad = [draw(st.integers(0, max(0, min(s, d) - 1))) for s, d in zip(stride, dil)]
        out = [s * (i - 1) + (k - 1) * d + 1 + op - b - e for s, i, k, d, op, b, e in zip(stride, size, kernel, dil, out_pad, begin, end)]
        if min(out) < 1:
            begin = end = [0] * nsp
    else:
        span = [(k - 1) * d + 1 for k, d in zip(kernel, dil)]
        size = [draw(st.integers(max(1, sp - b - e), sp - b - e + (4 if nsp == 3 else 7))) for sp, b, e in zip(span, begin, end)]
    wbits = draw(st.sampled_from([4, 8]))
    wmax = (1 << (wbits - 1)) - 1
    wshape = (cin, cout // groups, *kernel) if transposed else (cout, cin // groups, *kernel)
    w = rng.integers(-wmax, wmax + 1, size=wshape).astype(np.int8)
    zp = _in_zp(draw, dtype)
    x_max = _max_centered(dtype, zp)
    reduction = (cin // groups) * math.prod(kernel)
    acc_bits = 64 if dtype is DType.I16 or draw(st.integers(0, 5)) == 0 else 32
    limit = (1 << 31) - 1 - x_max * wmax * reduction if acc_bits == 32 else 1 << 30
    bias = None
    if draw(st.booleans()) and limit > 0:
        bias = rng.integers(-min(limit, 1 << 24), min(limit, 1 << 24) + 1, size=cout).astype(np.int32)
    bound = x_max * wmax * reduction + (int(np.abs(bias).max()) if bias is not None else 0)
    rounding = draw(st.sampled_from(ROUNDINGS))
    channels = cout if draw(st.booleans()) else 1
    mult, shift = per_channel(draw, channels, bound, acc_bits, rounding)
    x = random_acts(rng, dtype, (draw(st.integers(1, 2)), cin, *size))
    attrs = dict(strides=stride, pads=begin + end, dilations=dil, group=groups, in_zp=zp, multiplier=mult, shift=shift,
                 rounding=rounding, acc_bits=acc_bits, **draw(output_stage(dtype)))
    if transposed:
        attrs["output_padding"] = out_pad if min(out) >= 1 else [0] * nsp
    inputs: list[tuple[str, Any]] = [("x", (act_type(dtype, x.shape, zp), x)), ("w", w)]
    if bias is not None:
        inputs.append(("b", bias))
    op = "q.conv_transpose" if transposed else "q.conv"
    g, feeds = single_node(op, inputs, attrs)
    label = f"{op} {kind} {dtype.value} w{wbits} x{list(x.shape)} k{kernel} s{stride} d{dil} p{begin + end} g{groups} acc{acc_bits} {rounding}"
    return Case(g, feeds, label, force_generic=draw(st.integers(0, 3)) == 0)


@SETTINGS
@given(st.lists(conv_case(), min_size=10, max_size=10))
def test_conv_kernels(cases: list[Case]) -> None:
    check_cases(cases)


def test_conv_variants_are_all_covered() -> None:
    """The fast and generic convolution kernels each run at least once in a fixed batch."""
    rng = np.random.default_rng(0)
    cases = []
    for dtype, groups, force, acc_bits in [(DType.I8, 1, False, 32), (DType.I8, 4, False, 32), (DType.I8, 1, True, 32),
                                           (DType.I16, 1, False, 64), (DType.I16, 4, True, 64), (DType.I8, 1, False, 64)]:
        x = random_acts(rng, dtype, (1, 4, 9, 7))
        w = rng.integers(-127, 128, size=(8 if groups == 1 else 4, 4 // groups, 3, 3)).astype(np.int8)
        cout = w.shape[0]
        attrs = dict(strides=[1, 2], pads=[1, 0, 1, 1], dilations=[1, 1], group=groups, in_zp=3 if dtype is DType.I8 else 0,
                     multiplier=Tensor(rng.integers(1 << 30, 1 << 31, cout).astype(np.int32)),
                     shift=Tensor(np.full(cout, -9, np.int32)), rounding="double", acc_bits=acc_bits, out_zp=0,
                     qmin=-128 if dtype is DType.I8 else -32767, qmax=127 if dtype is DType.I8 else 32767, dtype=dtype)
        g, feeds = single_node("q.conv", [("x", (act_type(dtype, x.shape, attrs["in_zp"]), x)), ("w", w)], attrs)
        cases.append(Case(g, feeds, f"{dtype.value} g{groups}", force_generic=force))
    kernels = set(check_cases(cases, min_valid=1.0))
    assert {"qcc_conv_gemm_s8", "qcc_conv_depthwise_s8", "qcc_conv_s8", "qcc_conv_gemm_s16", "qcc_conv_s16"} <= kernels, kernels


@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_fast_convolution_paths_on_network_shapes(rounding: str) -> None:
    """Shapes like a real network's, so that every vectorized path runs: the transposing panel of
    1x1 convolutions (8-channel x 16-pixel blocks), the im2col panel with borders and stride 2,
    the banded stride-1 depthwise kernel and the strided one, int16 panels, the output stage over
    long rows."""
    rng = np.random.default_rng(7)
    cases = []
    shapes = [  # (cin, cout, groups, kernel, stride, pad, size, dtype)
        (24, 40, 1, 1, 1, 0, 14, DType.I8), (16, 20, 1, 3, 1, 1, 13, DType.I8), (32, 8, 1, 3, 2, 1, 15, DType.I8),
        (24, 24, 24, 3, 1, 1, 12, DType.I8), (16, 32, 16, 3, 2, 1, 17, DType.I8), (8, 8, 8, 5, 1, 2, 70, DType.I8),
        (16, 12, 1, 1, 1, 0, 9, DType.I16), (8, 16, 1, 3, 1, 1, 11, DType.I16), (3, 16, 1, 7, 2, 3, 30, DType.I8),
    ]
    for cin, cout, groups, k, stride, pad, size, dtype in shapes:
        x = random_acts(rng, dtype, (1, cin, size, size))
        w = rng.integers(-127, 128, size=(cout, cin // groups, k, k)).astype(np.int8)
        zp = int(rng.integers(-128, 128)) if dtype is DType.I8 else 0
        attrs = dict(strides=[stride, stride], pads=[pad] * 4, dilations=[1, 1], group=groups, in_zp=zp,
                     multiplier=Tensor(rng.integers(1 << 30, 1 << 31, cout).astype(np.int32)),
                     shift=Tensor(rng.integers(-14, -6, cout).astype(np.int32)), rounding=rounding,
                     acc_bits=32 if dtype is DType.I8 else 64, out_zp=int(rng.integers(-20, 20)) if dtype is DType.I8 else 0,
                     qmin=-128 if dtype is DType.I8 else -32767, qmax=127 if dtype is DType.I8 else 32767, dtype=dtype)
        bias = rng.integers(-5000, 5000, cout).astype(np.int32)
        g, feeds = single_node("q.conv", [("x", (act_type(dtype, x.shape, zp), x)), ("w", w), ("b", bias)], attrs)
        cases.append(Case(g, feeds, f"{dtype.value} {cin}->{cout} g{groups} k{k} s{stride} {size}x{size}"))
    kernels = set(check_cases(cases, min_valid=1.0))
    assert {"qcc_conv_gemm_s8", "qcc_conv_depthwise_s8", "qcc_conv_gemm_s16"} <= kernels


@SETTINGS
@given(st.lists(conv_case(transposed=True), min_size=8, max_size=8))
def test_conv_transpose_kernels(cases: list[Case]) -> None:
    check_cases(cases)


# ---- fully connected, matmul ---------------------------------------------------------------------


@st.composite
def gemm_case(draw: Any) -> Case:
    rng = _rng(draw)
    dtype = draw(DTYPES)
    m, k, n = draw(st.integers(1, 3)), draw(st.integers(1, 40)), draw(st.integers(1, 11))
    trans_a, trans_b = draw(st.booleans()), draw(st.booleans())
    wbits = draw(st.sampled_from([4, 8]))
    wmax = (1 << (wbits - 1)) - 1
    w = rng.integers(-wmax, wmax + 1, size=(n, k) if trans_b else (k, n)).astype(np.int8)
    zp = _in_zp(draw, dtype)
    acc_bits = 64 if dtype is DType.I16 or draw(st.integers(0, 4)) == 0 else 32
    bias = rng.integers(-(1 << 20), 1 << 20, size=n).astype(np.int32) if draw(st.booleans()) else None
    bound = _max_centered(dtype, zp) * wmax * k + (1 << 20)
    rounding = draw(st.sampled_from(ROUNDINGS))
    mult, shift = per_channel(draw, n if draw(st.booleans()) else 1, bound, acc_bits, rounding)
    a = random_acts(rng, dtype, (k, m) if trans_a else (m, k))
    attrs = dict(trans_a=trans_a, trans_b=trans_b, in_zp=zp, multiplier=mult, shift=shift, rounding=rounding, acc_bits=acc_bits,
                 **draw(output_stage(dtype)))
    inputs: list[tuple[str, Any]] = [("a", (act_type(dtype, a.shape, zp), a)), ("w", w)]
    if bias is not None:
        inputs.append(("b", bias))
    g, feeds = single_node("q.gemm", inputs, attrs)
    return Case(g, feeds, f"q.gemm {dtype.value} m{m} k{k} n{n} ta{trans_a} tb{trans_b} acc{acc_bits}", force_generic=draw(st.booleans()))


@SETTINGS
@given(st.lists(gemm_case(), min_size=10, max_size=10))
def test_fully_connected_kernels(cases: list[Case]) -> None:
    check_cases(cases)


@st.composite
def matmul_case(draw: Any) -> Case:
    rng = _rng(draw)
    dtype = draw(DTYPES)
    m, k, n = draw(st.integers(1, 4)), draw(st.integers(1, 12)), draw(st.integers(1, 5))
    batch = draw(st.sampled_from([(), (2,), (2, 3)]))
    a_batch = tuple(d if draw(st.booleans()) else 1 for d in batch)
    b_batch = tuple(d if draw(st.booleans()) else 1 for d in batch)[draw(st.integers(0, len(batch))):]
    a_shape = (k,) if not batch and draw(st.integers(0, 3)) == 0 else (*a_batch, m, k)
    b_shape = (k,) if not batch and draw(st.integers(0, 3)) == 0 else (*b_batch, k, n)
    azp, bzp = _in_zp(draw, dtype), _in_zp(draw, dtype)
    acc_bits = 64 if dtype is DType.I16 or draw(st.booleans()) else 32
    bound = _max_centered(dtype, azp) * _max_centered(dtype, bzp) * k
    rounding = draw(st.sampled_from(ROUNDINGS))
    cols = 1 if len(b_shape) == 1 else n
    mult, shift = per_channel(draw, cols if draw(st.booleans()) else 1, bound, acc_bits, rounding)
    a, b = random_acts(rng, dtype, a_shape), random_acts(rng, dtype, b_shape)
    attrs = dict(a_zp=azp, b_zp=bzp, multiplier=mult, shift=shift, rounding=rounding, acc_bits=acc_bits, **draw(output_stage(dtype)))
    g, feeds = single_node("q.matmul", [("a", (act_type(dtype, a.shape, azp), a)), ("b", (act_type(dtype, b.shape, bzp), b))], attrs)
    return Case(g, feeds, f"q.matmul {dtype.value} {a_shape} @ {b_shape} acc{acc_bits}")


@SETTINGS
@given(st.lists(matmul_case(), min_size=8, max_size=8))
def test_matmul_kernels(cases: list[Case]) -> None:
    check_cases(cases)


# ---- element-wise --------------------------------------------------------------------------------


def _broadcast_pair(draw: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
    rank = draw(st.integers(1, 4))
    out = [draw(st.integers(1, 5)) for _ in range(rank)]
    a = tuple(d if draw(st.integers(0, 3)) else 1 for d in out)
    b = tuple(d if draw(st.integers(0, 3)) else 1 for d in out)[draw(st.integers(0, rank - 1)):]
    return a, b


@st.composite
def add_case(draw: Any) -> Case:
    rng = _rng(draw)
    dtype = draw(DTYPES)
    bits = 8 if dtype is DType.I8 else 16
    a_shape, b_shape = _broadcast_pair(draw)
    scales = [draw(st.floats(1e-3, 2.0)) for _ in range(3)]
    r = add_rescale(*scales, bits)
    azp, bzp = _in_zp(draw, dtype), _in_zp(draw, dtype)
    a, b = random_acts(rng, dtype, a_shape), random_acts(rng, dtype, b_shape)
    attrs = dict(a_zp=azp, b_zp=bzp, left_shift=r.left_shift, a_multiplier=r.multiplier_a, a_shift=r.shift_a, b_multiplier=r.multiplier_b,
                 b_shift=r.shift_b, multiplier=r.multiplier_out, shift=r.shift_out, subtract=draw(st.booleans()),
                 rounding=draw(st.sampled_from(ROUNDINGS)), **draw(output_stage(dtype)))
    g, feeds = single_node("q.add", [("a", (act_type(dtype, a.shape, azp), a)), ("b", (act_type(dtype, b.shape, bzp), b))], attrs)
    return Case(g, feeds, f"q.add {dtype.value} {a_shape} {b_shape} sub{attrs['subtract']} {attrs['rounding']}")


@st.composite
def mul_case(draw: Any) -> Case:
    rng = _rng(draw)
    dtype = draw(DTYPES)
    a_shape, b_shape = _broadcast_pair(draw)
    azp, bzp = _in_zp(draw, dtype), _in_zp(draw, dtype)
    bound = _max_centered(dtype, azp) * _max_centered(dtype, bzp)
    a, b = random_acts(rng, dtype, a_shape), random_acts(rng, dtype, b_shape)
    attrs = dict(a_zp=azp, b_zp=bzp, **draw(requant_params(bound)), **draw(output_stage(dtype)))
    g, feeds = single_node("q.mul", [("a", (act_type(dtype, a.shape, azp), a)), ("b", (act_type(dtype, b.shape, bzp), b))], attrs)
    return Case(g, feeds, f"q.mul {dtype.value} {a_shape} {b_shape} {attrs['rounding']}")


@st.composite
def requantize_case(draw: Any) -> Case:
    rng = _rng(draw)
    src, dst = draw(DTYPES), draw(DTYPES)
    shape = tuple(draw(st.lists(st.integers(1, 6), min_size=1, max_size=3)))
    zp = _in_zp(draw, src)
    x = random_acts(rng, src, shape)
    attrs = dict(in_zp=zp, **draw(requant_params(_max_centered(src, zp))), **draw(output_stage(dst)))
    g, feeds = single_node("q.requantize", [("x", (act_type(src, shape, zp), x))], attrs, result_quant=act_type(dst, shape, attrs["out_zp"]).quant)
    return Case(g, feeds, f"q.requantize {src.value}->{dst.value} {attrs['rounding']} shift {attrs['shift']}")


@st.composite
def lut_case(draw: Any) -> Case:
    rng = _rng(draw)
    dtype = draw(DTYPES)
    shape = tuple(draw(st.lists(st.integers(1, 7), min_size=1, max_size=3)))
    x = random_acts(rng, dtype, shape)
    if dtype is DType.I8:
        table = rng.integers(-128, 128, 256).astype(np.int8)
    else:
        table = np.cumsum(rng.integers(-300, 300, 513)).clip(-32767, 32767).astype(np.int16)
    g, feeds = single_node("q.lut", [("x", (act_type(dtype, shape), x))], {"table": Tensor(table), "dtype": dtype})
    return Case(g, feeds, f"q.lut {dtype.value}")


@st.composite
def clip_case(draw: Any) -> Case:
    rng = _rng(draw)
    dtype = draw(DTYPES)
    shape = tuple(draw(st.lists(st.integers(1, 6), min_size=1, max_size=3)))
    x = random_acts(rng, dtype, shape)
    bound = st.one_of(st.floats(-40000, 40000), st.sampled_from([float("inf"), float("-inf"), 0.0, 6.0]))
    attrs = {"min": draw(bound), "max": draw(bound)}
    g, feeds = single_node("clip", [("x", (act_type(dtype, shape), x))], attrs)
    return Case(g, feeds, f"clip {dtype.value} {attrs}")


@st.composite
def prelu_case(draw: Any) -> Case:
    rng = _rng(draw)
    c = draw(st.integers(1, 5))
    shape = (draw(st.integers(1, 2)), c, draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    slope_shape = draw(st.sampled_from([(c, 1, 1), (1,), (c, 1, shape[3])]))
    zp = _in_zp(draw, DType.I8)
    rounding = draw(st.sampled_from(ROUNDINGS))
    p = draw(requant_params(255, 32, rounding))
    neg = [draw(requant_params(255, 32, rounding)) for _ in range(math.prod(slope_shape))]
    x = random_acts(rng, DType.I8, shape)
    attrs = dict(in_zp=zp, multiplier=p["multiplier"], shift=p["shift"], rounding=rounding,
                 neg_multiplier=Tensor(np.array([q["multiplier"] for q in neg], np.int32).reshape(slope_shape)),
                 neg_shift=Tensor(np.array([q["shift"] for q in neg], np.int32).reshape(slope_shape)),
                 neg_sign=Tensor(rng.integers(-1, 2, slope_shape).astype(np.int8)), **draw(output_stage(DType.I8)))
    g, feeds = single_node("q.prelu", [("x", (act_type(DType.I8, shape, zp), x))], attrs)
    return Case(g, feeds, f"q.prelu {shape} slope {slope_shape}")


@SETTINGS
@given(st.lists(st.one_of(add_case(), mul_case(), requantize_case(), lut_case(), clip_case(), prelu_case()), min_size=16, max_size=16))
def test_elementwise_kernels(cases: list[Case]) -> None:
    check_cases(cases)


# ---- pooling and reductions ----------------------------------------------------------------------


@st.composite
def pool_case(draw: Any) -> Case:
    rng = _rng(draw)
    dtype = draw(DTYPES)
    nsp = draw(st.sampled_from([1, 2, 2, 3]))
    kernel = [draw(st.integers(1, 3)) for _ in range(nsp)]
    stride = [draw(st.integers(1, 3)) for _ in range(nsp)]
    dil = [draw(st.integers(1, 2)) for _ in range(nsp)]
    begin = [draw(st.integers(0, k - 1)) for k in kernel]
    end = [draw(st.integers(0, k - 1)) for k in kernel]
    size = [draw(st.integers(max(1, (k - 1) * d + 1 - b - e), 7)) for k, d, b, e in zip(kernel, dil, begin, end)]
    x = random_acts(rng, dtype, (draw(st.integers(1, 2)), draw(st.integers(1, 3)), *size))
    attrs = dict(kernel_shape=kernel, strides=stride, pads=begin + end, dilations=dil, ceil_mode=draw(st.booleans()))
    if draw(st.booleans()):
        op = "max_pool"
    else:
        op = "q.avg_pool"
        attrs.update(count_include_pad=draw(st.booleans()), zp=_in_zp(draw, dtype))
    g, feeds = single_node(op, [("x", (act_type(dtype, x.shape, attrs.get("zp", 0)), x))], attrs)
    return Case(g, feeds, f"{op} {dtype.value} {attrs}")


@st.composite
def reduce_case(draw: Any) -> Case:
    rng = _rng(draw)
    dtype = draw(DTYPES)
    rank = draw(st.integers(1, 4))
    shape = tuple(draw(st.integers(1, 5)) for _ in range(rank))
    x = random_acts(rng, dtype, shape)
    kind = draw(st.sampled_from(["mean", "max", "global"])) if rank >= 3 else draw(st.sampled_from(["mean", "max"]))
    axes = sorted(draw(st.sets(st.integers(0, rank - 1), min_size=1, max_size=rank)))
    keepdims = draw(st.booleans())
    if kind == "global":
        g, feeds = single_node("global_max_pool", [("x", (act_type(dtype, shape), x))], {})
    elif kind == "max":
        g, feeds = single_node("reduce_max", [("x", (act_type(dtype, shape), x))], {"axes": axes, "keepdims": keepdims})
    else:
        zp = _in_zp(draw, dtype)
        attrs = dict(axes=axes, keepdims=keepdims, in_zp=zp, **draw(requant_params(_max_centered(dtype, zp))), **draw(output_stage(dtype)))
        g, feeds = single_node("q.mean", [("x", (act_type(dtype, shape, zp), x))], attrs)
    return Case(g, feeds, f"{kind} {dtype.value} {shape} axes {axes}")


@SETTINGS
@given(st.lists(st.one_of(pool_case(), reduce_case()), min_size=14, max_size=14))
def test_pool_and_reduce_kernels(cases: list[Case]) -> None:
    check_cases(cases)


# ---- softmax, LRN, layer norm, linear resize -----------------------------------------------------


@st.composite
def special_case(draw: Any) -> Case:
    rng = _rng(draw)
    kind = draw(st.sampled_from(["softmax", "lrn", "layer_norm", "resize"]))
    rank = draw(st.integers(2, 4))
    shape = tuple(draw(st.integers(1, 6)) for _ in range(rank))
    zp = _in_zp(draw, DType.I8)
    x = random_acts(rng, DType.I8, shape)
    xin = ("x", (act_type(DType.I8, shape, zp), x))
    if kind == "softmax":
        from qcc.quant.rules_special import softmax_exp_table

        table = softmax_exp_table(draw(st.floats(1e-3, 1.0)))
        g, feeds = single_node("q.softmax", [xin], {"axis": draw(st.integers(0, rank - 1)), "table": Tensor(table)})
    elif kind == "lrn":
        size = draw(st.integers(1, 6))
        smax = size * _max_centered(DType.I8, zp) ** 2
        r = max(0, int(bit_length(smax)) - 16)
        alpha, beta = draw(st.floats(1e-5, 1e-2)), draw(st.floats(0.3, 1.0))
        f = lambda s: (1.0 + alpha / size * 0.01 * s) ** (-beta)  # noqa: E731
        table = build_lut_int16(f, 2.0**r, f(0) / 32767, in_zp=-32768, out_qmin=0, out_qmax=32767)
        p = draw(requant_params(255 * 32767, 32))
        attrs = dict(size=size, in_zp=zp, square_shift=r, table=Tensor(table), **p, **draw(output_stage(DType.I8)))
        g, feeds = single_node("q.lrn", [xin], attrs)
    elif kind == "layer_norm":
        axis = draw(st.integers(0, rank - 1))
        norm = shape[axis:]
        rounding = draw(st.sampled_from(ROUNDINGS))
        ps = [draw(requant_params(1 << 30, 32, rounding)) for _ in range(math.prod(norm))]
        attrs = dict(axis=axis, in_zp=zp, eps=draw(st.integers(0, 1 << 40)),
                     multiplier=Tensor(np.array([p["multiplier"] for p in ps], np.int32).reshape(norm)),
                     shift=Tensor(np.array([min(p["shift"], 0) for p in ps], np.int32).reshape(norm)),
                     gamma_sign=Tensor(rng.integers(-1, 2, norm).astype(np.int8)),
                     beta=Tensor(rng.integers(-300, 300, norm).astype(np.int32)), rounding=rounding, **draw(output_stage(DType.I8)))
        g, feeds = single_node("q.layer_norm", [xin], attrs)
    else:
        axes = sorted(draw(st.sets(st.integers(0, rank - 1), min_size=0, max_size=2)))
        sizes = [draw(st.integers(1, 7)) if a in axes else d for a, d in enumerate(shape)]
        rows = sum(sizes[a] for a in axes)
        index = np.concatenate([np.stack([rng.integers(0, shape[a], sizes[a]), rng.integers(0, shape[a], sizes[a])], axis=1) for a in axes]) if axes else np.zeros((0, 2))
        w1 = rng.integers(0, (1 << RESIZE_WEIGHT_BITS) + 1, rows)
        weight = np.stack([(1 << RESIZE_WEIGHT_BITS) - w1, w1], axis=1)
        attrs = dict(sizes=sizes, axes=axes, index=Tensor(index.astype(np.int32).reshape(rows, 2)), weight=Tensor(weight.astype(np.int16).reshape(rows, 2)))
        g, feeds = single_node("q.resize", [xin], attrs)
    return Case(g, feeds, f"{kind} {shape}")


@SETTINGS
@given(st.lists(special_case(), min_size=12, max_size=12))
def test_softmax_lrn_layer_norm_resize_kernels(cases: list[Case]) -> None:
    check_cases(cases)


# ---- data movement -------------------------------------------------------------------------------


@st.composite
def movement_case(draw: Any) -> Case:
    rng = _rng(draw)
    dtype = draw(DTYPES)
    rank = draw(st.integers(1, 4))
    shape = tuple(draw(st.integers(1, 5)) for _ in range(rank))
    x = random_acts(rng, dtype, shape)
    xin = ("x", (act_type(dtype, shape), x))
    kind = draw(st.sampled_from(["transpose", "slice", "gather", "expand", "tile", "pad", "resize", "concat", "split", "reshape"]))
    if kind == "transpose":
        g, feeds = single_node("transpose", [xin], {"perm": draw(st.permutations(range(rank)))})
    elif kind == "slice":
        axes = sorted(draw(st.sets(st.integers(0, rank - 1), min_size=1, max_size=rank)))
        starts, ends, steps = [], [], []
        for a in axes:
            step = draw(st.sampled_from([1, 1, 2, -1, -2]))
            if step > 0:
                s0 = draw(st.integers(0, shape[a]))
                starts.append(s0)
                ends.append(draw(st.integers(s0, shape[a])))
            else:
                s0 = draw(st.integers(0, shape[a] - 1))
                starts.append(s0)
                ends.append(draw(st.integers(-1, s0)))
            steps.append(step)
        g, feeds = single_node("slice", [xin], {"starts": starts, "ends": ends, "axes": axes, "steps": steps})
    elif kind == "gather":
        axis = draw(st.integers(0, rank - 1))
        ishape = draw(st.sampled_from([(), (3,), (2, 2)]))
        idx = rng.integers(-shape[axis], shape[axis], ishape).astype(np.int64)
        g, feeds = single_node("gather", [xin, ("i", idx)], {"axis": axis})
    elif kind == "expand":
        out = tuple(draw(st.integers(2, 3)) if d == 1 else d for d in shape)
        out = tuple(draw(st.lists(st.integers(1, 3), max_size=2))) + out
        g, feeds = single_node("expand", [xin], {"shape": out})
    elif kind == "tile":
        g, feeds = single_node("tile", [xin], {"repeats": [draw(st.integers(1, 3)) for _ in range(rank)]})
    elif kind == "pad":
        mode = draw(st.sampled_from(["constant", "reflect", "edge", "wrap"]))
        pads = []
        for end in range(2):
            for d in shape:
                lo = -(d - 1) if mode != "reflect" else 0
                hi = d - 1 if mode == "reflect" else 3
                pads.append(draw(st.integers(max(lo, -1), max(0, hi))))
        for a, d in enumerate(shape):  # keep every axis non-empty
            while d + pads[a] + pads[a + rank] < 1:
                pads[a] += 1
        value = float(draw(st.integers(-128, 127)))
        g, feeds = single_node("pad", [xin], {"pads": pads, "mode": mode, "value": value})
    elif kind == "resize":
        sizes = [draw(st.integers(1, 8)) for _ in shape]
        mode = draw(st.sampled_from(["half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel"]))
        nearest = draw(st.sampled_from(["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]))
        g, feeds = single_node("resize", [xin], {"sizes": sizes, "mode": "nearest", "coordinate_transformation_mode": mode, "nearest_mode": nearest})
    elif kind == "concat":
        axis = draw(st.integers(0, rank - 1))
        others = []
        for i in range(draw(st.integers(1, 2))):
            s = list(shape)
            s[axis] = draw(st.integers(1, 4))
            others.append((f"x{i + 1}", (act_type(dtype, s), random_acts(rng, dtype, s))))
        g, feeds = single_node("concat", [xin, *others], {"axis": axis})
    elif kind == "split":
        axis = draw(st.integers(0, rank - 1))
        cut = draw(st.integers(0, shape[axis]))
        g, feeds = single_node("split", [xin], {"axis": axis, "sizes": [cut, shape[axis] - cut]}, results=2)
    else:
        g, feeds = single_node("reshape", [xin], {"shape": [math.prod(shape)]})
    return Case(g, feeds, f"{kind} {dtype.value} {shape}")


@SETTINGS
@given(st.lists(movement_case(), min_size=16, max_size=16))
def test_data_movement_kernels(cases: list[Case]) -> None:
    check_cases(cases, min_valid=1.0)
