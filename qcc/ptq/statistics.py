"""The batch-norm statistics fold-batchnorm leaves on a weight layer, and the moments of a
normal distribution after a clamp.

A batch_norm normalizes its input to per-channel mean beta and standard deviation |gamma|, so after
folding, the layer's pre-activation output is modelled as N(beta, gamma^2) per channel (DFQ §4.2,
Nagel et al. 2019, arXiv:1906.04721). fold-batchnorm records gamma and beta on the layer as the
attributes `bn_gamma` and `bn_beta`; equalize rescales them with the channels, absorb-high-bias
shifts the mean, and correct-bias{mode=analytic} turns them into expected inputs.
"""

from __future__ import annotations

import math

import numpy as np

from qcc.ir.core import Node

_erf = np.vectorize(math.erf, otypes=[np.float64])


def bn_stats(node: Node) -> tuple[np.ndarray, np.ndarray] | None:
    """(mean, std) of the layer's pre-activation output per channel, float64, or None."""
    if "bn_gamma" not in node.attrs:
        return None
    gamma = np.asarray(node.attr("bn_gamma").array, dtype=np.float64)
    if gamma.size == 0:
        return None
    beta = np.asarray(node.attr("bn_beta").array, dtype=np.float64)
    return beta, np.abs(gamma)


def has_bn_stats(node: Node) -> bool:
    return bn_stats(node) is not None


def scale_bn_stats(node: Node, factor: np.ndarray) -> None:
    """The output channels were multiplied by ``factor`` (> 0): so are mean and std."""
    if not has_bn_stats(node):
        return
    gamma = np.asarray(node.attr("bn_gamma").array, dtype=np.float64)
    beta = np.asarray(node.attr("bn_beta").array, dtype=np.float64)
    node.set_attr("bn_gamma", (gamma * factor).astype(np.float32))
    node.set_attr("bn_beta", (beta * factor).astype(np.float32))


def shift_bn_mean(node: Node, delta: np.ndarray) -> None:
    """The output channels were shifted by ``delta``: so is the mean."""
    if not has_bn_stats(node):
        return
    beta = np.asarray(node.attr("bn_beta").array, dtype=np.float64)
    node.set_attr("bn_beta", (beta + delta).astype(np.float32))


def _phi(z: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)


def _cdf(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + _erf(z / math.sqrt(2.0)))


def clipped_normal_mean(mean: np.ndarray, std: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """E[clip(x, lo, hi)] for x ~ N(mean, std^2), per channel.

    With a = (lo - mean)/std and b = (hi - mean)/std:
    E = lo*Phi(a) + hi*(1 - Phi(b)) + mean*(Phi(b) - Phi(a)) + std*(phi(a) - phi(b)),
    the clipped-normal mean DFQ uses for ReLU (§4.2, lo = 0, hi = inf) extended to both bounds;
    infinite bounds drop their terms. std = 0 gives clip(mean, lo, hi)."""
    mean = np.asarray(mean, dtype=np.float64)
    std = np.asarray(std, dtype=np.float64)
    out = np.clip(mean, lo, hi)
    live = std > 0
    if not np.any(live):
        return out
    m, s = mean[live], std[live]
    with np.errstate(over="ignore", under="ignore"):
        out[live] = _clipped(m, s, lo, hi)
    return out


def _clipped(m: np.ndarray, s: np.ndarray, lo: float, hi: float) -> np.ndarray:
    a = (lo - m) / s if math.isfinite(lo) else np.full_like(m, -np.inf)
    b = (hi - m) / s if math.isfinite(hi) else np.full_like(m, np.inf)
    cdf_a = _cdf(a) if math.isfinite(lo) else np.zeros_like(m)
    cdf_b = _cdf(b) if math.isfinite(hi) else np.ones_like(m)
    pdf_a = _phi(a) if math.isfinite(lo) else np.zeros_like(m)
    pdf_b = _phi(b) if math.isfinite(hi) else np.zeros_like(m)
    e = m * (cdf_b - cdf_a) + s * (pdf_a - pdf_b)
    if math.isfinite(lo):
        e = e + lo * cdf_a
    if math.isfinite(hi):
        e = e + hi * (1.0 - cdf_b)
    return e
