"""Layer norm rows long enough that T = Σ D^2 + eps passes 2^62 (docs/arithmetic.md §3.10).

The shift exponent p = (62 - bit_length(T)) >> 1 was -1 there: a negative shift in C (undefined)
and a refusal in the numpy reference. Now p = max(·, 0), both executors agree on such rows, and the
verifier refuses only rows whose T could pass int64 (the bound proven offline).
"""

from __future__ import annotations

import numpy as np
import pytest

from qcc.arith.fixedpoint import INT64_MAX, layer_norm_total_bound
from qcc.backends.numpy_int.executor import run_integer
from qcc.errors import QccError
from qcc.ir.ops import Tensor
from qcc.ir.types import DType
from tests.backends.c.harness import Case, act_type, check_cases, single_node
from tests.quant.test_special_lowerings import layer_norm_by_the_doc

LONG_ROW = 60_000  # alternating -128 / 127 with eps 2^60: T = 16256 N^3 + 2^60 > 2^62


def layer_norm_case(n: int, eps: int, rounding: str) -> tuple[Case, dict]:
    rng = np.random.default_rng(n)
    x = np.where(np.arange(n) % 2 == 0, -128, 127).astype(np.int8).reshape(1, n)
    attrs = dict(axis=1, in_zp=0, eps=eps, multiplier=Tensor(rng.integers(1 << 30, 1 << 31, n).astype(np.int32)),
                 shift=Tensor(rng.integers(-8, 1, n).astype(np.int32)), gamma_sign=Tensor(rng.integers(-1, 2, n).astype(np.int8)),
                 beta=Tensor(rng.integers(-300, 300, n).astype(np.int32)), rounding=rounding, dtype=DType.I8, out_zp=3, qmin=-128, qmax=127)
    g, feeds = single_node("q.layer_norm", [("x", (act_type(DType.I8, x.shape), x))], attrs)
    return Case(g, feeds, f"layer_norm N={n}"), attrs


@pytest.mark.parametrize("rounding", ["double", "single"])
def test_rows_past_two_to_the_62_agree_with_the_definition(rounding: str) -> None:
    case, attrs = layer_norm_case(LONG_ROW, 1 << 60, rounding)
    x = case.feeds["x"]
    d = x.astype(np.int64).reshape(-1)
    assert int(((LONG_ROW * d - d.sum()) ** 2).sum()) + (1 << 60) >= 1 << 62  # the case reaches bit length 63
    check_cases([case], min_valid=1.0)  # C (cffi) equals the numpy reference
    by_the_doc = {k: (v.array if isinstance(v, Tensor) else v) for k, v in attrs.items()}
    assert np.array_equal(run_integer(case.graph, case.feeds)["y"], layer_norm_by_the_doc(x, by_the_doc))


def test_rows_whose_sum_of_squares_can_pass_int64_are_refused() -> None:
    longest = max(n for n in range(70_000, 90_000, 100) if layer_norm_total_bound(n, 1 << 60) <= INT64_MAX)
    layer_norm_case(longest, 1 << 60, "double")  # accepted
    with pytest.raises(QccError, match=f"q.layer_norm: {longest + 100} normalized elements: the sum of squares can pass int64"):
        layer_norm_case(longest + 100, 1 << 60, "double")
