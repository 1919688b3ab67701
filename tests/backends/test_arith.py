"""The integer arithmetic contract (docs/arithmetic.md) as executable specs.

Edge cases pin each rounding direction; hypothesis properties compare the vectorized helpers with
exact rational arithmetic (``fractions.Fraction``) and with literal pure-Python transcriptions of
gemmlowp's and TFLite's scalar code, written here independently of the implementation.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcc.arith.fixedpoint import (
    INT32_MAX,
    INT32_MIN,
    accumulator_bound,
    accumulator_fits_int32,
    accumulator_fits_int64_rule,
    activation_range,
    add_left_shift,
    add_rescale,
    bit_length,
    dequantize,
    integer_sqrt,
    left_shift_fits,
    multiply_by_quantized_multiplier,
    multiply_by_quantized_multiplier_int64,
    quantize_multiplier,
    quantize_multipliers,
    quantize_real,
    requantize,
    rounding_divide,
    rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
    weight_range,
)
from qcc.errors import InputError, IRError

PROPS = settings(max_examples=200, deadline=None)
int32s = st.integers(INT32_MIN, INT32_MAX)
multipliers = st.one_of(st.integers(1 << 30, INT32_MAX), st.integers(0, INT32_MAX), st.sampled_from([0, 1 << 30, INT32_MAX]))


# --------------------------------------------------------------------------- independent references (Python ints)


def c_trunc_div(n: int, d: int) -> int:
    """C99 ``/`` on integers: truncation toward zero."""
    q = abs(n) // abs(d)
    return q if (n >= 0) == (d > 0) else -q


def gemmlowp_srdhm(a: int, b: int) -> int:
    """gemmlowp SaturatingRoundingDoublingHighMul<int32_t>, transcribed literally."""
    overflow = a == b == INT32_MIN
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    high = c_trunc_div(ab + nudge, 1 << 31)
    return INT32_MAX if overflow else high


def gemmlowp_rdbpot(x: int, exponent: int) -> int:
    """gemmlowp RoundingDivideByPOT, transcribed literally (Python ``>>``/``&`` are two's complement)."""
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def tflite_double(acc: int, m: int, shift: int) -> int:
    left, right = max(shift, 0), max(-shift, 0)
    return gemmlowp_rdbpot(gemmlowp_srdhm(acc * (1 << left), m), right)


def tflite_int64(acc: int, m: int, shift: int) -> int:
    reduced = (m + (1 << 15)) >> 16 if m < 0x7FFF0000 else 0x7FFF
    total = 15 - shift
    return (acc * reduced + (1 << (total - 1))) >> total


def round_half_up(q: Fraction) -> int:
    return math.floor(q + Fraction(1, 2))


def round_half_away(q: Fraction) -> int:
    r = math.floor(abs(q) + Fraction(1, 2))
    return r if q >= 0 else -r


def exact(acc: int, m: int, shift: int) -> Fraction:
    return Fraction(acc * m) * Fraction(2) ** (shift - 31)


# --------------------------------------------------------------------------- quantize_multiplier


class TestQuantizeMultiplier:
    def test_rounding_up_to_two_pow_31_halves_and_bumps_shift(self) -> None:
        # m = 1 - 2^-33, m * 2^31 = 2^31 - 1/4 rounds to 2^31.
        assert quantize_multiplier(1 - 2.0**-33) == (1 << 30, 1)

    def test_halving_happens_before_the_flush_to_zero_check(self) -> None:
        # frexp exponent -32 would flush, but the carry brings it back to -31.
        assert quantize_multiplier((1 - 2.0**-33) * 2.0**-32) == (1 << 30, -31)

    def test_reals_at_least_one_get_positive_shifts(self) -> None:
        assert quantize_multiplier(1.0) == (1 << 30, 1)
        assert quantize_multiplier(3.0) == (3 << 29, 2)
        assert quantize_multiplier(1000.0) == (round(1000 / 1024 * 2**31), 10)

    def test_tiny_reals_flush_to_zero(self) -> None:
        assert quantize_multiplier(2.0**-32) == (1 << 30, -31)
        assert quantize_multiplier(2.0**-33) == (0, 0)
        assert quantize_multiplier(1e-30) == (0, 0)
        assert quantize_multiplier(5e-324) == (0, 0)  # subnormal

    def test_ties_round_away_from_zero_not_to_even(self) -> None:
        # m * 2^31 = 2^30 + 0.5 exactly: C round() gives 2^30 + 1, Python round() would give 2^30.
        real = 0.5 + 2.0**-32
        assert round(real * 2**31) == 1 << 30  # Python's banker's rounding, for contrast
        assert quantize_multiplier(real) == ((1 << 30) + 1, 0)
        assert quantize_multiplier(0.5 + 3 * 2.0**-32) == ((1 << 30) + 2, 0)

    def test_zero(self) -> None:
        assert quantize_multiplier(0.0) == (0, 0)
        assert quantize_multiplier(-0.0) == (0, 0)

    @pytest.mark.parametrize("bad", [-1e-3, -2.0, float("nan"), float("inf")])
    def test_negative_or_non_finite_is_an_ir_error(self, bad: float) -> None:
        with pytest.raises(IRError):
            quantize_multiplier(bad)

    @PROPS
    @given(st.floats(min_value=2.0**-31, max_value=2.0**40, allow_nan=False))
    def test_reconstructs_the_real_within_2_pow_minus_31_relative(self, real: float) -> None:
        m, s = quantize_multiplier(real)
        assert m == 0 or (1 << 30) <= m <= INT32_MAX
        error = abs(Fraction(m) * Fraction(2) ** (s - 31) - Fraction(real))
        assert error <= Fraction(real) * Fraction(1, 1 << 31)

    def test_per_channel_version_matches_scalar(self) -> None:
        reals = np.array([[0.0, 1e-12, 0.25], [1 - 2.0**-33, 0.5 + 2.0**-32, 7.5]])
        mult, shift = quantize_multipliers(reals)
        assert mult.dtype == np.int32 and shift.dtype == np.int32 and mult.shape == reals.shape
        for idx in np.ndindex(reals.shape):
            assert (int(mult[idx]), int(shift[idx])) == quantize_multiplier(float(reals[idx]))
        with pytest.raises(IRError):
            quantize_multipliers(np.array([0.5, -0.5]))


# --------------------------------------------------------------------------- SRDHM and RDBPOT


class TestSaturatingRoundingDoublingHighMul:
    def test_int32_min_squared_saturates(self) -> None:
        assert int(saturating_rounding_doubling_high_mul(INT32_MIN, INT32_MIN)) == INT32_MAX

    def test_near_overflow_products(self) -> None:
        assert int(saturating_rounding_doubling_high_mul(INT32_MIN, INT32_MAX)) == -INT32_MAX
        assert int(saturating_rounding_doubling_high_mul(INT32_MAX, INT32_MAX)) == INT32_MAX - 1

    def test_ties_go_toward_plus_infinity(self) -> None:
        # a*b = ±2^30 is exactly ±0.5 after the doubling high multiply.
        assert int(saturating_rounding_doubling_high_mul(1 << 15, 1 << 15)) == 1
        assert int(saturating_rounding_doubling_high_mul(-(1 << 15), 1 << 15)) == 0
        assert int(saturating_rounding_doubling_high_mul(-(1 << 30) - 1, 1)) == -1  # -0.5 - 2^-31
        assert int(saturating_rounding_doubling_high_mul(3 << 29, -1)) == -1  # -0.75

    @PROPS
    @given(st.one_of(int32s, st.sampled_from([INT32_MIN, INT32_MAX, 0, -1, 1])), int32s)
    def test_equals_gemmlowp_for_all_int32(self, a: int, b: int) -> None:
        assert int(saturating_rounding_doubling_high_mul(a, b)) == gemmlowp_srdhm(a, b)

    def test_refuses_values_outside_int32(self) -> None:
        with pytest.raises(OverflowError):
            saturating_rounding_doubling_high_mul(INT32_MAX + 1, 1)


class TestRoundingDivideByPot:
    @pytest.mark.parametrize(
        "x, e, expected",
        [(-5, 1, -3), (-6, 2, -2), (-2, 2, -1), (-4, 3, -1), (-3, 1, -2), (5, 1, 3), (2, 2, 1), (-1, 1, -1), (1, 1, 1),
         (-7, 0, -7), (INT32_MIN, 31, -1), (INT32_MAX, 31, 1), (-(1 << 30), 31, -1), ((1 << 30) - 1, 31, 0)],
    )
    def test_ties_away_from_zero(self, x: int, e: int, expected: int) -> None:
        assert int(rounding_divide_by_pot(x, e)) == expected

    @PROPS
    @given(int32s, st.integers(0, 31))
    def test_is_round_half_away_and_gemmlowp(self, x: int, e: int) -> None:
        got = int(rounding_divide_by_pot(x, e))
        assert got == round_half_away(Fraction(x, 1 << e))
        assert got == gemmlowp_rdbpot(x, e)

    def test_exponent_may_be_an_array(self) -> None:
        got = rounding_divide_by_pot(np.array([[-6], [6]]), np.array([0, 1, 2]))
        assert got.tolist() == [[-6, -3, -2], [6, 3, 2]]

    @pytest.mark.parametrize("e", [-1, 32])
    def test_exponent_range(self, e: int) -> None:
        with pytest.raises(IRError):
            rounding_divide_by_pot(5, e)


# --------------------------------------------------------------------------- the 32-bit rules


@st.composite
def double_case(draw: st.DrawFn) -> tuple[int, int, int]:
    """(acc, multiplier, shift) with acc * 2^max(shift, 0) inside int32."""
    shift = draw(st.integers(-31, 30))
    left = max(shift, 0)
    lo, hi = INT32_MIN >> left, INT32_MAX >> left
    acc = draw(st.one_of(st.integers(lo, hi), st.integers(max(lo, -300), min(hi, 300))))
    return acc, draw(multipliers), shift


class TestMultiplyByQuantizedMultiplier:
    @PROPS
    @given(int32s, multipliers, st.integers(-31, 30))
    def test_single_is_exact_rounding_ties_up(self, acc: int, m: int, shift: int) -> None:
        got = int(multiply_by_quantized_multiplier(acc, m, shift, "single"))
        assert got == round_half_up(exact(acc, m, shift))

    @PROPS
    @given(double_case())
    def test_double_is_gemmlowp_and_within_one_of_exact(self, case: tuple[int, int, int]) -> None:
        acc, m, shift = case
        got = int(multiply_by_quantized_multiplier(acc, m, shift, "double"))
        assert got == tflite_double(acc, m, shift)
        assert abs(got - round_half_up(exact(acc, m, shift))) <= 1

    def test_the_two_modes_differ_on_a_negative_tie(self) -> None:
        # -5000 * 2^30 * 2^(-3-31) = -312.5: single rounds the tie up, double goes away from zero.
        assert int(multiply_by_quantized_multiplier(-5000, 1 << 30, -3, "single")) == -312
        assert int(multiply_by_quantized_multiplier(-5000, 1 << 30, -3, "double")) == -313
        assert int(multiply_by_quantized_multiplier(5000, 1 << 30, -3, "double")) == 313

    def test_double_refuses_a_left_shift_that_overflows_int32(self) -> None:
        assert int(multiply_by_quantized_multiplier(1 << 20, 1 << 30, 10, "double")) == 1 << 29
        with pytest.raises(OverflowError):
            multiply_by_quantized_multiplier(1 << 21, 1 << 30, 10, "double")

    def test_single_result_is_not_narrowed_to_int32(self) -> None:
        got = int(multiply_by_quantized_multiplier(INT32_MAX, INT32_MAX, 30, "single"))
        assert got == round_half_up(exact(INT32_MAX, INT32_MAX, 30)) > INT32_MAX

    @pytest.mark.parametrize(
        "args, error",
        [((0, 1 << 30, 31, "single"), IRError), ((0, 1 << 30, -32, "double"), IRError), ((0, -1, 0, "single"), IRError),
         ((0, 1 << 31, 0, "single"), IRError), ((0, 1 << 30, 0, "nearest"), IRError),
         ((INT32_MAX + 1, 1 << 30, 0, "single"), OverflowError)],
    )
    def test_parameter_and_data_checks(self, args: tuple, error: type[Exception]) -> None:
        with pytest.raises(error):
            multiply_by_quantized_multiplier(*args)

    def test_refuses_float_accumulators(self) -> None:
        with pytest.raises(TypeError):
            multiply_by_quantized_multiplier(np.array([1.0]), 1 << 30, 0, "single")

    @settings(max_examples=100, deadline=None)
    @given(
        st.sampled_from(["single", "double"]),
        st.lists(st.tuples(multipliers, st.integers(-31, 4)), min_size=1, max_size=6),
        st.data(),
    )
    def test_per_channel_vectorized_equals_scalar(self, rounding: str, channels: list[tuple[int, int]], data: st.DataObject) -> None:
        mult = np.array([c[0] for c in channels], dtype=np.int32)
        shift = np.array([c[1] for c in channels], dtype=np.int32)
        rows = data.draw(st.integers(1, 4))
        acc = np.array(
            data.draw(st.lists(st.integers(INT32_MIN >> 4, INT32_MAX >> 4), min_size=rows * len(channels), max_size=rows * len(channels))),
            dtype=np.int32,
        ).reshape(rows, len(channels))
        # Channel axis last here; an NCHW caller would pass shape (C, 1, 1) instead.
        got = multiply_by_quantized_multiplier(acc, mult, shift, rounding)
        assert got.dtype == np.int64 and got.shape == acc.shape
        for r in range(rows):
            for c in range(len(channels)):
                assert got[r, c] == multiply_by_quantized_multiplier(int(acc[r, c]), int(mult[c]), int(shift[c]), rounding)
        nchw = multiply_by_quantized_multiplier(acc.T[None, :, :, None], mult[:, None, None], shift[:, None, None], rounding)
        assert np.array_equal(nchw[0, :, :, 0], got.T)


class TestInt64Rule:
    @PROPS
    @given(st.integers(-(1 << 47), (1 << 47) - 1), multipliers, st.integers(-31, 7))
    def test_equals_tflite_and_rounds_the_15_bit_product_half_up(self, acc: int, m: int, shift: int) -> None:
        got = int(multiply_by_quantized_multiplier_int64(acc, m, shift))
        assert got == tflite_int64(acc, m, shift)
        reduced = (m + (1 << 15)) >> 16 if m < 0x7FFF0000 else 0x7FFF
        assert got == round_half_up(Fraction(acc * reduced) * Fraction(2) ** (shift - 15))

    def test_reduced_multiplier_saturates_at_0x7fff(self) -> None:
        # m = 2^31 - 1 would round to 2^15; TFLite caps it at 0x7FFF.
        assert int(multiply_by_quantized_multiplier_int64(1 << 15, INT32_MAX, 0)) == 0x7FFF
        assert int(multiply_by_quantized_multiplier_int64(1 << 15, 0x7FFEFFFF, 0)) == 0x7FFF

    def test_negative_tie_goes_up(self) -> None:
        # acc * m15 / 2^15 = -0.5 exactly with m = 2^30 (m15 = 2^14), acc = -1.
        assert int(multiply_by_quantized_multiplier_int64(-1, 1 << 30, 0)) == 0
        assert int(multiply_by_quantized_multiplier_int64(-3, 1 << 30, 0)) == -1

    def test_accumulator_and_shift_bounds(self) -> None:
        assert int(multiply_by_quantized_multiplier_int64(-(1 << 47), 1 << 30, -31)) == -(1 << 15)
        with pytest.raises(OverflowError):
            multiply_by_quantized_multiplier_int64(1 << 47, 1 << 30, 0)
        with pytest.raises(IRError):
            multiply_by_quantized_multiplier_int64(1, 1 << 30, 8)


class TestRequantize:
    def test_adds_zero_point_then_clamps(self) -> None:
        acc = np.array([-100000, -202, 0, 202, 100000])
        # M = 0.25 (multiplier 2^30, shift -1): -202 -> -50.5, 202 -> 50.5.
        got = requantize(acc, 1 << 30, -1, 10, -128, 127, "single")  # ties toward +inf
        assert got.dtype == np.int64
        assert got.tolist() == [-128, -40, 10, 61, 127]
        double = requantize(acc, 1 << 30, -1, 10, -128, 127, "double")  # final RDBPOT: ties away from zero
        assert double.tolist() == [-128, -41, 10, 61, 127]
        relu = requantize(acc, 1 << 30, -1, 10, 10, 127, "double")
        assert relu.tolist() == [10, 10, 10, 61, 127]

    def test_int64_accumulators_use_the_int64_rule_in_both_modes(self) -> None:
        acc = np.array([(1 << 40) + 12345, -(1 << 40)])
        for mode in ("single", "double"):
            got = requantize(acc, 1 << 30, -20, 0, -32767, 32767, mode, acc_bits=64)
            expected = [min(max(tflite_int64(int(a), 1 << 30, -20), -32767), 32767) for a in acc]
            assert got.tolist() == expected

    def test_zero_point_is_added_without_int32_wrap(self) -> None:
        assert int(requantize(INT32_MAX, INT32_MAX, 30, 127, -128, 127, "single")) == 127

    def test_bad_parameters(self) -> None:
        with pytest.raises(IRError):
            requantize(0, 1 << 30, 0, 0, -128, 127, "single", acc_bits=16)
        with pytest.raises(IRError):
            requantize(0, 1 << 30, 0, 0, 5, 4, "single")
        with pytest.raises(IRError):
            requantize(0, 1 << 30, 0, 0, -128, 127, "banker")


# --------------------------------------------------------------------------- rounding_divide (average pool)


class TestRoundingDivide:
    @pytest.mark.parametrize(
        "acc, n, expected",
        [(-3, 2, -2), (3, 2, 2), (-5, 2, -3), (-1, 2, -1), (1, 2, 1), (-4, 3, -1), (-5, 3, -2), (5, 3, 2), (0, 7, 0), (-7, 1, -7),
         (-18, 4, -5), (-17, 4, -4), (-19, 4, -5)],
    )
    def test_negative_half_way_values_go_away_from_zero(self, acc: int, n: int, expected: int) -> None:
        assert int(rounding_divide(acc, n)) == expected

    def test_matches_the_c_expression(self) -> None:
        for acc in range(-50, 51):
            for n in range(1, 10):
                c = c_trunc_div(acc + n // 2, n) if acc > 0 else c_trunc_div(acc - n // 2, n)
                assert int(rounding_divide(acc, n)) == c

    @PROPS
    @given(st.integers(-(1 << 62), 1 << 62), st.integers(1, 1 << 40))
    def test_is_round_half_away_from_zero(self, acc: int, n: int) -> None:
        assert int(rounding_divide(acc, n)) == round_half_away(Fraction(acc, n))

    def test_per_window_counts(self) -> None:
        got = rounding_divide(np.array([[-9, 9, -10]]), np.array([2, 4, 4]))
        assert got.tolist() == [[-5, 2, -3]]

    def test_divisor_must_be_positive(self) -> None:
        with pytest.raises(IRError):
            rounding_divide(5, 0)


# --------------------------------------------------------------------------- float boundary


class TestQuantizeReal:
    def test_ties_to_even(self) -> None:
        x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.5])
        assert quantize_real(x, 1.0, 0, -128, 127).tolist() == [0, 2, 2, 0, -2, -2, 4]
        assert quantize_real(x, 1.0, 3, -128, 127).tolist() == [3, 5, 5, 3, 1, 1, 7]

    def test_divides_in_float32_like_the_c_helper(self) -> None:
        # 0.35 / 0.1 in float64 is 3.4999999999999996 (rounds to 3); in float32 it is 3.5 (rounds
        # to even: 4). The contract is float32 division then nearbyintf.
        x, s = 0.35, 0.1
        assert np.rint(x / s) == 3.0
        assert np.rint(np.float32(x) / np.float32(s)) == 4.0
        assert int(quantize_real(x, s, 0, -128, 127)) == 4
        assert int(quantize_real(x, s, 0, -128, 127, dtype=np.float64)) == 3

    def test_clamps_including_infinities(self) -> None:
        x = np.array([np.inf, -np.inf, 1e30, -1e30, 200.0])
        assert quantize_real(x, 1.0, -128, -128, 127).tolist() == [127, -128, 127, -128, 72]

    def test_per_channel_scale_broadcasts(self) -> None:
        w = np.array([[1.0, -1.0], [1.0, -1.0]])
        got = quantize_real(w, np.array([[0.5], [0.25]]), 0, -127, 127)
        assert got.tolist() == [[2, -2], [4, -4]]

    def test_nan_and_bad_scales(self) -> None:
        with pytest.raises(InputError):
            quantize_real(np.array([np.nan]), 1.0, 0, -128, 127)
        with pytest.raises(IRError):
            quantize_real(1.0, 0.0, 0, -128, 127)
        with pytest.raises(IRError):
            quantize_real(1.0, -1.0, 0, -128, 127)

    @PROPS
    @given(st.floats(-1e6, 1e6, width=32), st.floats(2.0**-12, 16.0, width=32), st.integers(-128, 127))
    def test_roundtrip_within_half_a_step(self, x: float, scale: float, zp: int) -> None:
        q = int(quantize_real(x, scale, zp, -128, 127))
        if -128 < q < 127:
            r = float(dequantize(q, scale, zp))
            assert abs(r - x) <= scale * 0.5 * (1 + 1e-6) + 1e-6

    def test_dequantize_is_float32(self) -> None:
        got = dequantize(np.array([-128, 0, 127], dtype=np.int8), 0.5, -128)
        assert got.dtype == np.float32 and got.tolist() == [0.0, 64.0, 127.5]


# --------------------------------------------------------------------------- ranges and proofs


def test_ranges() -> None:
    assert weight_range(8) == (-127, 127)
    assert weight_range(4) == (-7, 7)
    assert activation_range(8) == (-128, 127)
    assert activation_range(16) == (-32767, 32767)
    assert add_left_shift(8) == 20 and add_left_shift(16) == 15
    # narrower activations are int8 on a smaller asymmetric grid (docs/arithmetic.md §3.19)
    assert activation_range(4) == (-8, 7) and activation_range(3) == (-4, 3) and activation_range(2) == (-2, 1)
    assert add_left_shift(4) == 20
    for bad in (lambda: weight_range(1), lambda: activation_range(1), lambda: activation_range(12), lambda: add_left_shift(32)):
        with pytest.raises(IRError):
            bad()


def test_accumulator_proofs_are_exact_at_the_boundary() -> None:
    assert accumulator_bound(255, 127, 10, 5) == 255 * 127 * 10 + 5
    assert accumulator_fits_int32(1, 1, INT32_MAX)
    assert not accumulator_fits_int32(1, 1, INT32_MAX + 1)
    assert accumulator_fits_int32(1, 1, INT32_MAX - 7, bias_max_abs=7)
    assert not accumulator_fits_int32(1, 1, INT32_MAX - 7, bias_max_abs=8)
    assert accumulator_fits_int32(255, 255, 33025) and not accumulator_fits_int32(255, 255, 33026)
    assert accumulator_fits_int64_rule((1 << 47) - 1) and not accumulator_fits_int64_rule(1 << 47)
    with pytest.raises(IRError):
        accumulator_bound(-1, 1, 1)


def test_left_shift_precondition() -> None:
    assert left_shift_fits(1, 30) and not left_shift_fits(2, 30)
    assert left_shift_fits(INT32_MAX, 0) and left_shift_fits(INT32_MAX, -5)
    assert left_shift_fits((1 << 21) - 1, 10) and not left_shift_fits(1 << 21, 10)


def test_add_rescale_follows_tflite_add() -> None:
    p = add_rescale(0.02, 0.05, 0.1, 8)
    assert p.left_shift == 20
    assert (p.multiplier_a, p.shift_a) == quantize_multiplier(0.02 / 0.1)
    assert (p.multiplier_b, p.shift_b) == quantize_multiplier(0.5)
    assert (p.multiplier_out, p.shift_out) == quantize_multiplier(0.1 / (2**20 * 0.1))
    # One element through the documented integer pipeline approximates the real sum.
    qa, qb, zp = 50, -20, 3
    a = multiply_by_quantized_multiplier((qa - zp) << p.left_shift, p.multiplier_a, p.shift_a, "double")
    b = multiply_by_quantized_multiplier((qb - zp) << p.left_shift, p.multiplier_b, p.shift_b, "double")
    out = requantize(a + b, p.multiplier_out, p.shift_out, 0, -128, 127, "double")
    assert abs(int(out) * 0.1 - (0.02 * (qa - zp) + 0.05 * (qb - zp))) <= 0.05 + 1e-9


# --------------------------------------------------------------------------- integer helpers for layer norm


@PROPS
@given(st.one_of(st.integers(0, (1 << 63) - 1), st.integers(0, 1 << 20), st.integers(1, 3037000499).map(lambda r: r * r - 1), st.just((1 << 63) - 1)))
def test_integer_sqrt_and_bit_length(x: int) -> None:
    assert int(integer_sqrt(x)) == math.isqrt(x)
    assert int(bit_length(x)) == x.bit_length()
