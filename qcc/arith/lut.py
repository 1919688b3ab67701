"""Lookup tables for unary non-linear ops (sigmoid, tanh, hard-swish, GELU, exp, ...).

Why: docs/arithmetic.md §3.7 evaluates every unary non-linearity on integers through a table built offline,
so no executor ever evaluates the float function and all executors agree by construction. The
builders (offline, float64, deterministic) and the one run-time rule that is arithmetic — the
int16 linear interpolation — live here once; docs/arithmetic.md "Lookup tables" is the spec.

int8: 256 entries, ``lut[q + 128] = quantize_out(f(dequantize_in(q)))``.
int16: 513 entries sampled every 128 input steps; the lookup interpolates linearly in integers,
exactly as TensorFlow Lite's ``LUTLookup(int16_t, const int16_t*)``
(tensorflow/lite/kernels/internal/common.h). The table contents differ from TFLite's
``LUTPopulateInt16`` on purpose (plain samples at the exact grid points, see the docs).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from qcc.arith.fixedpoint import IntLike, as_int64, check_range, quantize_real
from qcc.errors import IRError

RealFunction = Callable[[np.ndarray], np.ndarray]
"""An elementwise function on a float64 ndarray, returning an array of the same shape."""

LUT_INT8_SIZE = 256
LUT_INT16_SIZE = 513
LUT_INT16_FRAC_BITS = 7
"""Input bits below the table index: the top 9 bits of ``q + 32768`` index, the low 7 interpolate."""


def _evaluate(fn: RealFunction, x: np.ndarray) -> np.ndarray:
    """``fn`` on the table's grid. Where the float function is undefined (NaN: sqrt or log of a
    negative grid point the calibrated range happens to include) the table holds a real 0, the
    rule q.lut2 follows too (docs/arithmetic.md §3.7)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        y = np.asarray(fn(x), dtype=np.float64)
    if y.shape != x.shape:
        raise IRError(f"LUT function must be elementwise: input shape {x.shape}, result shape {y.shape}")
    return np.where(np.isnan(y), 0.0, y)


def build_lut_int8(
    fn: RealFunction,
    in_scale: float,
    in_zp: int,
    out_scale: float,
    out_zp: int,
    out_qmin: int = -128,
    out_qmax: int = 127,
) -> np.ndarray:
    """The 256-entry int8 table of ``fn``: entry ``q + 128`` (``q ∈ [-128, 127]``) is
    ``clamp(round_half_even(fn(in_scale * (q - in_zp)) / out_scale) + out_zp, out_qmin, out_qmax)``,
    all in float64. Look up with ``table[q + 128]``."""
    q = np.arange(-128, 128, dtype=np.int64)
    x = (q - in_zp).astype(np.float64) * float(in_scale)
    y = _evaluate(fn, x)
    check_range(np.array([out_qmin, out_qmax]), -128, 127, "int8 LUT output range", IRError)
    return quantize_real(y, float(out_scale), out_zp, out_qmin, out_qmax, dtype=np.float64).astype(np.int8)


def build_lut_int16(
    fn: RealFunction,
    in_scale: float,
    out_scale: float,
    *,
    in_zp: int = 0,
    out_zp: int = 0,
    out_qmin: int = -32767,
    out_qmax: int = 32767,
) -> np.ndarray:
    """The 513-entry int16 table of ``fn`` for :func:`lut_lookup_int16`: entry ``i`` is the sample
    at the grid point ``g_i = -32768 + 128 i`` (``g_512 = 32768`` lies one past int16 and only
    serves the last segment's slope):
    ``clamp(round_half_even(fn(in_scale * (g_i - in_zp)) / out_scale) + out_zp, out_qmin, out_qmax)``
    in float64. int16 activations are symmetric (zero points 0); ``in_zp`` exists for index-like
    inputs (e.g. LRN's squared sums, docs/arithmetic.md)."""
    check_range(np.array([out_qmin, out_qmax]), -32768, 32767, "int16 LUT output range", IRError)
    grid = -32768 + (np.arange(LUT_INT16_SIZE, dtype=np.int64) << LUT_INT16_FRAC_BITS)
    x = (grid - in_zp).astype(np.float64) * float(in_scale)
    y = _evaluate(fn, x)
    return quantize_real(y, float(out_scale), out_zp, out_qmin, out_qmax, dtype=np.float64).astype(np.int16)


def lut_lookup_int16(table: np.ndarray, q: IntLike) -> np.ndarray:
    """Interpolated lookup of int16 ``q`` in a 513-entry table (TFLite ``LUTLookup`` for int16):
    ``u = q + 32768``, ``i = u >> 7``, ``f = u & 127``, ``base = table[i]``,
    ``slope = table[i+1] - table[i]``, result ``base + ((slope * f + 64) >> 7)`` (``>>`` is floor;
    ties toward +inf). The result lies between ``table[i]`` and ``table[i+1]``; int64 out."""
    t = as_int64(table, "table")
    if t.shape != (LUT_INT16_SIZE,):
        raise IRError(f"int16 LUT must have shape ({LUT_INT16_SIZE},), got {t.shape}")
    check_range(t, -32768, 32767, "int16 LUT entries", IRError)
    q = as_int64(q, "q")
    check_range(q, -32768, 32767, "int16 LUT input", OverflowError)
    u = q + 32768
    index = u >> LUT_INT16_FRAC_BITS
    frac = u & ((1 << LUT_INT16_FRAC_BITS) - 1)
    base = t[index]
    slope = t[index + 1] - base
    return np.asarray(base + ((slope * frac + (1 << (LUT_INT16_FRAC_BITS - 1))) >> LUT_INT16_FRAC_BITS), dtype=np.int64)
