"""The FP8 simulator against the published formats' values (Micikevicius et al. 2022, Table 1) and
the properties a rounding to a grid must have."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcc.analysis.fp8 import FORMATS, best_bias, quantize_fp8

E4M3, E5M2 = FORMATS["E4M3"], FORMATS["E5M2"]


def test_published_limits() -> None:
    assert E4M3.max_value() == 448.0
    assert E5M2.max_value() == 57344.0
    assert E4M3.min_subnormal() == 2.0**-9
    assert E5M2.min_subnormal() == 2.0**-16
    # the smallest normals: 2^-6 and 2^-14
    assert 2.0**-6 in E4M3.representable() and 2.0**-14 in E5M2.representable()
    # 8 bits: 127 finite non-negative codes for the NaN-only formats, 124 for E5M2 (inf and 3 NaNs)
    assert len(E4M3.representable()) == 127 and len(E5M2.representable()) == 124


def test_subnormals_and_ties_round_to_even() -> None:
    tiny = E4M3.min_subnormal()
    assert quantize_fp8(np.array([tiny * 0.5, tiny * 1.5, tiny * 2.5]), E4M3).tolist() == [0.0, 2 * tiny, 2 * tiny]
    # between 1 and 1.125 (E4M3's spacing at 1 is 1/8): the tie 1.0625 goes to the even mantissa 1.0
    assert quantize_fp8(np.array([1.0625, 1.1875, -1.0625]), E4M3).tolist() == [1.0, 1.25, -1.0]


def test_saturates_at_the_largest_finite_value() -> None:
    assert quantize_fp8(np.array([1e6, -1e6, 460.0]), E4M3).tolist() == [448.0, -448.0, 448.0]
    assert quantize_fp8(np.array([1e9]), E5M2).tolist() == [57344.0]


def test_bias_scales_the_grid_by_powers_of_two() -> None:
    assert E4M3.max_value(bias=9) == 448.0 / 4
    assert np.array_equal(E4M3.representable(bias=9), E4M3.representable() / 4)


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(sorted(FORMATS)), st.integers(-4, 20))
def test_representable_values_round_trip(name: str, bias: int) -> None:
    fmt = FORMATS[name]
    values = fmt.representable(bias)
    grid = np.concatenate([-values, values])
    assert np.array_equal(quantize_fp8(grid, fmt, bias), grid)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(sorted(FORMATS)), st.lists(st.floats(-1e5, 1e5, allow_nan=False), min_size=2, max_size=50))
def test_rounding_is_monotonic_and_lands_on_the_grid(name: str, xs: list[float]) -> None:
    fmt = FORMATS[name]
    x = np.sort(np.array(xs))
    q = quantize_fp8(x, fmt)
    assert np.all(np.diff(q) >= 0)
    assert np.all(np.isin(np.abs(q), fmt.representable()))
    # nearest: no representable value is strictly closer than the one chosen (within the finite range)
    grid = np.concatenate([-fmt.representable(), fmt.representable()])
    inside = np.abs(x) <= fmt.max_value()
    nearest = np.min(np.abs(grid[None, :] - x[:, None]), axis=1)
    assert np.allclose(np.abs(q - x)[inside], nearest[inside], rtol=0, atol=0)


def test_best_bias_fits_the_tensor_range() -> None:
    x = np.random.default_rng(0).standard_normal(4096) * 1e-3
    bias = best_bias(x, E4M3)
    assert E4M3.max_value(bias) >= np.max(np.abs(x)) / 2 ** 6  # at most the searched clipping
    assert np.sum((quantize_fp8(x, E4M3, bias) - x) ** 2) <= np.sum((quantize_fp8(x, E4M3) - x) ** 2)
    assert best_bias(np.zeros(8), E4M3) == E4M3.default_bias


def test_format_must_have_eight_bits() -> None:
    with pytest.raises(ValueError, match="not 8"):
        type(E4M3)("E4M4", 4, 4)
