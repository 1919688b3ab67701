"""The int16 GEMM convolution (qcc_conv_gemm_s16) gives the reference's bytes on every vector path.

Its dot products are vpdpwssd on the AVX-512 VNNI path (512-bit, a final half vector under a mask)
and the AVX-VNNI one, vpmaddwd on AVX2, C otherwise; each sums at most QCC_S16_CHUNK = 512 products
in int32 before widening to int64. The programs push that bound: activations at +-32767 and weights
at +-127 (with -128 too, which the bound also covers) over reductions of 16 (one half vector),
48, 512 (one whole chunk), 528 and 1152 (chunks and a half-vector tail), with int64 totals far
beyond int32 and both rounding rules' int64 output stage.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from qcc.ir.ops import Tensor
from qcc.ir.types import DType
from tests.backends.c.harness import Case, act_type, check_cases, single_node
from tests.backends.c.test_vnni_paths import path  # noqa: F401  (the per-path build fixture, used by name)


def extreme_program(rng: np.random.Generator, cin: int, cout: int, k: int, size: int, sign: int) -> Case:
    """Activations and weights mostly at their extremes with one sign pattern, so partial sums run
    towards the chunk bound: sign 1 all products positive, -1 all negative, 0 random."""
    x = rng.integers(-32767, 32768, size=(1, cin, size, size))
    w = rng.integers(-127, 128, size=(cout, cin, k, k))
    if sign:
        x = np.where(rng.random(x.shape) < 0.9, 32767, x)
        w = np.where(rng.random(w.shape) < 0.9, 127 * sign, w)
    w.reshape(-1)[:3] = (-128, 127, -127)
    attrs: dict[str, Any] = dict(strides=[1, 1], pads=[k // 2] * 4, dilations=[1, 1], group=1, in_zp=0,
                                 rounding="single" if sign >= 0 else "double", acc_bits=64, out_zp=0, qmin=-32767, qmax=32767,
                                 dtype=DType.I16, multiplier=Tensor(rng.integers(1 << 30, 1 << 31, cout).astype(np.int32)),
                                 shift=Tensor(rng.integers(-24, -14, cout).astype(np.int32)))
    bias = rng.integers(-(1 << 28), 1 << 28, cout).astype(np.int32)
    xs = x.astype(np.int16)
    g, feeds = single_node("q.conv", [("x", (act_type(DType.I16, xs.shape), xs)), ("w", w.astype(np.int8)), ("b", bias)], attrs)
    return Case(g, feeds, f"i16 conv {cin}->{cout} k{k} {size}x{size} (K {cin * k * k}) sign {sign}")


@pytest.mark.usefixtures("path")
def test_int16_gemm_convolution_at_the_chunk_bound_on_every_path() -> None:
    rng = np.random.default_rng(16)
    cases = [extreme_program(rng, cin, cout, k, size, sign)
             for cin, cout, k, size in [(16, 5, 1, 9), (48, 7, 1, 5), (512, 4, 1, 3), (528, 3, 1, 4), (128, 6, 3, 5)]
             for sign in (1, -1, 0)]
    kernels = set(check_cases(cases, min_valid=1.0))
    assert kernels == {"qcc_conv_gemm_s16"}, kernels
