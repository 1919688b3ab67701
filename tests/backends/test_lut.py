"""Lookup tables (docs/arithmetic.md §3.7): the int8 table is exactly quantize(f(dequantize(q)))
per entry; the int16 lookup is TFLite's 9-bit-index / 7-bit-fraction interpolation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcc.arith.lut import LUT_INT16_SIZE, build_lut_int8, build_lut_int16, lut_lookup_int16
from qcc.errors import IRError

PROPS = settings(max_examples=150, deadline=None)


def hard_swish(x: np.ndarray) -> np.ndarray:
    return x * np.clip(x + 3.0, 0.0, 6.0) / 6.0


def hard_swish_scalar(x: float) -> float:
    # The same IEEE operations in the same order as hard_swish, on Python floats.
    return x * min(max(x + 3.0, 0.0), 6.0) / 6.0


def square_scalar(x: float) -> float:
    return x * x


FUNCTIONS = {"hard_swish": (hard_swish, hard_swish_scalar), "square": (np.square, square_scalar), "identity": (lambda x: x, lambda x: x)}

scales = st.floats(1e-3, 1.0)
zps = st.integers(-128, 127)


class TestInt8:
    @PROPS
    @given(st.sampled_from(sorted(FUNCTIONS)), scales, zps, scales, zps, st.integers(-128, 0), st.integers(0, 127))
    def test_each_entry_is_quantize_f_dequantize(
        self, name: str, in_scale: float, in_zp: int, out_scale: float, out_zp: int, qmin: int, qmax: int
    ) -> None:
        vector_fn, scalar_fn = FUNCTIONS[name]
        table = build_lut_int8(vector_fn, in_scale, in_zp, out_scale, out_zp, qmin, qmax)
        assert table.dtype == np.int8 and table.shape == (256,)
        for q in range(-128, 128):
            y = scalar_fn((q - in_zp) * in_scale)
            expected = min(max(round(y / out_scale) + out_zp, qmin), qmax)  # Python round: ties to even
            assert table[q + 128] == expected, q

    def test_quantization_ties_go_to_even(self) -> None:
        # identity with s_in = s_out / 2 (powers of two, exact): entry = round_half_even(q / 2).
        table = build_lut_int8(lambda x: x, 2.0**-5, 0, 2.0**-4, 0)
        assert [int(table[q + 128]) for q in (-3, -1, 1, 3, 5, 127)] == [-2, 0, 0, 2, 2, 64]

    def test_sigmoid_table_is_monotone_and_saturates(self) -> None:
        table = build_lut_int8(lambda x: 1 / (1 + np.exp(-x)), 0.1, 0, 1 / 256, -128)
        assert np.all(np.diff(table.astype(int)) >= 0)
        assert table[0] == -128 and table[-1] == 127  # sigmoid(-12.8) * 256 rounds to 0; 256 clamps to 127
        assert table[128] == 0  # sigmoid(0) = 0.5 -> 128 - 128

    def test_undefined_points_hold_zero_and_non_elementwise_functions_are_rejected(self) -> None:
        """log of the negative grid points is NaN: those entries hold the real 0 (the output zero
        point); log(0) = -inf saturates low; the defined points are the rounded log."""
        table = build_lut_int8(np.log, 0.1, 0, 0.1, 5).astype(np.int64)
        q = np.arange(-128, 128)
        assert np.all(table[q < 0] == 5)
        assert table[128] == -128
        positive = q > 0
        assert np.array_equal(table[positive], np.clip(np.rint(np.log(0.1 * q[positive]) / 0.1) + 5, -128, 127))
        with pytest.raises(IRError):
            build_lut_int8(lambda x: x[:10], 0.1, 0, 0.1, 0)


def tflite_lut_lookup(value: int, lut: list[int]) -> int:
    """TFLite LUTLookup(int16_t, const int16_t*) transcribed with Python ints."""
    index = 256 + (value >> 7)
    offset = value & 0x7F
    base = lut[index]
    slope = lut[index + 1] - lut[index]
    delta = (slope * offset + 64) >> 7
    return base + delta


class TestInt16:
    def test_table_samples_the_grid_points(self) -> None:
        table = build_lut_int16(np.tanh, 4 / 32768, 1 / 32768)
        assert table.dtype == np.int16 and table.shape == (LUT_INT16_SIZE,)
        grid = -32768 + 128 * np.arange(513)
        expected = np.clip(np.rint(np.tanh(grid * (4 / 32768)) * 32768), -32767, 32767)
        assert np.array_equal(table, expected)
        assert np.array_equal(lut_lookup_int16(table, grid[:512]), table[:512])

    @PROPS
    @given(st.integers(0, 2**32 - 1), st.sampled_from([1, 300, 65534]), st.lists(st.integers(-32768, 32767), min_size=1, max_size=50))
    def test_lookup_equals_tflite_and_stays_between_neighbours(self, seed: int, spread: int, qs: list[int]) -> None:
        # Random tables with small, medium and extreme slopes (|slope| up to 65534).
        rng = np.random.default_rng(seed)
        table = np.clip(np.cumsum(rng.integers(-spread, spread + 1, size=513)), -32767, 32767).astype(np.int16)
        if spread == 65534:
            table = rng.choice(np.array([-32767, 32767], dtype=np.int16), size=513)
        entries = [int(v) for v in table]
        got = lut_lookup_int16(table, np.array(qs, dtype=np.int16))
        for q, value in zip(qs, got):
            assert value == tflite_lut_lookup(q, entries)
            i = (q + 32768) >> 7
            assert min(entries[i], entries[i + 1]) <= value <= max(entries[i], entries[i + 1])

    def test_interpolation_rounds_ties_up(self) -> None:
        table = np.zeros(513, dtype=np.int16)
        table[257] = 1  # segment [0, 128): slope 1, value f/128
        assert lut_lookup_int16(table, [0, 63, 64, 127]).tolist() == [0, 0, 1, 1]  # 64/128 = 0.5 -> 1
        table[257] = -1
        assert lut_lookup_int16(table, [63, 64, 65]).tolist() == [0, 0, -1]  # -0.5 -> 0 (toward +inf)

    def test_tanh_error_is_at_most_two_steps_everywhere(self) -> None:
        table = build_lut_int16(np.tanh, 4 / 32768, 1 / 32768)
        q = np.arange(-32767, 32768)
        got = lut_lookup_int16(table, q)
        exact = np.clip(np.rint(np.tanh(q * (4 / 32768)) * 32768), -32767, 32767)
        assert np.max(np.abs(got - exact)) <= 2

    def test_index_like_input_with_zero_point(self) -> None:
        # LRN-style: input u = q + 32768 in [0, 65535] with in_zp = -32768.
        table = build_lut_int16(lambda s: 1.0 / (1.0 + s / 1000.0), 1.0, 1 / 32767, in_zp=-32768, out_qmin=0)
        assert table[0] == 32767 and np.all(np.diff(table.astype(int)) <= 0) and table.min() >= 0

    def test_bad_tables_and_inputs(self) -> None:
        with pytest.raises(IRError):
            lut_lookup_int16(np.zeros(512, dtype=np.int16), 0)
        with pytest.raises(OverflowError):
            lut_lookup_int16(np.zeros(513, dtype=np.int16), 32768)
