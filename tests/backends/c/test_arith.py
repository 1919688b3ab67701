"""The C arithmetic helpers of csrc/qcc_arith.h against qcc.arith.fixedpoint, exactly.

A small probe module wraps each static inline helper in a loop over arrays, so hypothesis can
throw thousands of values per example at it: SRDHM including INT32_MIN * INT32_MIN, RDBPOT with
negative half-way values, both 32-bit rules with shifts in [-31, 30] (left shifts only where the
double rule allows them), the int64 rule around 0x7FFF0000, the vectorized output stage (AVX2
when the build targets it) against the scalar one, the pooling division, the int16 table lookup,
the integer square root and bit length.
"""

from __future__ import annotations

import functools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from qcc.backends.c.build import ModelSources, build_module, kernel_sources
from qcc.arith.fixedpoint import (
    INT32_MAX,
    INT32_MIN,
    bit_length,
    integer_sqrt,
    multiply_by_quantized_multiplier,
    multiply_by_quantized_multiplier_int64,
    requantize,
    rounding_divide,
    rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
)
from qcc.arith.lut import lut_lookup_int16

PROBE = r"""
#include <stddef.h>
#include <stdint.h>
#include "qcc_kernels.h"

void probe_srdhm(const int32_t *a, const int32_t *b, int32_t *out, int32_t n)
{ int32_t i; for (i = 0; i < n; i++) out[i] = qcc_srdhm(a[i], b[i]); }
void probe_rdbpot(const int32_t *x, const int32_t *e, int32_t *out, int32_t n)
{ int32_t i; for (i = 0; i < n; i++) out[i] = qcc_rdbpot(x[i], e[i]); }
void probe_mul32(const int32_t *acc, const int32_t *m, const int32_t *s, int32_t rounding, int64_t *out, int32_t n)
{ int32_t i; for (i = 0; i < n; i++) out[i] = qcc_mul32(acc[i], m[i], s[i], rounding); }
void probe_mul64(const int64_t *acc, const int32_t *m, const int32_t *s, int64_t *out, int32_t n)
{ int32_t i; for (i = 0; i < n; i++) out[i] = qcc_mul64(acc[i], m[i], s[i]); }
void probe_requant32(const int32_t *acc, int32_t n, int32_t m, int32_t s, int32_t rounding, int32_t zp, int32_t lo, int32_t hi, int32_t *y)
{ int32_t i; for (i = 0; i < n; i++) y[i] = qcc_requant32(acc[i], m, s, rounding, zp, lo, hi); }
void probe_requant_row(const int32_t *acc, int32_t n, int32_t m, int32_t s, int32_t rounding, int32_t zp, int32_t lo, int32_t hi, int8_t *y)
{ qcc_requant_row_s8(acc, n, m, s, rounding, zp, lo, hi, y, 1); }
void probe_rounding_divide(const int64_t *acc, const int64_t *d, int64_t *out, int32_t n)
{ int32_t i; for (i = 0; i < n; i++) out[i] = qcc_rounding_divide(acc[i], d[i]); }
void probe_lut16(const int16_t *table, const int32_t *q, int32_t *out, int32_t n)
{ int32_t i; for (i = 0; i < n; i++) out[i] = qcc_lut16(table, q[i]); }
void probe_isqrt(const uint64_t *x, uint64_t *out, int32_t n)
{ int32_t i; for (i = 0; i < n; i++) out[i] = qcc_isqrt(x[i]); }
void probe_bit_length(const uint64_t *x, int32_t *out, int32_t n)
{ int32_t i; for (i = 0; i < n; i++) out[i] = qcc_bit_length(x[i]); }
"""

PROTOTYPES = "\n".join(line.split("\n")[0].strip() + ";" for line in PROBE.split("void ")[1:] if line.strip())
PROTOTYPES = "\n".join("void " + p for p in PROTOTYPES.splitlines())

N = 4096
SETTINGS = settings(max_examples=25, deadline=None)


@functools.lru_cache(maxsize=1)
def probe():
    module = build_module([ModelSources({"model.c": PROBE}, PROTOTYPES)], kernel_sources(["qcc_arith.h", "qcc_kernels.h"]))
    return module.ffi, module.lib


def _call(name: str, *arrays: np.ndarray, extra: tuple = ()) -> None:
    """lib.<name>(pointers to the arrays..., *extra)."""
    ffi, lib = probe()
    getattr(lib, name)(*[ffi.from_buffer(f"{a.dtype.name}_t[]", a, require_writable=True) for a in arrays], *extra)


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _int32(rng: np.random.Generator, n: int = N) -> np.ndarray:
    a = rng.integers(INT32_MIN, INT32_MAX, size=n, endpoint=True, dtype=np.int64)
    edges = [INT32_MIN, INT32_MAX, 0, -1, 1, INT32_MIN + 1]
    a[: min(n, 6)] = edges[:n]
    return a.astype(np.int32)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1))
def test_srdhm(seed: int) -> None:
    rng = _rng(seed)
    a, b = _int32(rng), _int32(rng)
    b[0] = INT32_MIN  # a[0] is INT32_MIN too: the one saturating product
    out = np.zeros(N, np.int32)
    _call("probe_srdhm", a, b, out, extra=(N,))
    assert np.array_equal(out, saturating_rounding_doubling_high_mul(a, b))


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1))
def test_rounding_divide_by_pot(seed: int) -> None:
    rng = _rng(seed)
    e = rng.integers(0, 32, N).astype(np.int32)
    x = _int32(rng)
    half = (np.int64(1) << np.maximum(e[40:80].astype(np.int64) - 1, 0))
    x[40:80] = np.clip(-half * rng.integers(1, 5, 40), INT32_MIN, INT32_MAX)  # negative half-way values
    out = np.zeros(N, np.int32)
    _call("probe_rdbpot", x, e, out, extra=(N,))
    assert np.array_equal(out, rounding_divide_by_pot(x, e))


def _multipliers(rng: np.random.Generator, n: int = N) -> np.ndarray:
    m = rng.integers(1 << 30, 1 << 31, n).astype(np.int64)
    edges = [1 << 30, INT32_MAX, 0x7FFF0000 - 1, 0x7FFF0000, 0x7FFF8000, 0, INT32_MAX - 1, (1 << 30) + 1]
    m[: min(n, 8)] = edges[:n]
    return m.astype(np.int32)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), rounding=st.sampled_from(["double", "single"]))
def test_32_bit_rules(seed: int, rounding: str) -> None:
    rng = _rng(seed)
    m = _multipliers(rng)
    s = rng.integers(-31, 31, N).astype(np.int32)
    acc = _int32(rng).astype(np.int64)
    if rounding == "double":  # the pass proves acc * 2^shift fits int32: keep to that domain
        limit = INT32_MAX >> np.maximum(s, 0).astype(np.int64)
        acc = np.clip(acc, -limit, limit)
    acc = acc.astype(np.int32)
    out = np.zeros(N, np.int64)
    ffi, lib = probe()
    lib.probe_mul32(ffi.from_buffer("int32_t[]", acc), ffi.from_buffer("int32_t[]", m), ffi.from_buffer("int32_t[]", s),
                    0 if rounding == "double" else 1, ffi.from_buffer("int64_t[]", out, require_writable=True), N)
    assert np.array_equal(out, multiply_by_quantized_multiplier(acc, m, s, rounding))


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1))
def test_int64_rule(seed: int) -> None:
    rng = _rng(seed)
    m = _multipliers(rng)
    s = rng.integers(-31, 8, N).astype(np.int32)
    acc = rng.integers(-(1 << 47), 1 << 47, N, dtype=np.int64)
    acc[:4] = [-(1 << 47), (1 << 47) - 1, 0, -1]
    out = np.zeros(N, np.int64)
    _call("probe_mul64", acc, m, s, out, extra=(N,))
    assert np.array_equal(out, multiply_by_quantized_multiplier_int64(acc, m, s))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), rounding=st.sampled_from(["double", "single"]), n=st.integers(1, 100),
       zp=st.integers(-128, 127), lo=st.integers(-128, 0), hi=st.integers(0, 127))
def test_output_stage_row_equals_scalar_rule(seed: int, rounding: str, n: int, zp: int, lo: int, hi: int) -> None:
    """The vectorized row output stage (AVX2 when built for it) equals requantize(), element by element."""
    rng = _rng(seed)
    m = int(rng.integers(1 << 30, 1 << 31)) if rng.integers(0, 2) else int(rng.choice([1 << 30, INT32_MAX, 0x7FFF0000, 0]))
    s = int(rng.integers(-31, 31))
    acc = _int32(rng, n).astype(np.int64)
    if rounding == "double":
        acc = np.clip(acc, -(INT32_MAX >> max(s, 0)), INT32_MAX >> max(s, 0))
    acc = acc.astype(np.int32)
    row = np.zeros(n, np.int8)
    scalar = np.zeros(n, np.int32)
    mode = 0 if rounding == "double" else 1
    ffi, lib = probe()
    lib.probe_requant_row(ffi.from_buffer("int32_t[]", acc), n, m, s, mode, zp, lo, hi, ffi.from_buffer("int8_t[]", row, require_writable=True))
    lib.probe_requant32(ffi.from_buffer("int32_t[]", acc), n, m, s, mode, zp, lo, hi, ffi.from_buffer("int32_t[]", scalar, require_writable=True))
    want = requantize(acc, m, s, zp, lo, hi, rounding)
    assert np.array_equal(scalar, want)
    assert np.array_equal(row, want.astype(np.int8))


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1))
def test_rounding_divide(seed: int) -> None:
    rng = _rng(seed)
    d = rng.integers(1, 70000, N, dtype=np.int64)
    acc = rng.integers(-(1 << 40), 1 << 40, N, dtype=np.int64)
    acc[:200] = (d[:200] // 2) * rng.choice([-1, 1], 200) + d[:200] * rng.integers(-3, 4, 200)  # ties both ways
    out = np.zeros(N, np.int64)
    _call("probe_rounding_divide", acc, d, out, extra=(N,))
    assert np.array_equal(out, rounding_divide(acc, d))


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1))
def test_int16_table_lookup(seed: int) -> None:
    rng = _rng(seed)
    table = rng.integers(-32768, 32768, 513).astype(np.int16)
    q = rng.integers(-32768, 32768, N).astype(np.int32)
    q[:2] = [-32768, 32767]
    out = np.zeros(N, np.int32)
    _call("probe_lut16", table, q, out, extra=(N,))
    assert np.array_equal(out, lut_lookup_int16(table, q))


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1))
def test_integer_sqrt_and_bit_length(seed: int) -> None:
    rng = _rng(seed)
    x = rng.integers(0, 1 << 62, N, dtype=np.int64, endpoint=True)
    x[:6] = [0, 1, 2, 3, 1 << 62, (1 << 62) - 1]
    squares = rng.integers(0, 1 << 31, 100, dtype=np.int64)
    x[6:106] = squares * squares - rng.integers(0, 2, 100)
    x = np.maximum(x, 0)
    root, bits = np.zeros(N, np.uint64), np.zeros(N, np.int32)
    xu = x.astype(np.uint64)
    _call("probe_isqrt", xu, root, extra=(N,))
    _call("probe_bit_length", xu, bits, extra=(N,))
    assert np.array_equal(root.astype(np.int64), integer_sqrt(x))
    assert np.array_equal(bits, bit_length(x))


def test_c_activation_ranges_are_the_python_definition() -> None:
    """csrc mirrors qcc.arith: the header's activation ranges are activation_range's, exactly."""
    import re

    from qcc.arith.fixedpoint import activation_range
    from qcc.backends.c.build import csrc_dir

    header = (csrc_dir() / "qcc_arith.h").read_text()
    defines = {m[0]: int(m[1]) for m in re.findall(r"#define (QCC_ACT\d+_M(?:IN|AX)) \(?(-?\d+)\)?", header)}
    for bits in (8, 16):
        assert (defines[f"QCC_ACT{bits}_MIN"], defines[f"QCC_ACT{bits}_MAX"]) == activation_range(bits)
