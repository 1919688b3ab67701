"""Float kernels of the element-wise ops."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from qcc.interp.kernels import apply_fused_clamp, kernel


@kernel("relu")
def relu(xs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> list[np.ndarray]:
    x = xs[0]
    return [np.maximum(x, np.zeros((), x.dtype))]


@kernel("add")
def add(xs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> list[np.ndarray]:
    return [apply_fused_clamp(np.add(xs[0], xs[1]), attrs)]
