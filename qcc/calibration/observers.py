"""Observers: per-tensor statistics gathered while calibration data streams through the float
interpreter, and the range choices made from them.

Each observer keeps a fixed amount of state (exact min/max plus a histogram of ``BINS`` bins), so
memory does not grow with the number of samples. The histogram widens by merging adjacent bin
pairs, which is exact, so no sample is ever re-binned approximately.
"""

from __future__ import annotations

import math

import numpy as np

from qcc.arith.params import activation_params, activation_range, weight_range
from qcc.errors import InputError

BINS = 2048
BIN_CHUNK = 1 << 15
"""Values binned per step: the step's float64 and int64 buffers (512 KiB) stay in cache."""


class HistogramObserver:
    """Exact running min/max and a mergeable histogram of one tensor's values."""

    def __init__(self, bins: int = BINS, histogram: bool = True, what: str = "a tensor") -> None:
        self.bins = bins
        self.what = what  # how errors name the observed tensor
        self.histogram = histogram  # minmax needs none; skipping it makes calibration ~2x faster
        self.min = math.inf
        self.max = -math.inf
        self.lo = 0.0
        self.width = 0.0
        self.counts = np.zeros(bins, np.int64)
        self.samples = 0

    def update(self, array: np.ndarray) -> None:
        x = np.asarray(array, dtype=np.float32).reshape(-1)
        if x.size == 0:
            return
        self.samples += 1
        mn, mx = float(x.min()), float(x.max())
        if not (math.isfinite(mn) and math.isfinite(mx)):  # min/max propagate NaN, so this sees every value
            # no range can be chosen, and an infinite span would never stop widening the histogram
            bad = "NaN" if math.isnan(mn) or math.isnan(mx) else "Inf"
            raise InputError(f"calibration: {self.what} reached {bad} (float32 overflow) on the calibration data; check its scale")
        if not self.histogram:
            self.min, self.max = min(self.min, mn), max(self.max, mx)
            return
        if self.width == 0.0:
            span = mx - mn
            self.lo = mn
            self.width = span / self.bins if span > 0 else max(abs(mn), 1.0) * 2.0**-20
        else:
            self._cover(mn, mx)
        self.min, self.max = min(self.min, mn), max(self.max, mx)
        chunk = min(x.size, BIN_CHUNK)
        scratch = np.empty(chunk, np.float64), np.empty(chunk, np.int64)
        for start in range(0, x.size, BIN_CHUNK):
            self.counts += np.bincount(self._bin_indices(x[start : start + BIN_CHUNK], scratch), minlength=self.bins)

    def _bin_indices(self, x: np.ndarray, scratch: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """floor((x - lo) / width) in float64, clamped to the bins. Clamping to [0, bins - 1]
        first and then truncating gives the same indices as floor then clamp (truncation is floor
        on non-negative values; every value is finite). Worked in place in ``scratch`` (float64
        and int64 buffers of at least x.size): with ``BIN_CHUNK`` values per call they stay in
        cache, which halves the time of calibration's hot loop against whole-tensor temporaries."""
        t, idx = (buffer[: x.size] for buffer in scratch) if scratch is not None else (np.empty(x.size), np.empty(x.size, np.int64))
        np.subtract(x, self.lo, out=t, dtype=np.float64)
        t /= self.width
        np.clip(t, 0, self.bins - 1, out=t)
        np.copyto(idx, t, casting="unsafe")  # truncation toward zero
        return idx

    def update_batch(self, batch: np.ndarray, count: int) -> None:
        """``count`` samples stacked on axis 0, in order: the same state as ``update`` with each
        in turn. Min/max take the batch at once; the histogram goes sample by sample, because its
        bins follow the first sample's range."""
        if not self.histogram:
            self.update(batch)
            self.samples += count - 1
            return
        rows = batch.shape[0] // count
        for i in range(count):
            self.update(batch[i * rows : (i + 1) * rows])

    def _cover(self, mn: float, mx: float) -> None:
        """Double the bin width (merging pairs) until [mn, mx] lies inside the histogram."""
        while mn < self.lo or mx >= self.lo + self.width * self.bins:
            merged = self.counts.reshape(-1, 2).sum(axis=1)
            half = self.bins // 2
            self.counts = np.zeros(self.bins, np.int64)
            if mn < self.lo:  # grow to the left: old content goes to the right half
                self.counts[half:] = merged
                self.lo -= self.width * self.bins
            else:
                self.counts[:half] = merged
            self.width *= 2

    @property
    def centers(self) -> np.ndarray:
        return self.lo + (np.arange(self.bins) + 0.5) * self.width

    # ---- range choices -----------------------------------------------------------------------

    def minmax(self) -> tuple[float, float]:
        return self.min, self.max

    def percentile(self, p: float) -> tuple[float, float]:
        """Clip the (100 - p)% tails on each side (interpolated within bins)."""
        cdf = np.cumsum(self.counts) / max(self.counts.sum(), 1)
        edges = self.lo + np.arange(self.bins + 1) * self.width

        def at(q: float) -> float:
            i = int(np.searchsorted(cdf, q))
            i = min(i, self.bins - 1)
            prev = cdf[i - 1] if i > 0 else 0.0
            frac = (q - prev) / (cdf[i] - prev) if cdf[i] > prev else 0.0
            return float(edges[i] + frac * self.width)

        tail = (100.0 - p) / 100.0
        lo = max(self.min, at(tail)) if self.min < 0 else self.min
        hi = min(self.max, at(1.0 - tail))
        return lo, max(hi, lo)

    def mse(self, bits: int, symmetric: bool, candidates: int = 100) -> tuple[float, float]:
        """The clipping range, among shrunk versions of [min, max], that minimizes the expected
        squared error of quantizing the observed distribution to ``bits``."""
        c, n = self.centers, self.counts.astype(np.float64)
        keep = n > 0
        c, n = c[keep], n[keep]
        best, best_err = self.minmax(), math.inf
        for alpha in np.linspace(1.0 / candidates, 1.0, candidates):
            lo, hi = min(self.min * alpha, 0.0), max(self.max * alpha, 0.0)
            err = float(np.sum(n * (c - fake_quantize(c, lo, hi, bits, symmetric)) ** 2))
            if err < best_err:
                best, best_err = (lo, hi), err
        return best

    def entropy(self, bits: int) -> tuple[float, float]:
        """TensorRT's KL-divergence calibration on the |x| histogram: the threshold T minimizing
        KL(P || Q), where P is the distribution clipped at T and Q its quantization to
        2^(bits-1) levels (Migacz, "8-bit Inference with TensorRT", GTC 2017)."""
        amax = max(abs(self.min), abs(self.max))
        if amax == 0.0:
            return 0.0, 0.0
        hist, _ = np.histogram(np.abs(self.centers), bins=self.bins, range=(0.0, amax), weights=self.counts)
        # Zero is exact at every threshold; left in, the spike ReLU outputs have at 0 dominates the
        # divergence and drives the threshold far below the bulk of the distribution.
        hist[0] = 0.0
        levels = 2 ** (bits - 1)
        best_t, best_kl = amax, math.inf
        candidates = [*range(levels, self.bins, max(1, (self.bins - levels) // 256)), self.bins]  # no clipping is a candidate too
        for i in candidates:
            p = hist[:i].astype(np.float64).copy()
            p[-1] += hist[i:].sum()
            q = _quantized_distribution(hist[:i].astype(np.float64), levels)
            kl = _kl(p, q)
            if kl < best_kl:
                best_kl, best_t = kl, (i / self.bins) * amax
        return max(self.min, -best_t), min(self.max, best_t)


def _quantized_distribution(p: np.ndarray, levels: int) -> np.ndarray:
    """Merge p's bins into ``levels`` groups and spread each group's mass back over the group's
    non-empty bins."""
    groups = np.array_split(np.arange(p.size), levels)
    q = np.zeros_like(p)
    for g in groups:
        nonzero = p[g] > 0
        if nonzero.any():
            q[g[nonzero]] = p[g].sum() / nonzero.sum()
    return q


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    p = p / p.sum()
    q = q / max(q.sum(), 1e-30)
    mask = p > 0
    return float(np.sum(p[mask] * np.log(p[mask] / np.maximum(q[mask], 1e-12))))


def fake_quantize(x: np.ndarray, lo: float, hi: float, bits: int, symmetric: bool) -> np.ndarray:
    """Quantize-dequantize with the parameters the range [lo, hi] gives (for the MSE search)."""
    q = activation_params(lo, hi, bits, symmetric=symmetric)
    qmin, qmax = weight_range(bits) if symmetric else activation_range(bits)
    scale, zp = q.scale_value(), q.zero_point_value()
    return (np.clip(np.rint(x / scale) + zp, qmin, qmax) - zp) * scale
