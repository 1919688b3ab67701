"""The expected value of an activation per channel, from batch-norm statistics alone (no data).

DFQ's analytic bias correction (Nagel et al. 2019, arXiv:1906.04721, §4.2) needs E[x] for a
layer's input x. Where x is a layer's output with recorded batch-norm statistics, its
pre-activation is N(beta, gamma^2) per channel and the activation (ReLU, ReLU6, any clamp; fused or
a separate node) makes it a clipped normal with a closed-form mean. Expectations are linear, so they
also pass through a residual add (sum of the two means) and through ops that average or reshape
without mixing channels (global/average pooling, a reshape that keeps the batch and channel axes).
Anything else (the graph input, max pooling, multiplications, ...) is unknown: None.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from qcc.ir.core import Value
from qcc.ptq.layers import clamp, is_weight_layer
from qcc.ptq.statistics import bn_stats, clipped_normal_mean

CHANNEL_PRESERVING = frozenset({"global_avg_pool", "avg_pool", "reshape"})


def _clamp_of(node_op: str, attrs: Mapping[str, Any]) -> tuple[float, float]:
    if node_op == "relu":
        return 0.0, math.inf
    return float(attrs["min"]), float(attrs["max"])


def expected_value(value: Value) -> np.ndarray | None:
    """E[value] per channel (axis 1), float64, or None when the statistics do not tell."""
    if value.type.rank < 2:
        return None
    producer = value.producer
    if producer is None:
        return None
    if is_weight_layer(producer):
        stats = bn_stats(producer)
        if stats is None:
            return None
        lo, hi = clamp(producer)
        return clipped_normal_mean(stats[0], stats[1], lo, hi)
    if producer.op in ("relu", "clip"):
        source = producer.inputs[0].producer
        source_stats = bn_stats(source) if source is not None and is_weight_layer(source) else None
        if source is None or source_stats is None:
            return None
        mean, std = source_stats
        lo0, hi0 = clamp(source)
        lo1, hi1 = _clamp_of(producer.op, producer.attrs)
        lo, hi = max(lo0, lo1), min(hi0, hi1)
        if lo > hi:
            return None
        return clipped_normal_mean(mean, std, lo, hi)
    if producer.op == "add":
        if clamp(producer) != (-math.inf, math.inf):
            return None
        a, b = (expected_value(v) for v in producer.inputs)
        if a is None or b is None or a.shape != b.shape:
            return None
        return a + b
    if producer.op in CHANNEL_PRESERVING:
        operand = producer.inputs[0]
        if operand.type.rank >= 2 and tuple(operand.type.shape[:2]) == tuple(value.type.shape[:2]):
            return expected_value(operand)
    return None
