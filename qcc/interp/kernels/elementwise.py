"""Float kernels of the element-wise ops: one table from IR op name to numpy function per family.

Every kernel keeps the operand's element type (float32 stays float32; integer ops wrap like
ONNX's). f16 and bf16 unary math is computed in float32 and rounded once at the end, so composite
formulas (GELU, Mish, ...) do not accumulate half-precision rounding.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from qcc.interp.kernels import KernelFn, apply_fused_clamp, kernel

UnaryFn = Callable[[np.ndarray, Mapping[str, Any]], np.ndarray]
BinaryFn = Callable[[np.ndarray, np.ndarray], np.ndarray]

_HALF_FLOATS = ("float16", "bfloat16")


def _zero(x: np.ndarray) -> np.ndarray:
    return np.zeros((), x.dtype)


# ---- functions numpy lacks --------------------------------------------------------------------

# Maclaurin coefficients of erf(x) / x in powers of x^2: 2/sqrt(pi) * (-1)^n / (n! (2n+1)).
_ERF_SERIES = [2 / math.sqrt(math.pi) * (-1) ** n / (math.factorial(n) * (2 * n + 1)) for n in range(20)]
# Numerical Recipes' Chebyshev fit of erfc (fractional error < 1.2e-7), in t = 1 / (1 + |x|/2).
_ERFC_FIT = [
    -1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806,
    0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277,
]


def _horner(coeffs: Sequence[float], t: np.ndarray) -> np.ndarray:
    acc = np.full_like(t, coeffs[-1])
    for c in reversed(coeffs[:-1]):
        acc = acc * t + c
    return acc


def erf(x: np.ndarray) -> np.ndarray:
    """The error function, vectorized (numpy has none and qcc does not depend on scipy).

    Computed in float64: the Maclaurin series for |x| < 1 (exact to rounding), 1 - erfc from a
    Chebyshev fit beyond (relative error below 1e-8): float32 and narrower results are within
    an ulp.
    """
    z = np.asarray(x, dtype=np.float64)
    a = np.abs(z)
    small = np.minimum(a, 1.0)
    series = small * _horner(_ERF_SERIES, small * small)
    big = np.maximum(a, 1.0)
    t = 1.0 / (1.0 + 0.5 * big)
    tail = 1.0 - t * np.exp(-big * big + _horner(_ERFC_FIT, t))
    return np.copysign(np.where(a < 1.0, series, tail), z).astype(x.dtype)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + e) for x >= 0 and e / (1 + e) below, e = exp(-|x|) (never overflows); computed in
    place over two buffers, as it runs on every feature map of SiLU networks."""
    e = np.abs(x, out=np.empty_like(x))  # an array even for a 0-d x
    np.negative(e, out=e)
    np.exp(e, out=e)
    denominator = e + 1
    y = np.divide(e, denominator, out=e)
    np.divide(1, denominator, out=y, where=x >= 0)
    return y


def _gelu(x: np.ndarray, attrs: Mapping[str, Any]) -> np.ndarray:
    if attrs["approximate"] == "tanh":
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x * x * x)))
    return 0.5 * x * (1 + erf(x * (1 / math.sqrt(2))))


def _int_bound(bound: float, info: np.iinfo, rounding: Callable[[float], int]) -> int:
    """A float bound as an integer of the element type, rounded inward, saturated to its range."""
    if bound <= info.min:
        return int(info.min)
    if bound >= info.max:
        return int(info.max)
    return rounding(bound)


def _clip(x: np.ndarray, attrs: Mapping[str, Any]) -> np.ndarray:
    lo, hi = attrs["min"], attrs["max"]
    if x.dtype.kind in "iu":
        info = np.iinfo(x.dtype)
        lo, hi = _int_bound(lo, info, math.ceil), _int_bound(hi, info, math.floor)
    # ONNX Clip: lower bound first, so min > max gives max everywhere.
    return np.minimum(np.maximum(x, x.dtype.type(lo)), x.dtype.type(hi))


def _divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.dtype.kind not in "iu":
        return np.true_divide(a, b)
    q = np.floor_divide(a, b)
    if a.dtype.kind == "i":
        # ONNX integer division truncates toward zero: floor is one too low when the signs differ
        # (q < 0) and the division is inexact.
        q = q + ((q < 0) & (q * b != a))
    return q


def _widen(x: np.ndarray) -> np.ndarray:
    """Half-precision floats as float32 (what f16/bf16 math computes in); others unchanged."""
    return x.astype(np.float32) if x.dtype.name in _HALF_FLOATS else x


def _power(base: np.ndarray, exponent: np.ndarray) -> np.ndarray:
    """base ** exponent in the base's element type (ONNX Pow-15)."""
    if base.dtype.kind not in "iu" or exponent.dtype.kind not in "iu":
        # Float math (ints promote to float64); float -> int truncates toward zero, as ONNX.
        return np.power(_widen(base), _widen(exponent)).astype(base.dtype)
    # Integer ** integer, computed in 64 bits (wrapping mod 2^64 then narrowing equals wrapping in
    # the narrow type). A negative exponent gives 1 / base^|e|, which truncates to 0 unless |base| = 1.
    wide_type = np.uint64 if base.dtype.kind == "u" else np.int64
    e = exponent.astype(np.int64)
    negative = e < 0
    result = np.power(base.astype(wide_type), np.where(negative, 0, e).astype(wide_type))
    if negative.any():
        odd = e % 2 != 0
        unit = np.where(base == 1, 1, np.where(base == -1, np.where(odd, -1, 1), 0))
        result = np.where(negative, unit.astype(wide_type), result)
    return result.astype(base.dtype)


def _prelu(x: np.ndarray, slope: np.ndarray) -> np.ndarray:
    return np.where(x < 0, x * slope, x)


# ---- the tables -------------------------------------------------------------------------------

UNARY: dict[str, UnaryFn] = {
    "relu": lambda x, a: np.maximum(x, _zero(x)),
    "leaky_relu": lambda x, a: np.where(x >= 0, x, x * a["alpha"]),
    "clip": _clip,
    "sigmoid": lambda x, a: _sigmoid(x),
    "hard_sigmoid": lambda x, a: np.clip(x * a["alpha"] + a["beta"], 0, 1),
    "hard_swish": lambda x, a: x * np.clip(x * (1 / 6) + 0.5, 0, 1),
    "tanh": lambda x, a: np.tanh(x),
    "erf": lambda x, a: erf(x),
    "gelu": _gelu,
    "elu": lambda x, a: np.where(x >= 0, x, a["alpha"] * np.expm1(np.minimum(x, 0))),
    "selu": lambda x, a: a["gamma"] * np.where(x > 0, x, a["alpha"] * np.expm1(np.minimum(x, 0))),
    "celu": lambda x, a: np.maximum(x, 0) + a["alpha"] * np.expm1(np.minimum(x, 0) / a["alpha"]),
    "thresholded_relu": lambda x, a: np.where(x > a["alpha"], x, _zero(x)),
    "softplus": lambda x, a: np.logaddexp(0, x),
    "softsign": lambda x, a: x / (1 + np.abs(x)),
    "mish": lambda x, a: x * np.tanh(np.logaddexp(0, x)),
    "sqrt": lambda x, a: np.sqrt(x),
    "exp": lambda x, a: np.exp(x),
    "log": lambda x, a: np.log(x),
    "reciprocal": lambda x, a: np.reciprocal(x),
    "neg": lambda x, a: np.negative(x),
    "abs": lambda x, a: np.abs(x),
    "sign": lambda x, a: np.sign(x),
    "floor": lambda x, a: np.floor(x),
    "ceil": lambda x, a: np.ceil(x),
    "round": lambda x, a: np.round(x),  # ties to even, as ONNX Round
    "not": lambda x, a: np.logical_not(x),
}

BINARY: dict[str, BinaryFn] = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": _divide,
    "pow": _power,
    "max": np.maximum,
    "min": np.minimum,
    "prelu": _prelu,
    "equal": np.equal,
    "greater": np.greater,
    "less": np.less,
    "greater_or_equal": np.greater_equal,
    "less_or_equal": np.less_equal,
    "and": np.logical_and,
    "or": np.logical_or,
    "xor": np.logical_xor,
}

# ---- registration -----------------------------------------------------------------------------

def _unary_kernel(fn: UnaryFn) -> KernelFn:
    def run(xs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> list[np.ndarray]:
        x = xs[0]
        return [np.asarray(fn(_widen(x), attrs)).astype(x.dtype, copy=False)]

    return run


def _binary_kernel(fn: BinaryFn) -> KernelFn:
    def run(xs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> list[np.ndarray]:
        # apply_fused_clamp is a no-op for ops without act_min/act_max attributes.
        return [apply_fused_clamp(np.asarray(fn(xs[0], xs[1])), attrs)]

    return run


for _name, _unary in UNARY.items():
    kernel(_name)(_unary_kernel(_unary))
for _name, _binary in BINARY.items():
    kernel(_name)(_binary_kernel(_binary))


@kernel("where")
def where(xs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> list[np.ndarray]:
    cond, a, b = xs
    return [np.asarray(np.where(cond, a, b))]
