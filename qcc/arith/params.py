"""Choosing quantization parameters from ranges and weights (docs/arithmetic.md §1).

Activations: int8 asymmetric per tensor in [-128, 127], or int16 symmetric (zp = 0) in
[-32767, 32767]; the range always contains 0 so that zero (padding, ReLU's floor) is exact.
Weights: symmetric, restricted range [-(2^(b-1)-1), 2^(b-1)-1], per output channel or per tensor.
"""

from __future__ import annotations

import numpy as np

from qcc.arith.fixedpoint import activation_range, weight_range
from qcc.ir.types import QuantParams

# The smallest scale qcc uses: a tensor that is constantly zero still needs a valid scale.
MIN_SCALE = 2.0**-24


def activation_params(lo: float, hi: float, bits: int, symmetric: bool | None = None) -> QuantParams:
    """Per-tensor parameters covering [lo, hi] (widened to contain 0). int8 is asymmetric, wider
    widths symmetric, unless ``symmetric`` says otherwise."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    symmetric = bits > 8 if symmetric is None else symmetric
    if symmetric:
        qmax = weight_range(bits)[1]  # the restricted symmetric range, as int16 activations use
        scale = max(max(-lo, hi) / qmax, MIN_SCALE)
        return QuantParams(scale, 0, None, bits)
    qmin, qmax = activation_range(bits)
    scale = max((hi - lo) / (qmax - qmin), MIN_SCALE)
    zp = int(np.clip(round(qmin - lo / scale), qmin, qmax))
    return QuantParams(scale, zp, None, bits)


def params_range(q: QuantParams) -> tuple[float, float]:
    """The real interval a per-tensor activation QuantParams represents."""
    qmin, qmax = activation_range(q.bits)
    scale, zp = q.scale_value(), q.zero_point_value()
    return scale * (qmin - zp), scale * (qmax - zp)


def weight_params(weight: np.ndarray, bits: int, axis: int | None, min_scale: np.ndarray | float = 0.0) -> QuantParams:
    """Symmetric weight parameters: one scale per slice along ``axis`` (per channel) or one for the
    whole tensor (axis None), never below ``min_scale`` (a scalar or one floor per slice)."""
    qmax = weight_range(bits)[1]
    w = np.abs(np.asarray(weight, dtype=np.float64))
    if axis is None:
        floor = float(np.max(min_scale, initial=0.0))
        return QuantParams(max(float(w.max(initial=0.0)) / qmax, MIN_SCALE, floor), 0, None, bits)
    reduce = tuple(i for i in range(w.ndim) if i != axis)
    amax = w.max(axis=reduce, initial=0.0)
    floors = np.broadcast_to(np.asarray(min_scale, dtype=np.float64), amax.shape)
    scales = tuple(max(float(a) / qmax, MIN_SCALE, float(f)) for a, f in zip(amax, floors))
    return QuantParams(scales, 0, axis, bits)


# A quantized bias stays within +-2^30, so the int32 accumulator keeps half its range for the products.
BIAS_LIMIT = 1 << 30


def bias_weight_scale_floor(bias: np.ndarray, input_scale: float) -> np.ndarray:
    """Per-channel weight scales below which ``bias / (input_scale * s_w)`` would not fit
    +-BIAS_LIMIT. An input whose range is tiny next to its layer's bias (a nearly dead activation
    feeding a head with a large bias) needs a coarser weight grid; the products it loses are then
    smaller than 2^-30 of the bias (ONNX Runtime's quantizer widens the weight scale the same way)."""
    return np.abs(np.asarray(bias, dtype=np.float64)) / (float(input_scale) * BIAS_LIMIT)


def quantize_weight_ints(
    weight: np.ndarray, bits: int, axis: int | None, min_scale: np.ndarray | float = 0.0
) -> tuple[np.ndarray, QuantParams, np.ndarray]:
    """Symmetric weight quantization: the integers, their parameters, and the scales shaped to
    broadcast against the weight. Rounds half to even after a float64 division (docs/arithmetic.md §1.2)."""
    q = weight_params(weight, bits, axis, min_scale)
    scale = np.asarray(q.scale, dtype=np.float64)
    if axis is not None:
        shape = [1] * weight.ndim
        shape[axis] = -1
        scale = scale.reshape(shape)
    lo, hi = weight_range(bits)
    ints = np.clip(np.rint(np.asarray(weight, np.float64) / scale), lo, hi).astype(np.int8 if bits <= 8 else np.int16)
    return ints, q, scale
