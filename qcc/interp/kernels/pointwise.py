"""Float kernel of ``pointwise``: evaluate its expression with the kernels of the ops it names.

Why: a fused group must compute exactly what its ops computed one by one, so the expression is
evaluated step by step with the same kernels on the same element type (a literal becomes a 0-d
array of x's type, which broadcasts like the all-equal constant it replaced). Shared
sub-expressions are computed once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from qcc.interp.kernels import KERNELS, kernel
from qcc.ops.pointwise import Apply, Expr, Literal, parse_expr


@lru_cache(maxsize=256)
def _parsed(text: str) -> Expr:
    return parse_expr(text)


def evaluate_expr(expr: Expr, x: np.ndarray) -> np.ndarray:
    """The expression's value at every element of ``x`` (x's shape and element type)."""
    memo: dict[Expr, np.ndarray] = {}

    def value(e: Expr) -> np.ndarray:
        if e in memo:
            return memo[e]
        if isinstance(e, Literal):
            result = np.asarray(int(e.value), dtype=np.int64) if e.integer else np.asarray(e.value, dtype=x.dtype)
        elif isinstance(e, Apply):
            result = KERNELS[e.op]([value(a) for a in e.args], dict(e.attrs))[0]
        else:
            result = x
        memo[e] = result
        return result

    return np.asarray(value(expr))


@kernel("pointwise")
def pointwise(xs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> list[np.ndarray]:
    return [evaluate_expr(_parsed(attrs["expr"]), xs[0])]
