"""Activations narrower than 8 bits (docs/arithmetic.md §3.19): int8 storage on a b-bit grid,
b in 2..7, run by the ordinary int8 kernels. Hypothesis draws the width, operands on that grid and
output stages clamped to it (the bounds the quantize pass writes); the C kernels must equal the
numpy reference byte for byte, and no result may leave [-2^(b-1), 2^(b-1) - 1].
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from qcc.arith.fixedpoint import activation_range, add_rescale
from qcc.backends.numpy_int.executor import run_integer
from qcc.ir.types import DType, QuantParams, TensorType
from tests.backends.c.harness import ROUNDINGS, Case, check_cases, per_channel, requant_params, single_node

SETTINGS = settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.reuse, Phase.generate])
WIDTHS = st.integers(2, 7)


def narrow_type(bits: int, shape: tuple[int, ...], zp: int) -> TensorType:
    return TensorType(DType.I8, shape, QuantParams(0.05, zp, None, bits))


def narrow_acts(rng: np.random.Generator, bits: int, shape: tuple[int, ...]) -> np.ndarray:
    lo, hi = activation_range(bits)
    a = rng.integers(lo, hi + 1, size=shape)
    a.reshape(-1)[:2] = lo, hi  # both ends of the grid
    return a.astype(np.int8)


@st.composite
def narrow_stage(draw: Any, bits: int) -> dict[str, Any]:
    """out_zp on the grid and clamp bounds inside it (sometimes narrowed like a fused ReLU)."""
    lo, hi = activation_range(bits)
    zp = draw(st.integers(lo, hi))
    if draw(st.booleans()):
        lo = draw(st.integers(lo, zp))
        hi = draw(st.integers(max(lo, zp), hi))
    return {"out_zp": zp, "qmin": lo, "qmax": hi, "dtype": DType.I8}


@st.composite
def narrow_case(draw: Any) -> Case:
    bits = draw(WIDTHS)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    lo, hi = activation_range(bits)
    zp = draw(st.integers(lo, hi))
    kind = draw(st.sampled_from(["conv", "depthwise", "add", "requantize", "max_pool", "avg_pool"]))
    shape = (1, draw(st.integers(1, 6)), draw(st.integers(2, 6)), draw(st.integers(2, 6)))
    x = narrow_acts(rng, bits, shape)
    x_in = ("x", (narrow_type(bits, shape, zp), x))
    out_q = QuantParams(0.07, 0, None, bits)
    if kind in ("conv", "depthwise"):
        cin = shape[1]
        groups, cout = (cin, cin) if kind == "depthwise" else (1, draw(st.integers(1, 6)))
        wbits = draw(st.sampled_from([2, 3, 4, 8]))
        wmax = (1 << (wbits - 1)) - 1
        w = rng.integers(-wmax, wmax + 1, size=(cout, cin // groups, 3, 3)).astype(np.int8)
        bound = (hi - lo) * wmax * 9 * (cin // groups)
        rounding = draw(st.sampled_from(ROUNDINGS))
        mult, shift = per_channel(draw, cout, bound, 32, rounding)
        stage = draw(narrow_stage(bits))
        out_q = QuantParams(0.07, stage["out_zp"], None, bits)
        attrs = dict(strides=[1, 1], pads=[1, 1, 1, 1], dilations=[1, 1], group=groups, in_zp=zp, multiplier=mult, shift=shift,
                     rounding=rounding, **stage)
        g, feeds = single_node("q.conv", [x_in, ("w", w)], attrs, result_quant=out_q)
    elif kind == "add":
        zb = draw(st.integers(lo, hi))
        b = narrow_acts(rng, bits, shape)
        stage = draw(narrow_stage(bits))
        out_q = QuantParams(0.07, stage["out_zp"], None, bits)
        r = add_rescale(*(draw(st.floats(1e-3, 2.0)) for _ in range(3)), bits)
        attrs = dict(a_zp=zp, b_zp=zb, left_shift=r.left_shift, a_multiplier=r.multiplier_a, a_shift=r.shift_a,
                     b_multiplier=r.multiplier_b, b_shift=r.shift_b, multiplier=r.multiplier_out, shift=r.shift_out,
                     rounding=draw(st.sampled_from(ROUNDINGS)), **stage)
        g, feeds = single_node("q.add", [x_in, ("b", (narrow_type(bits, shape, zb), b))], attrs, result_quant=out_q)
    elif kind == "requantize":
        stage = draw(narrow_stage(bits))
        out_q = QuantParams(0.07, stage["out_zp"], None, bits)
        attrs = dict(in_zp=zp, **draw(requant_params(hi - lo)), **stage)
        g, feeds = single_node("q.requantize", [x_in], attrs, result_quant=out_q)
    else:  # pools keep the operand's parameters and, being averages or maxima, its grid
        pool = dict(kernel_shape=[2, 2], strides=[1, 1], pads=[0, 0, 1, 1], dilations=[1, 1], ceil_mode=False)
        if kind == "avg_pool":
            g, feeds = single_node("q.avg_pool", [x_in], dict(pool, zp=zp, count_include_pad=False))
        else:
            g, feeds = single_node("max_pool", [x_in], pool)
    return Case(g, feeds, f"{kind} at {bits} bits")


@SETTINGS
@given(st.lists(narrow_case(), min_size=8, max_size=8))
def test_narrow_activations_equal_the_reference_and_stay_on_their_grid(cases: list[Case]) -> None:
    check_cases(cases)
    for case in cases:
        bits = case.graph.outputs[0].type.quant.bits
        lo, hi = activation_range(bits)
        try:
            out = next(iter(run_integer(case.graph, case.feeds).values()))
        except (OverflowError, ValueError):
            continue
        assert lo <= int(out.min()) and int(out.max()) <= hi, f"{case.label}: result in [{out.min()}, {out.max()}]"


def test_requantize_table_of_a_narrow_input_stays_within_what_was_proven() -> None:
    """The C requantize of an int8-stored input is a 256-entry table. For a 3-bit input only [-4, 3]
    occurs, so the quantize pass proves the double-rounding left shift safe for that range alone
    (here 2^28 x 7 fits int32; 2^28 x 255 would not): the table must not ask for more (found by the
    property test above)."""
    x = np.array([[[[-4, 3, 3], [-4, 2, 2]]]], dtype=np.int8)
    attrs = dict(in_zp=-4, multiplier=2**31 - 1, shift=28, rounding="double", out_zp=0, qmin=-4, qmax=3, dtype=DType.I8)
    g, feeds = single_node("q.requantize", [("x", (narrow_type(3, x.shape, -4), x))], attrs, result_quant=QuantParams(0.07, 0, None, 3))
    check_cases([Case(g, feeds, "requantize at 3 bits, shift 28")])
