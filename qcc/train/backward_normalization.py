"""Reverse-mode rule for a batch norm that survives into the trained graph.

qcc trains the graph a PTQ recipe calibrated, after ``fold-batchnorm``: every batch norm that
follows a conv or gemm is already inside its weights and bias, because the integer model has no
batch norm and QAT must train what ``quantize`` will see. What can remain is a batch norm with
nothing to fold into (right after the graph input, or after a pool); ``quantize`` lowers it with
its running statistics (docs/arithmetic.md §3.13), so training uses the same inference-mode form
the float interpreter computes: ``y = gamma (x - mean) / sqrt(var + eps) + beta``. Batch
statistics (training mode) would train a function the compiled model never computes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from qcc.train.backward import Grads, backward_rule


@backward_rule("batch_norm")
def batch_norm_backward(attrs: Mapping[str, Any], xs: Sequence[np.ndarray], y: np.ndarray, dy: np.ndarray) -> Grads:
    """Gradients for x, gamma and beta; the running mean and variance are statistics, not trained."""
    x, gamma, _, mean, var = xs
    channel = (1, -1) + (1,) * (x.ndim - 2)
    inv_std = 1.0 / np.sqrt(var + attrs["epsilon"])
    normalized = (x - mean.reshape(channel)) * inv_std.reshape(channel)
    reduce = tuple(i for i in range(x.ndim) if i != 1)
    dx = dy * (gamma * inv_std).reshape(channel)
    return [dx.astype(dy.dtype, copy=False), (dy * normalized).sum(axis=reduce), dy.sum(axis=reduce), None, None]
