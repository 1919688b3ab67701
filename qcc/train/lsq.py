"""Learned step size quantization (LSQ, Esser et al., ICLR 2020, arXiv:1902.08153).

Fake quantization whose step size is a trained parameter. The forward pass is qcc's own grid rule
(``qcc.quant.fakequant`` for activations; the symmetric restricted weight range of
``qcc.arith``), so what is trained is what ``quantize`` will compute. The backward pass is the
straight-through estimator for the input (gradient 1 inside the grid, 0 where it clips) and LSQ's
step-size gradient: ``round(v) - v`` inside the grid and the clipping bound outside, scaled by
``1 / sqrt(N * Qp)`` (N elements per step, Qp the largest positive integer level) so step sizes
learn at the pace of the weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from qcc.arith.fixedpoint import activation_range, weight_range
from qcc.ir.types import QuantParams
from qcc.quant.fakequant import fake_quantize


def lsq_grad_scale(elements: int, positive_levels: int) -> float:
    """LSQ's gradient scale for a step size shared by ``elements`` values."""
    return 1.0 / math.sqrt(max(elements, 1) * max(positive_levels, 1))


@dataclass
class ActivationQuantizer:
    """One per-tensor activation grid with a learned step and the calibrated zero point (kept:
    qcc's int8 activations are asymmetric with an integer zero point)."""

    scale: np.ndarray  # 0-d float64, updated in place by the optimizer
    zero_point: int
    bits: int
    elements: int  # values per sample that share the step

    @classmethod
    def from_params(cls, q: QuantParams, elements: int) -> ActivationQuantizer:
        return cls(np.array(q.scale_value(), dtype=np.float64), int(q.zero_point_value()), q.bits, elements)

    def params(self) -> QuantParams:
        return QuantParams(float(self.scale), self.zero_point, None, self.bits)

    def forward(self, x: np.ndarray) -> np.ndarray:
        return fake_quantize(x, self.params())

    def backward(self, x: np.ndarray, dy: np.ndarray) -> tuple[np.ndarray, float]:
        """Gradients with respect to the input and to the step size."""
        qmin, qmax = activation_range(self.bits)
        scale = np.float32(self.scale)
        scaled = x.astype(np.float32) / scale
        level = np.rint(scaled) + self.zero_point
        below, above = level < qmin, level > qmax
        inside = ~(below | above)
        d_level = np.where(inside, np.rint(scaled) - scaled, np.where(below, qmin - self.zero_point, qmax - self.zero_point))
        g = lsq_grad_scale(self.elements, qmax - self.zero_point)
        return dy * inside, float(np.sum(dy * d_level, dtype=np.float64)) * g


@dataclass
class WeightQuantizer:
    """Symmetric per-channel (or per-tensor) weight grid with learned steps.

    ``frozen`` weights keep the integer in ``frozen_ints`` whatever their latent value does
    (iterative freezing, qcc.train.oscillation)."""

    scale: np.ndarray  # one per channel, shaped to broadcast against the weight
    bits: int
    axis: int | None
    frozen: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    frozen_ints: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @classmethod
    def from_params(cls, weight: np.ndarray, q: QuantParams) -> WeightQuantizer:
        """Start from qcc's own weight grid (``qcc.arith.params.weight_params``)."""
        shape = [1] * weight.ndim  # per tensor: one step broadcast over every axis
        if q.axis is not None:
            shape[q.axis] = -1
        scale = np.asarray(q.scale, dtype=np.float64).reshape(shape)
        return cls(scale.copy(), q.bits, q.axis, np.zeros(weight.shape, dtype=bool), np.zeros(weight.shape))

    @property
    def levels(self) -> tuple[int, int]:
        return weight_range(self.bits)

    def scaled(self, w: np.ndarray) -> np.ndarray:
        return w / self.scale

    def ints(self, w: np.ndarray) -> np.ndarray:
        """The integer each weight rounds to (ties to even, as ``quantize`` rounds), frozen ones fixed."""
        lo, hi = self.levels
        ints = np.clip(np.rint(self.scaled(w)), lo, hi)
        return np.where(self.frozen, self.frozen_ints, ints)

    def forward(self, w: np.ndarray) -> np.ndarray:
        return (self.ints(w) * self.scale).astype(w.dtype)

    def backward(self, w: np.ndarray, dy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Gradients with respect to the latent weight and to each channel's step."""
        lo, hi = self.levels
        scaled = self.scaled(w)
        ints = self.ints(w)
        inside = (scaled >= lo) & (scaled <= hi) & ~self.frozen
        d_ints = np.where(inside, ints - scaled, ints)  # clipped and frozen weights: d(s*k)/ds = k
        reduce = tuple(a for a in range(w.ndim) if self.axis is None or a != self.axis)
        per_step = w.size // self.scale.size
        g = lsq_grad_scale(per_step, hi)
        return dy * inside, (dy * d_ints).sum(axis=reduce, keepdims=True) * g

    def keep_representable(self, w: np.ndarray) -> None:
        """Cap each step so the channel's largest latent weight rounds to the top level.

        ``quantize`` derives a channel's step from its largest |weight| (max / Qp); the learned
        grid survives compilation exactly only if that weight sits on +-Qp."""
        _, hi = self.levels
        reduce = tuple(a for a in range(w.ndim) if self.axis is None or a != self.axis)
        largest = np.abs(w).max(axis=reduce, keepdims=True)
        cap = np.where(largest > 0, largest / (hi - 0.49), self.scale)  # not hi - 0.5: a tie rounds to even
        np.minimum(self.scale, cap, out=self.scale)
        np.maximum(self.scale, 1e-12, out=self.scale)

    def export(self, w: np.ndarray) -> np.ndarray:
        """The weight as values on the learned grid (what ``quantize`` turns back into the same integers)."""
        return self.forward(w).astype(np.float32)
