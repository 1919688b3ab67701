"""Reverse-mode rules for the smooth and piecewise-linear activations of mobile classifiers
(sigmoid, hard-sigmoid, hard-swish), in the convention of ``qcc.train.backward``: each takes the
attributes, operands, result and result gradient and returns the operand gradients.

At the kinks of the piecewise-linear ones the derivative of the side the value lies on is used,
with a value exactly on a bound counted as outside (as ``backward.clamp_mask`` does for ReLU).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from qcc.train.backward import Grads, backward_rule


@backward_rule("sigmoid")
def sigmoid_backward(attrs: Mapping[str, Any], xs: Sequence[np.ndarray], y: np.ndarray, dy: np.ndarray) -> Grads:
    """d sigmoid(x) / dx = y (1 - y)."""
    return [dy * y * (1 - y)]


@backward_rule("hard_sigmoid")
def hard_sigmoid_backward(attrs: Mapping[str, Any], xs: Sequence[np.ndarray], y: np.ndarray, dy: np.ndarray) -> Grads:
    """y = clip(alpha x + beta, 0, 1): slope alpha where the line is inside (0, 1), else 0."""
    line = attrs["alpha"] * xs[0] + attrs["beta"]
    return [dy * attrs["alpha"] * ((line > 0) & (line < 1))]


@backward_rule("hard_swish")
def hard_swish_backward(attrs: Mapping[str, Any], xs: Sequence[np.ndarray], y: np.ndarray, dy: np.ndarray) -> Grads:
    """y = x clip(x/6 + 1/2, 0, 1): 0 below -3, (2x + 3) / 6 on (-3, 3), 1 from 3 on."""
    x = xs[0]
    slope = np.where(x >= 3, 1.0, np.where(x > -3, (2 * x + 3) / 6, 0.0))
    return [dy * slope.astype(dy.dtype, copy=False)]
