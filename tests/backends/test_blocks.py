"""The integer reference's blocked elementwise work covers every element exactly once and gives the
whole-array values, broadcast parameters included (per-channel multipliers, scalars)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcc.arith.fixedpoint import requantize
from qcc.backends.numpy_int import blocks as blocks_module
from qcc.backends.numpy_int.blocks import blocks, blockwise

_shapes = st.lists(st.integers(0, 9), min_size=0, max_size=4).map(tuple)


@settings(max_examples=80, deadline=None)
@given(_shapes, st.integers(1, 40))
def test_blocks_cover_every_element_once(shape: tuple[int, ...], size: int) -> None:
    seen = np.zeros(shape, np.int64)
    for index in blocks(shape, size):
        seen[index] += 1
    assert np.all(seen == 1)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 7), min_size=1, max_size=4).map(tuple), st.data())
def test_blockwise_requantize_equals_the_whole_array(shape: tuple[int, ...], data: st.DataObject) -> None:
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    acc = rng.integers(-(2**20), 2**20, shape)
    axis = data.draw(st.integers(0, len(shape) - 1))
    per_channel = [1] * len(shape)
    per_channel[axis] = shape[axis]
    multiplier = rng.integers(2**30, 2**31 - 1, per_channel)
    shift = rng.integers(-12, 2, per_channel)

    def stage(a: np.ndarray, m: np.ndarray, s: np.ndarray) -> np.ndarray:
        return requantize(a, m, s, 3, -128, 127, "double")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(blocks_module, "BLOCK", data.draw(st.integers(1, 30)))
        got = blockwise(stage, shape, np.dtype(np.int8), acc, multiplier, shift)
    np.testing.assert_array_equal(got, stage(acc, multiplier, shift).astype(np.int8))
