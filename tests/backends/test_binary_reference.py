"""The integer definitions of Div, Max / Min and Pow between two activations against the real
arithmetic they stand for (docs/arithmetic.md §3.14-§3.16).

* q.div: within 1 output LSB of the exactly rounded real quotient of the quantized operands
  (saturated), for every int8 pair and for random int16 pairs, over scales from 2^-24 to 2^24;
  a real zero divisor saturates by the numerator's sign and 0 / 0 gives the output zero point.
* q.max / q.min: within 1 LSB of the exactly rounded real max / min.
* q.lut2 for pow: every entry is the exactly rounded float result, NaN gives the zero point,
  0 ** negative saturates.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from qcc.arith.fixedpoint import quantize_multiplier
from qcc.backends.numpy_int.executor import run_integer
from qcc.backends.numpy_int.kernels_binary import div_centered
from qcc.ir.core import Graph
from qcc.ir.types import DType, QuantParams, TensorType
from qcc.quant.rules_binary import binary_table, div_multiplier
from tests.backends.c.harness import act_type, single_node

RANGES = {DType.I8: (-128, 127), DType.I16: (-32767, 32767)}


def _operand_grid(dtype: DType, zp_a: int, zp_b: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Centered operand pairs: every int8 pair, or random int16 pairs with the extremes."""
    lo, hi = RANGES[dtype]
    if dtype is DType.I8:
        q = np.arange(lo, hi + 1, dtype=np.int64)
        qa, qb = np.meshgrid(q, q, indexing="ij")
    else:
        qa, qb = rng.integers(lo, hi + 1, 20000), rng.integers(lo, hi + 1, 20000)
        qa[:4], qb[:4] = [lo, hi, lo, hi], [1, 1, -1, 0]
    return qa.reshape(-1) - zp_a, qb.reshape(-1) - zp_b


def _expected(real_in_lsb: np.ndarray, zp: int, dtype: DType) -> np.ndarray:
    lo, hi = RANGES[dtype]
    return np.clip(np.rint(real_in_lsb) + zp, lo, hi)


scales = st.floats(2.0**-12, 2.0**12)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from([DType.I8, DType.I16]), scales, scales, scales, st.integers(-128, 127), st.integers(-128, 127),
       st.integers(-128, 127), st.integers(0, 2**32 - 1))
def test_div_is_within_one_lsb_of_the_rounded_real_quotient(dtype: DType, s_a: float, s_b: float, s_o: float, zp_a: int, zp_b: int,
                                                            zp_o: int, seed: int) -> None:
    if dtype is DType.I16:
        zp_a = zp_b = zp_o = 0
    a, b = _operand_grid(dtype, zp_a, zp_b, np.random.default_rng(seed))
    real = s_a / (s_b * s_o)
    m, sh = div_multiplier(real)
    lo, hi = RANGES[dtype]
    out = div_centered(a, b, m, sh, zp_o, lo, hi)
    nonzero = b != 0
    with np.errstate(divide="ignore", invalid="ignore"):
        want = _expected(s_a * a / (s_b * b) / s_o, zp_o, dtype)
    assert np.max(np.abs(out[nonzero] - want[nonzero]), initial=0) <= 1
    assert np.array_equal(out[~nonzero], np.where(a[~nonzero] > 0, hi, np.where(a[~nonzero] < 0, lo, zp_o)))


def test_div_rounds_ties_away_from_zero_and_saturates() -> None:
    m, sh = quantize_multiplier(1.0)  # out = round(a / b)
    a = np.array([3, -3, 5, -5, 7, 1000, -1000, 0, 4, -4, 0])
    b = np.array([2, 2, -2, -2, 7, 1, 1, 3, 0, 0, 0])
    assert div_centered(a, b, m, sh, 0, -128, 127).tolist() == [2, -2, -3, 3, 1, 127, -128, 0, 127, -128, 0]
    assert div_centered(np.array([0]), np.array([0]), m, sh, 200, -128, 127).tolist() == [127]  # 0 / 0: the zero point, clamped


def test_extreme_div_rescales_are_flushed_or_capped_without_changing_results() -> None:
    a, b = np.array([32767, -32767, 1, -1, 5]), np.array([1, 1, 32767, 32767, -3])
    assert div_multiplier(2.0**-18) == (0, 0)
    assert div_centered(a, b, *div_multiplier(2.0**-18), 0, -32767, 32767).tolist() == [0, 0, 0, 0, 0]
    assert div_multiplier(2.0**40) == (2**31 - 1, 31)
    assert div_centered(a, b, *div_multiplier(2.0**40), 0, -32767, 32767).tolist() == [32767, -32767, 32767, -32767, -32767]


@settings(max_examples=30, deadline=None)
@given(st.sampled_from([DType.I8, DType.I16]), st.sampled_from(["q.max", "q.min"]), st.sampled_from(["double", "single"]),
       st.floats(0.5, 8.0), st.floats(0.5, 8.0), st.floats(2.0**-10, 2.0**4), st.integers(-128, 127), st.integers(-128, 127),
       st.integers(-128, 127), st.integers(0, 2**32 - 1))
def test_max_min_are_within_one_lsb_of_the_rounded_real_result(dtype: DType, op: str, rounding: str, ra: float, rb: float, s_o: float,
                                                                zp_a: int, zp_b: int, zp_o: int, seed: int) -> None:
    if dtype is DType.I16:
        zp_a = zp_b = zp_o = 0
    s_a, s_b = ra * s_o, rb * s_o  # operand scales from half to 8 times the output's
    a, b = _operand_grid(dtype, zp_a, zp_b, np.random.default_rng(seed))
    (m_a, sh_a), (m_b, sh_b) = quantize_multiplier(s_a / s_o), quantize_multiplier(s_b / s_o)
    lo, hi = RANGES[dtype]
    attrs = dict(a_zp=zp_a, a_multiplier=m_a, a_shift=sh_a, b_zp=zp_b, b_multiplier=m_b, b_shift=sh_b, out_zp=zp_o, qmin=lo, qmax=hi,
                 rounding=rounding, dtype=dtype)
    qa, qb = (a + zp_a).astype(dtype.numpy), (b + zp_b).astype(dtype.numpy)
    g, feeds = single_node(op, [("a", (act_type(dtype, qa.shape, zp_a), qa)), ("b", (act_type(dtype, qb.shape, zp_b), qb))], attrs)
    out = run_integer(g, feeds)[g.outputs[0].name].astype(np.int64)
    pick = np.maximum if op == "q.max" else np.minimum
    want = _expected(pick(s_a * a, s_b * b) / s_o, zp_o, dtype)
    assert np.max(np.abs(out - want)) <= 1


def _pow_node(a: QuantParams, b: QuantParams) -> Any:
    g = Graph("pow")
    x, y = (g.add_input(n, TensorType(DType.F32, (1,), q)) for n, q in (("x", a), ("y", b)))
    return g.add_node("pow", [x, y], {}, names="p")


def test_pow_table_is_the_exactly_rounded_float_power() -> None:
    a, b, out = QuantParams(0.05, -20, None, 8), QuantParams(0.02, 10, None, 8), QuantParams(0.1, -100, None, 8)
    table = binary_table(_pow_node(a, b), a, b, out).astype(np.int64)
    q = np.arange(-128, 128, dtype=np.float64)
    x, y = (q[:, None] + 20) * 0.05, (q[None, :] - 10) * 0.02
    with np.errstate(all="ignore"):
        real = np.power(x, y)
    finite = np.isfinite(real)
    assert np.array_equal(table[finite], np.clip(np.rint(real[finite] / 0.1) - 100, -128, 127))
    assert np.all(table[np.isnan(real)] == -100)  # negative base, fractional exponent: a real 0
    assert np.all(table[np.isposinf(real)] == 127)  # 0 ** negative
    assert np.isnan(real).any() and np.isposinf(real).any()
