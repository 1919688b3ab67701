"""The C kernels of q.div, q.max / q.min and q.lut2 against the numpy integer reference, byte for
byte (docs/arithmetic.md §3.14-§3.16).

Hypothesis draws broadcasting shape pairs (including [1,C,H,W] with [1,1,H,W] and [1,C,1,1]),
int8 and int16 data, zero points, both rounding modes, the multiplier edges and the extreme shifts
each rule allows (div: [-16, 31] and the flushed (0, 0); max/min: what the double rule's left
shift allows), and divisors that are often exactly the zero point (a real 0).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from qcc.ir.ops import Tensor
from qcc.ir.types import DType
from qcc.ops.quantized_binary import DIV_SHIFT_RANGE
from tests.backends.c.harness import Case, act_type, check_cases, multipliers, output_stage, random_acts, requant_params, single_node
from tests.backends.c.test_kernels import DTYPES, SETTINGS, _broadcast_pair, _in_zp, _max_centered, _rng

NETWORK_PAIRS = [((1, 3, 4, 5), (1, 1, 4, 5)), ((1, 3, 4, 5), (1, 3, 1, 1)), ((1, 1, 4, 5), (1, 3, 4, 5)), ((2, 3), (3,))]


def _shapes(draw: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
    return draw(st.sampled_from(NETWORK_PAIRS)) if draw(st.booleans()) else _broadcast_pair(draw)


def _operands(draw: Any, dtype: DType) -> tuple[list[tuple[str, Any]], str]:
    """Two activation operands; b holds its zero point (a real 0) at about a third of its places."""
    rng = _rng(draw)
    a_shape, b_shape = _shapes(draw)
    azp, bzp = _in_zp(draw, dtype), _in_zp(draw, dtype)
    a, b = random_acts(rng, dtype, a_shape), random_acts(rng, dtype, b_shape)
    b[rng.random(b.shape) < 0.3] = bzp
    a.reshape(-1)[rng.random(a.size) < 0.1] = azp
    inputs = [("a", (act_type(dtype, a.shape, azp), a)), ("b", (act_type(dtype, b.shape, bzp), b))]
    return inputs, f"{dtype.value} {a_shape} {b_shape}"


@st.composite
def div_case(draw: Any) -> Case:
    dtype = draw(DTYPES)
    inputs, label = _operands(draw, dtype)
    shift = draw(st.one_of(st.integers(*DIV_SHIFT_RANGE), st.sampled_from(DIV_SHIFT_RANGE)))
    multiplier = draw(multipliers())
    stage = draw(output_stage(dtype))
    attrs = dict(a_zp=inputs[0][1][0].quant.zero_point, b_zp=inputs[1][1][0].quant.zero_point, multiplier=multiplier,
                 shift=0 if multiplier == 0 else shift, **stage)
    g, feeds = single_node("q.div", inputs, attrs)
    return Case(g, feeds, f"q.div {label} m={multiplier} shift={attrs['shift']}")


@st.composite
def max_min_case(draw: Any) -> Case:
    dtype = draw(DTYPES)
    inputs, label = _operands(draw, dtype)
    azp, bzp = inputs[0][1][0].quant.zero_point, inputs[1][1][0].quant.zero_point
    rounding = draw(st.sampled_from(["double", "single"]))
    pa = draw(requant_params(_max_centered(dtype, azp), rounding=rounding))
    pb = draw(requant_params(_max_centered(dtype, bzp), rounding=rounding))
    op = draw(st.sampled_from(["q.max", "q.min"]))
    stage = draw(output_stage(dtype))
    attrs = dict(rounding=rounding, a_zp=azp, a_multiplier=pa["multiplier"], a_shift=pa["shift"], b_zp=bzp, b_multiplier=pb["multiplier"], b_shift=pb["shift"], **stage)
    g, feeds = single_node(op, inputs, attrs)
    return Case(g, feeds, f"{op} {label} {rounding} shifts {pa['shift']}, {pb['shift']}")


@st.composite
def lut2_case(draw: Any) -> Case:
    inputs, label = _operands(draw, DType.I8)
    table = _rng(draw).integers(-128, 128, (256, 256)).astype(np.int8)
    g, feeds = single_node("q.lut2", inputs, {"table": Tensor(table), "dtype": DType.I8})
    return Case(g, feeds, f"q.lut2 {label}")


@SETTINGS
@given(st.lists(st.one_of(div_case(), max_min_case(), lut2_case()), min_size=16, max_size=16))
def test_binary_kernels(cases: list[Case]) -> None:
    check_cases(cases)


def test_every_binary_kernel_variant_runs() -> None:
    """One fixed case per kernel, so no variant depends on what hypothesis happens to draw."""
    rng = np.random.default_rng(3)
    cases = []
    for dtype in (DType.I8, DType.I16):
        a, b = random_acts(rng, dtype, (1, 3, 4, 5)), random_acts(rng, dtype, (1, 1, 4, 5))
        b[0, 0, 0, :3] = 0
        inputs = [("a", (act_type(dtype, a.shape), a)), ("b", (act_type(dtype, b.shape), b))]
        qmin, qmax = (-128, 127) if dtype is DType.I8 else (-32767, 32767)
        stage = dict(out_zp=0, qmin=qmin, qmax=qmax, dtype=dtype)
        div = single_node("q.div", inputs, dict(a_zp=0, b_zp=0, multiplier=1 << 30, shift=5, **stage))
        cases.append(Case(*div, f"q.div {dtype.value}"))
        for op in ("q.max", "q.min"):
            mm = single_node(op, inputs, dict(a_zp=0, a_multiplier=1 << 30, a_shift=1, b_zp=0, b_multiplier=(1 << 31) - 1, b_shift=-1, rounding="double", **stage))
            cases.append(Case(*mm, f"{op} {dtype.value}"))
    a, b = random_acts(rng, DType.I8, (2, 3)), random_acts(rng, DType.I8, (3,))
    lut2 = single_node("q.lut2", [("a", (act_type(DType.I8, a.shape), a)), ("b", (act_type(DType.I8, b.shape), b))],
                       {"table": Tensor(rng.integers(-128, 128, (256, 256)).astype(np.int8)), "dtype": DType.I8})
    cases.append(Case(*lut2, "q.lut2"))
    kernels = check_cases(cases, min_valid=1.0)
    assert set(kernels) == {"qcc_div_s8", "qcc_div_s16", "qcc_max_min_s8", "qcc_max_min_s16", "qcc_lut2_s8"}
