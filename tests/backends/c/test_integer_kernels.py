"""The C kernels of integer data (qcc_integer.c, docs/arithmetic.md §3.18) byte for byte against
the numpy integer reference: q.from_int from every plain integer type, the gather whose
indices arrive at run time (negative ones included), and the clip of plain integers (an index
clamped before such a gather)."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from qcc.arith.fixedpoint import INT32_MAX, INT32_MIN
from qcc.ir.types import DType, TensorType
from tests.backends.c.harness import Case, act_type, check_cases, output_stage, random_acts, requant_params, single_node
from tests.backends.c.test_kernels import DTYPES, SETTINGS, _rng

PLAIN = st.sampled_from([DType.BOOL, DType.U8, DType.I8, DType.I16, DType.I32, DType.I64])


def plain_data(rng: np.random.Generator, dtype: DType, shape: tuple[int, ...], lo: int, hi: int) -> np.ndarray:
    info = (0, 1) if dtype is DType.BOOL else (int(np.iinfo(dtype.numpy).min), int(np.iinfo(dtype.numpy).max))
    lo, hi = max(lo, info[0]), min(hi, info[1])
    if lo > hi:  # the clamp lies outside the type: any value of the type
        lo, hi = info
    data = rng.integers(lo, hi, size=shape, endpoint=True)
    flat = data.reshape(-1)
    flat[0] = info[0]  # values beyond the clamp, where the type has them
    if flat.size > 1:
        flat[-1] = info[1]
    return data.astype(dtype.numpy)


@st.composite
def from_int_case(draw: Any) -> Case:
    rng = _rng(draw)
    src, dst = draw(PLAIN), draw(DTYPES)
    shape = tuple(draw(st.lists(st.integers(1, 6), min_size=1, max_size=3)))
    in_min = draw(st.integers(-70000, 300))
    in_max = draw(st.integers(in_min, in_min + 70000))
    in_min, in_max = max(in_min, INT32_MIN), min(in_max, INT32_MAX)
    x = plain_data(rng, src, shape, in_min - 5, in_max + 5)
    attrs = dict(in_min=in_min, in_max=in_max, **draw(requant_params(max(abs(in_min), abs(in_max)))), **draw(output_stage(dst)))
    g, feeds = single_node("q.from_int", [("x", (TensorType(src, shape), x))], attrs, result_quant=act_type(dst, shape, attrs["out_zp"]).quant)
    return Case(g, feeds, f"q.from_int {src.value}->{dst.value} [{in_min}, {in_max}]")


@st.composite
def runtime_gather_case(draw: Any) -> Case:
    rng = _rng(draw)
    dtype, index_type = draw(DTYPES), draw(st.sampled_from([DType.I32, DType.I64]))
    data_shape = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=3)))
    axis = draw(st.integers(0, len(data_shape) - 1))
    n = data_shape[axis]
    index_shape = tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=2)))
    indices = rng.integers(-n, n, size=index_shape).astype(index_type.numpy)
    data = random_acts(rng, dtype, data_shape)
    table: Any = ("data", (act_type(dtype, data_shape), data)) if draw(st.booleans()) else ("table", data)
    g, feeds = single_node("gather", [table, ("ids", (TensorType(index_type, index_shape), indices))], {"axis": axis},
                           result_quant=act_type(dtype, data_shape).quant)
    return Case(g, feeds, f"gather {dtype.value} by {index_type.value} axis {axis}")


@st.composite
def plain_clip_case(draw: Any) -> Case:
    rng = _rng(draw)
    dtype = draw(st.sampled_from([DType.U8, DType.I8, DType.I16, DType.I32, DType.I64]))
    shape = tuple(draw(st.lists(st.integers(1, 6), min_size=1, max_size=3)))
    lo, hi = draw(st.floats(-70000, 300)), draw(st.floats(-300, 70000))  # lo > hi happens: every element becomes hi
    x = plain_data(rng, dtype, shape, int(lo) - 5, int(hi) + 5)
    g, feeds = single_node("clip", [("x", (TensorType(dtype, shape), x))], {"min": lo, "max": hi})
    return Case(g, feeds, f"clip {dtype.value} [{lo}, {hi}]")


@SETTINGS
@given(st.lists(st.one_of(from_int_case(), runtime_gather_case(), plain_clip_case()), min_size=12, max_size=12))
def test_integer_data_kernels(cases: list[Case]) -> None:
    kernels = check_cases(cases)
    assert set(kernels) <= {"qcc_from_int", "qcc_gather_rows", "qcc_clip_plain"}
