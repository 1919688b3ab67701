"""qcc's integer arithmetic, defined once (spelled out in docs/arithmetic.md).

Why this module exists: the numpy reference executor, the quantize passes and the generated C
kernels must agree bit for bit on every rounding step. Each rule is written here exactly once,
vectorized over numpy ``int64`` arrays (Python ints and numpy scalars work too), with no float
arithmetic at run time. Float math appears only where §5 says "offline": turning a real scale
into a ``(multiplier, shift)`` pair and quantizing float tensors.

The run-time helpers compute in ``int64`` and return ``int64`` arrays (0-d for scalar inputs);
callers cast to the storage type. Intermediate values are exact: where the C reference
(gemmlowp / TFLite) would overflow or hit undefined behaviour, these helpers either raise or, where
qcc's definition is deliberately wider (the scaled value before the output clamp), keep the exact
int64 value; they never wrap. Two kinds of error:

* ``qcc.errors.IRError`` — a bad *parameter* (a negative real scale, a shift or multiplier out
  of range, an unknown rounding mode): something a node's attributes should never carry.
* ``OverflowError`` — a *data* precondition the pass was supposed to prove (an accumulator too
  large for the rule, ``acc * 2^shift`` overflowing int32). Hitting it is a bug in qcc.

Sources (semantics only; no code copied): gemmlowp ``fixedpoint/fixedpoint.h``
(SaturatingRoundingDoublingHighMul, RoundingDivideByPOT); TensorFlow Lite
``kernels/internal/quantization_util.cc`` (QuantizeMultiplier) and ``kernels/internal/common.cc``
(MultiplyByQuantizedMultiplier, both the TFLITE_SINGLE_ROUNDING and the double-rounding build,
int32 and int64 overloads); ``kernels/internal/reference/integer_ops/pooling.h`` (average-pool
rounding); ``kernels/add.cc`` (Add/Sub rescaling); ONNX QuantizeLinear / DequantizeLinear.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from qcc.errors import InputError, IRError
from qcc.ir.types import ROUNDINGS

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1
INT64_MAX = (1 << 63) - 1

ROUNDING_MODES = ROUNDINGS
"""The two 32-bit requantization rules a target may choose (docs/arithmetic.md §2.3)."""

SHIFT_MIN, SHIFT_MAX = -31, 30
"""Range of ``shift`` accepted by the 32-bit rules (TFLite single rounding; also keeps the double
rule's ``1 << max(shift, 0)`` a valid int32)."""

INT64_RULE_SHIFT_MAX = 7
"""TFLite's int64 overload asserts ``shift < 8``."""

INT64_RULE_ACC_LIMIT = 1 << 47
"""The int64 rule needs ``-2^47 <= acc < 2^47`` (TFLite common.cc)."""

IntLike = Any  # an int, a numpy integer scalar or an integer ndarray


# --------------------------------------------------------------------------- input checking


def as_int64(x: IntLike, name: str) -> np.ndarray:
    """``x`` as an int64 array; refuses floats and bools (an implicit float->int cast would hide
    a bug) and integers that int64 cannot hold."""
    a = np.asarray(x)
    if a.dtype == object:  # Python ints beyond int64
        raise OverflowError(f"{name} does not fit in int64")
    if a.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an integer array or scalar, got dtype {a.dtype}")
    if a.dtype.kind == "u" and a.dtype.itemsize == 8 and a.size and int(a.max()) > INT64_MAX:
        raise OverflowError(f"{name} does not fit in int64")
    return a.astype(np.int64, copy=False)


def check_range(a: np.ndarray, lo: int, hi: int, what: str, error: type[Exception]) -> None:
    """Raise ``error`` naming ``what`` unless every element of ``a`` lies in ``[lo, hi]``."""
    if a.size and (int(a.min()) < lo or int(a.max()) > hi):
        raise error(f"{what} must lie in [{lo}, {hi}], got values in [{int(a.min())}, {int(a.max())}]")


def _check_rounding(rounding: str) -> None:
    if rounding not in ROUNDING_MODES:
        raise IRError(f"unknown rounding mode {rounding!r}; expected one of {', '.join(ROUNDING_MODES)}")


def _check_multiplier(m: np.ndarray) -> None:
    check_range(m, 0, INT32_MAX, "quantized multiplier", IRError)


# --------------------------------------------------------------------------- offline: real -> (multiplier, shift)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """Split a non-negative real multiplier ``M`` into ``(multiplier, shift)`` with
    ``M ≈ multiplier * 2^(shift - 31)`` (TFLite ``QuantizeMultiplier``, quantization_util.cc).

    ``M = m * 2^e`` with ``m ∈ [0.5, 1)`` (frexp); ``multiplier = round(m * 2^31)`` with ties
    away from zero (C ``round``); if that is ``2^31``, halve it and add 1 to ``e``; ``shift = e``;
    if ``shift < -31`` both become 0 (flush to zero). ``M == 0`` gives ``(0, 0)``. The result is
    ``multiplier ∈ {0} ∪ [2^30, 2^31 - 1]``; ``shift`` is not clamped (the rules that consume it
    check their own range). Exact: ``m * 2^31`` is a power-of-two scaling of a double.
    """
    r = float(real)
    if not math.isfinite(r) or r < 0.0:
        raise IRError(f"cannot quantize the real multiplier {real!r}: it must be finite and >= 0")
    if r == 0.0:
        return 0, 0
    m, e = math.frexp(r)
    scaled = m * 2.0**31  # exact; in [2^30, 2^31)
    q = math.floor(scaled)
    if scaled - q >= 0.5:  # exact subtraction; ties go up = away from zero (scaled > 0)
        q += 1
    if q == 1 << 31:
        q //= 2
        e += 1
    if e < -31:
        return 0, 0
    return q, e


def quantize_multipliers(reals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel :func:`quantize_multiplier`: int32 ``multipliers`` and ``shifts`` of the shape
    of ``reals`` (element by element, so the rule exists once)."""
    flat = np.asarray(reals, dtype=np.float64)
    pairs = [quantize_multiplier(float(r)) for r in flat.ravel()]
    for _, s in pairs:
        if not INT32_MIN <= s <= INT32_MAX:
            raise IRError(f"real multiplier too large: shift {s} does not fit int32")
    mult = np.array([p[0] for p in pairs], dtype=np.int32).reshape(flat.shape)
    shift = np.array([p[1] for p in pairs], dtype=np.int32).reshape(flat.shape)
    return mult, shift


# --------------------------------------------------------------------------- gemmlowp primitives


def saturating_rounding_doubling_high_mul(a: IntLike, b: IntLike) -> np.ndarray:
    """gemmlowp ``SaturatingRoundingDoublingHighMul`` on int32 values (ARM ``VQRDMULH``).

    ``floor((a*b + 2^30) / 2^31)`` — round to nearest, ties toward +inf — except
    ``INT32_MIN * INT32_MIN``, which saturates to ``INT32_MAX``. gemmlowp writes it as
    ``(ab + nudge) / 2^31`` with C truncating division and ``nudge = ab >= 0 ? 2^30 : 1 - 2^30``;
    that equals the floor form for every product (docs/arithmetic.md proves it, the tests check
    it against a literal transcription).
    """
    a, b = as_int64(a, "a"), as_int64(b, "b")
    check_range(a, INT32_MIN, INT32_MAX, "SRDHM operand a", OverflowError)
    check_range(b, INT32_MIN, INT32_MAX, "SRDHM operand b", OverflowError)
    ab = a * b  # |ab| <= 2^62: exact
    high = (ab + (1 << 30)) >> 31  # arithmetic shift = floor division by 2^31
    overflow = (a == INT32_MIN) & (b == INT32_MIN)
    return np.asarray(np.where(overflow, INT32_MAX, high), dtype=np.int64)


def rounding_divide_by_pot(x: IntLike, exponent: IntLike) -> np.ndarray:
    """gemmlowp ``RoundingDivideByPOT``: ``x / 2^exponent`` rounded to nearest, ties away from
    zero; ``exponent ∈ [0, 31]`` (may be an array that broadcasts against ``x``).

    ``(x >> e) + ((x & mask) > (mask >> 1) + (x < 0))`` with ``mask = 2^e - 1``. Defined here on
    any int64 ``x``; gemmlowp and the 32-bit rules apply it to int32 values.
    """
    x, e = as_int64(x, "x"), as_int64(exponent, "exponent")
    check_range(e, 0, 31, "RoundingDivideByPOT exponent", IRError)
    mask = np.left_shift(np.int64(1), e) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return np.asarray((x >> e) + (remainder > threshold), dtype=np.int64)


# --------------------------------------------------------------------------- requantization


def multiply_by_quantized_multiplier(acc: IntLike, multiplier: IntLike, shift: IntLike, rounding: str) -> np.ndarray:
    """``acc * multiplier * 2^(shift - 31)`` rounded, for an int32 accumulator (TFLite
    ``MultiplyByQuantizedMultiplier``, common.cc).

    * ``"double"``: ``x = acc * 2^max(shift, 0)`` (must fit int32, else ``OverflowError``), then
      :func:`saturating_rounding_doubling_high_mul` ``(x, multiplier)``, then
      :func:`rounding_divide_by_pot` by ``max(-shift, 0)``.
    * ``"single"`` (``TFLITE_SINGLE_ROUNDING``): with ``t = 31 - shift``,
      ``(acc * multiplier + 2^(t-1)) >> t`` in int64 — exact rounding, ties toward +inf.

    ``multiplier ∈ [0, 2^31-1]``, ``shift ∈ [-31, 30]`` in both modes. Per-channel use:
    ``multiplier`` and ``shift`` are arrays that broadcast against ``acc`` (numpy rules; e.g. for
    NCHW give them shape ``(C, 1, 1)``). The result is exact in int64 and not narrowed: it may lie
    outside int32 in single mode, and the output stage clamps it (docs/arithmetic.md).
    """
    _check_rounding(rounding)
    acc, m, s = as_int64(acc, "acc"), as_int64(multiplier, "multiplier"), as_int64(shift, "shift")
    _check_multiplier(m)
    check_range(s, SHIFT_MIN, SHIFT_MAX, "requantization shift", IRError)
    check_range(acc, INT32_MIN, INT32_MAX, "32-bit accumulator", OverflowError)
    if rounding == "double":
        x = acc << np.maximum(s, 0)  # |acc| <= 2^31, shift <= 30: exact in int64
        if x.size and (int(x.min()) < INT32_MIN or int(x.max()) > INT32_MAX):
            raise OverflowError(
                "acc * 2^shift overflows int32 in double-rounding requantization; "
                "the pass must prove left_shift_fits(acc_bound, shift)"
            )
        return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(x, m), np.maximum(-s, 0))
    total = 31 - s  # in [1, 62]; |acc * m| < 2^62 and the nudge <= 2^61: no int64 overflow
    return np.asarray((acc * m + np.left_shift(np.int64(1), total - 1)) >> total, dtype=np.int64)


def multiply_by_quantized_multiplier_int64(acc: IntLike, multiplier: IntLike, shift: IntLike) -> np.ndarray:
    """TFLite's int64-accumulator ``MultiplyByQuantizedMultiplier`` (common.cc, same formula in the
    single- and double-rounding builds), for int16 activations.

    ``m15 = multiplier < 0x7FFF0000 ? (multiplier + 2^15) >> 16 : 0x7FFF`` (the multiplier rounded
    to 15 fraction bits, saturated), ``t = 15 - shift``, result ``(acc * m15 + 2^(t-1)) >> t`` —
    ties toward +inf. Requires ``-2^47 <= acc < 2^47`` (``OverflowError`` otherwise),
    ``multiplier ∈ [0, 2^31-1]``, ``shift ∈ [-31, 7]``. Broadcasting as in
    :func:`multiply_by_quantized_multiplier`.
    """
    acc, m, s = as_int64(acc, "acc"), as_int64(multiplier, "multiplier"), as_int64(shift, "shift")
    _check_multiplier(m)
    check_range(s, SHIFT_MIN, INT64_RULE_SHIFT_MAX, "int64-rule shift", IRError)
    check_range(acc, -INT64_RULE_ACC_LIMIT, INT64_RULE_ACC_LIMIT - 1, "64-bit accumulator", OverflowError)
    m15 = np.where(m < 0x7FFF0000, (m + (1 << 15)) >> 16, 0x7FFF)
    total = 15 - s  # in [8, 46]; |acc * m15| < 2^62
    return np.asarray((acc * m15 + np.left_shift(np.int64(1), total - 1)) >> total, dtype=np.int64)


def requantize(
    acc: IntLike,
    multiplier: IntLike,
    shift: IntLike,
    out_zp: IntLike,
    act_min: int,
    act_max: int,
    rounding: str,
    acc_bits: int = 32,
) -> np.ndarray:
    """The output stage of every accumulating op: scale ``acc``, add the output zero point and
    clamp to ``[act_min, act_max]`` (a fused ReLU/ReLU6/Clip narrows these bounds).

    ``acc_bits == 32`` uses :func:`multiply_by_quantized_multiplier` with ``rounding``;
    ``acc_bits == 64`` uses :func:`multiply_by_quantized_multiplier_int64` in either mode
    (``rounding`` is still validated). The zero point is added to the exact int64 value before
    the clamp (no int32 wrap). Returns int64; the caller casts to the storage type.
    """
    _check_rounding(rounding)
    if acc_bits == 32:
        scaled = multiply_by_quantized_multiplier(acc, multiplier, shift, rounding)
    elif acc_bits == 64:
        scaled = multiply_by_quantized_multiplier_int64(acc, multiplier, shift)
    else:
        raise IRError(f"accumulator width must be 32 or 64 bits, got {acc_bits}")
    if act_min > act_max:
        raise IRError(f"empty activation range [{act_min}, {act_max}]")
    return np.asarray(np.clip(scaled + as_int64(out_zp, "out_zp"), act_min, act_max), dtype=np.int64)


# --------------------------------------------------------------------------- other rounding divisions


def rounding_divide(acc: IntLike, n: IntLike) -> np.ndarray:
    """Average-pool / mean division (TFLite ``integer_ops/pooling.h``, CMSIS-NN):
    ``acc > 0 ? (acc + n/2) / n : (acc - n/2) / n`` with C truncating division and ``n/2`` an
    integer division — ``acc / n`` rounded to nearest, ties away from zero.

    ``n >= 1`` may be an array (per-window element counts) broadcasting against ``acc``;
    ``|acc| <= 2^62``.
    """
    acc, n = as_int64(acc, "acc"), as_int64(n, "n")
    check_range(n, 1, INT64_MAX, "divisor n", IRError)
    check_range(acc, -(1 << 62), 1 << 62, "dividend", OverflowError)
    half = n // 2
    # Both operands of each division are non-negative there, so floor == C truncation.
    up = (acc + half) // n
    down = -((half - acc) // n)
    return np.asarray(np.where(acc > 0, up, down), dtype=np.int64)


def bit_length(x: IntLike) -> np.ndarray:
    """Number of bits of each non-negative int64 ``x`` (0 for 0), like ``int.bit_length``; integer
    ops only (a binary search with shifts)."""
    x = as_int64(x, "x")
    check_range(x, 0, INT64_MAX, "bit_length operand", OverflowError)
    n = np.zeros_like(x)
    rest = x.copy()
    for step in (32, 16, 8, 4, 2, 1):
        big = rest >= (np.int64(1) << step)
        n = n + np.where(big, step, 0)
        rest = np.where(big, rest >> step, rest)
    return np.asarray(n + (rest > 0), dtype=np.int64)


def integer_sqrt(x: IntLike) -> np.ndarray:
    """``floor(sqrt(x))`` for every non-negative int64 ``x``, exactly, by integer Newton iteration from above
    (start ``2^ceil(bits/2) >= sqrt(x)``; the iterates decrease to the floor root). Any exact
    method is conforming (docs/arithmetic.md, layer normalization)."""
    x = as_int64(x, "x")
    check_range(x, 0, INT64_MAX, "integer_sqrt operand", OverflowError)  # iterates stay below 2^33
    r = np.left_shift(np.int64(1), (bit_length(x) + 1) >> 1)
    safe = np.maximum(x, 1)
    while True:
        nxt = np.minimum(r, (r + safe // r) >> 1)
        if np.array_equal(nxt, r):
            break
        r = nxt
    return np.asarray(np.where(x == 0, 0, r), dtype=np.int64)


# --------------------------------------------------------------------------- float boundary (offline / I/O helpers)


def quantize_real(
    x: Any,
    scale: Any,
    zero_point: IntLike,
    qmin: int,
    qmax: int,
    *,
    dtype: type[np.floating] = np.float32,
) -> np.ndarray:
    """ONNX QuantizeLinear: ``clamp(round_half_even(x / scale) + zero_point, qmin, qmax)``.

    By default ``x`` and ``scale`` are cast to float32 and divided in float32, then rounded with
    ``np.rint`` (ties to even) — exactly what the C boundary helper does with ``nearbyintf`` and
    what the ONNX reference does for float32 tensors. ``dtype=np.float64`` is for offline
    quantization whose targets exceed float32's 24-bit mantissa (int32 biases). Clamping happens
    in the float domain before the integer conversion (so ``±inf`` and huge values saturate),
    which equals clamping after adding the zero point. ``scale`` / ``zero_point`` broadcast
    against ``x`` (per-channel). NaN raises ``InputError``. Returns int64.
    """
    if dtype not in (np.float32, np.float64):
        raise IRError(f"quantize_real computes in float32 or float64, not {dtype}")
    xf = np.asarray(x, dtype=dtype)
    sf = np.asarray(scale, dtype=dtype)
    if sf.size and not (np.all(np.isfinite(sf)) and np.all(sf > 0)):
        raise IRError(f"quantization scale must be finite and > 0, got {scale!r}")
    if np.isnan(xf).any():
        raise InputError("cannot quantize NaN")
    zp = as_int64(zero_point, "zero_point")
    if qmin > qmax:
        raise IRError(f"empty quantized range [{qmin}, {qmax}]")
    with np.errstate(over="ignore"):  # x / tiny scale -> inf, saturated by the clamp below
        v = np.rint(xf / sf)
    v = np.clip(v, qmin - zp, qmax - zp)  # bounds are small integers: exact in either float type
    return np.asarray(v.astype(np.int64) + zp, dtype=np.int64)


def dequantize(q: IntLike, scale: Any, zero_point: IntLike) -> np.ndarray:
    """ONNX DequantizeLinear: ``(q - zero_point) * scale`` as float32. The difference is taken in
    int64 (exact), converted to float32, then multiplied by ``float32(scale)``."""
    d = as_int64(q, "q") - as_int64(zero_point, "zero_point")
    return np.asarray(d.astype(np.float32) * np.asarray(scale, dtype=np.float32), dtype=np.float32)


# --------------------------------------------------------------------------- ranges


def weight_range(bits: int) -> tuple[int, int]:
    """Symmetric restricted weight range ``[-(2^(b-1)-1), 2^(b-1)-1]`` (qcc uses b ∈ {4, 8}, docs/arithmetic.md §0)."""
    if not 2 <= bits <= 16:
        raise IRError(f"weight bit width must be in [2, 16], got {bits}")
    hi = (1 << (bits - 1)) - 1
    return -hi, hi


NARROW_ACTIVATION_BITS = range(2, 8)
"""Activation widths below 8: int8 storage on a smaller asymmetric grid (docs/arithmetic.md §3.19)."""


def activation_range(bits: int) -> tuple[int, int]:
    """int8 asymmetric ``[-128, 127]``; b-bit (b in 2..7) asymmetric ``[-2^(b-1), 2^(b-1)-1]``, stored
    in int8; int16 symmetric ``[-32767, 32767]`` (zp = 0)."""
    if bits == 16:
        return -32767, 32767
    if bits == 8 or bits in NARROW_ACTIVATION_BITS:
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    raise IRError(f"activation bit width must be 2..8 or 16, got {bits}")


def add_left_shift(bits: int) -> int:
    """Headroom shift of Add/Sub inputs: 20 for int8 and narrower grids (stored in int8), 15 for
    int16 (TFLite ``add.cc``)."""
    activation_range(bits)  # refuses widths qcc has no activations of
    return 15 if bits == 16 else 20


@dataclass(frozen=True)
class AddRescale:
    """The integers an Add/Sub of two quantized activations needs (TFLite ``add.cc``):
    each input ``(q_i - zp_i) << left_shift`` is scaled by ``(multiplier_i, shift_i)`` for
    ``s_i / (2 max(s_a, s_b))``; the sum is requantized with ``(multiplier_out, shift_out)`` for
    ``2 max(s_a, s_b) / (2^left_shift * s_out)``."""

    left_shift: int
    multiplier_a: int
    shift_a: int
    multiplier_b: int
    shift_b: int
    multiplier_out: int
    shift_out: int


def add_rescale(scale_a: float, scale_b: float, scale_out: float, bits: int) -> AddRescale:
    """Offline parameters of Add/Sub (docs/arithmetic.md §3.3)."""
    for name, s in (("scale_a", scale_a), ("scale_b", scale_b), ("scale_out", scale_out)):
        if not (math.isfinite(s) and s > 0):
            raise IRError(f"add: {name} must be finite and > 0, got {s!r}")
    left = add_left_shift(bits)
    twice_max = 2.0 * max(scale_a, scale_b)
    ma, sa = quantize_multiplier(scale_a / twice_max)
    mb, sb = quantize_multiplier(scale_b / twice_max)
    mo, so = quantize_multiplier(twice_max / ((1 << left) * scale_out))
    return AddRescale(left, ma, sa, mb, sb, mo, so)


# --------------------------------------------------------------------------- overflow proofs (exact, Python ints)


def layer_norm_total_bound(n: int, eps: int) -> int:
    """Worst case of layer norm's ``T = V + eps`` (docs/arithmetic.md §3.10) for rows of ``n`` int8
    values: ``V = N^2 Σ (d_i - mean)^2 <= N^3 * 255^2 / 4`` (a variance of values spread over 255 is
    at most 255^2 / 4). The integer kernels hold T in int64, so a row is lowered only if this is
    ``<= 2^63 - 1``: about 82,000 elements with eps 0, 75,000 with the largest eps 2^60."""
    if int(n) != n or n < 1 or int(eps) != eps or eps < 0:
        raise IRError(f"layer norm needs n >= 1 and eps >= 0, got n={n!r} eps={eps!r}")
    return int(n) ** 3 * 255**2 // 4 + int(eps)


def accumulator_bound(max_abs_input: int, max_abs_weight: int, reduction_length: int, bias_max_abs: int = 0) -> int:
    """Worst-case ``|acc|`` of ``bias + Σ_{k<K} x_k w_k`` with ``|x_k| <= max_abs_input``
    (for int8 asymmetric inputs that is ``max |q - zp|``, up to 255), ``|w_k| <= max_abs_weight``.
    It also bounds every partial sum, in any summation order."""
    for name, v in (
        ("max_abs_input", max_abs_input),
        ("max_abs_weight", max_abs_weight),
        ("reduction_length", reduction_length),
        ("bias_max_abs", bias_max_abs),
    ):
        if int(v) != v or v < 0:
            raise IRError(f"{name} must be a non-negative integer, got {v!r}")
    return int(max_abs_input) * int(max_abs_weight) * int(reduction_length) + int(bias_max_abs)


def accumulator_fits_int32(max_abs_input: int, max_abs_weight: int, reduction_length: int, bias_max_abs: int = 0) -> bool:
    """Whether an int32 accumulator provably cannot overflow: ``accumulator_bound <= 2^31 - 1``."""
    return accumulator_bound(max_abs_input, max_abs_weight, reduction_length, bias_max_abs) <= INT32_MAX


def accumulator_fits_int64_rule(acc_bound: int) -> bool:
    """Whether ``|acc| <= acc_bound`` satisfies the int64 rule's ``|acc| < 2^47``."""
    if int(acc_bound) != acc_bound or acc_bound < 0:
        raise IRError(f"acc_bound must be a non-negative integer, got {acc_bound!r}")
    return int(acc_bound) < INT64_RULE_ACC_LIMIT


def left_shift_fits(acc_bound: int, shift: int) -> bool:
    """The double rule's precondition: ``|acc| <= acc_bound`` implies ``acc * 2^max(shift, 0)``
    fits int32 (``acc_bound * 2^max(shift, 0) <= 2^31 - 1``; the negative side follows)."""
    if int(acc_bound) != acc_bound or acc_bound < 0:
        raise IRError(f"acc_bound must be a non-negative integer, got {acc_bound!r}")
    return int(acc_bound) << max(int(shift), 0) <= INT32_MAX
