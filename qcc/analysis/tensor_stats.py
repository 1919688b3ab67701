"""Per-tensor statistics that explain quantization error: how wide a tensor is next to its bulk
(the outlier measures of the transformer-outlier literature: kurtosis and max|x|/std), how much of it
a chosen clipping range cuts off, and how well INT8 and each FP8 format represent it.

A uniform-like tensor (kurtosis near 1.8) uses an integer grid evenly; a heavy-tailed one (kurtosis
well above a Gaussian's 3, max|x|/std of 10 or more) leaves most of an integer grid empty, which is
where a float format's logarithmic spacing wins (Kuzmin et al. 2022, arXiv:2208.09225, §4).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qcc.analysis.error import ErrorStats
from qcc.analysis.fp8 import FORMATS, best_bias, quantize_fp8
from qcc.arith.params import quantize_weight_ints

HISTOGRAM_BINS = 64


@dataclass(frozen=True)
class TensorStats:
    """Moments and outlier measures of one tensor, and the fraction outside a clipping range."""

    minimum: float
    maximum: float
    std: float
    kurtosis: float  # Pearson's (a Gaussian's is 3)
    max_over_std: float
    clip_lo: float
    clip_hi: float
    clipped: float  # fraction of values outside [clip_lo, clip_hi]

    def as_dict(self) -> dict[str, float]:
        return {
            "min": self.minimum, "max": self.maximum, "std": self.std, "kurtosis": self.kurtosis,
            "max_abs_over_std": self.max_over_std, "clip_lo": self.clip_lo, "clip_hi": self.clip_hi, "clipped_fraction": self.clipped,
        }


def tensor_stats(x: np.ndarray, clip: tuple[float, float]) -> TensorStats:
    """Statistics of ``x``; ``clip`` is the range the quantizer chose for it."""
    v = np.asarray(x, dtype=np.float64).reshape(-1)
    mean, std = float(v.mean()), float(v.std())
    kurtosis = float(np.mean((v - mean) ** 4) / std**4) if std > 0 else 0.0
    lo, hi = clip
    clipped = float(np.mean((v < lo) | (v > hi)))
    max_over_std = float(np.max(np.abs(v)) / std) if std > 0 else 0.0
    return TensorStats(float(v.min()), float(v.max()), std, kurtosis, max_over_std, float(lo), float(hi), clipped)


def histogram(x: np.ndarray, clip: tuple[float, float], bins: int = HISTOGRAM_BINS) -> dict[str, list[float]]:
    """Counts over the tensor's range widened to include the clipping range (both are drawn)."""
    v = np.asarray(x, dtype=np.float64).reshape(-1)
    lo, hi = min(float(v.min()), clip[0]), max(float(v.max()), clip[1])
    counts, edges = np.histogram(v, bins=bins, range=(lo, hi) if hi > lo else None)
    return {"counts": [int(c) for c in counts], "edges": [float(e) for e in edges]}


def snr_db(x: np.ndarray, represented: np.ndarray) -> float:
    """Signal-to-quantization-noise ratio of one tensor, by the one definition (ErrorStats)."""
    stats = ErrorStats()
    stats.add(np.asarray(x), np.asarray(represented))
    return stats.sqnr_db


def int_snr_db(x: np.ndarray, bits: int = 8, axis: int | None = None) -> float:
    """SNR of ``x`` on qcc's symmetric weight grid (max-abs scale, per tensor or per slice of ``axis``)."""
    ints, _, scale = quantize_weight_ints(np.asarray(x), bits, axis)
    return snr_db(x, ints.astype(np.float64) * scale)


def format_snrs(x: np.ndarray, channel_axis: int | None = None) -> dict[str, dict[str, float]]:
    """SNR (dB) of ``x`` under INT8 per tensor, INT8 per channel (when ``channel_axis`` is given) and
    every FP8 format at its best exponent bias; each entry also says which bias that was."""
    out: dict[str, dict[str, float]] = {"INT8": {"snr_db": int_snr_db(x, 8)}}
    if channel_axis is not None:
        out["INT8-per-channel"] = {"snr_db": int_snr_db(x, 8, channel_axis)}
    for name, fmt in FORMATS.items():
        bias = best_bias(x, fmt)
        out[name] = {"snr_db": snr_db(x, quantize_fp8(x, fmt, bias)), "bias": float(bias)}
    return out


def best_format(snrs: dict[str, dict[str, float]]) -> str:
    """The format with the highest SNR (ties go to the first listed, INT8)."""
    return max(snrs, key=lambda name: snrs[name]["snr_db"])
