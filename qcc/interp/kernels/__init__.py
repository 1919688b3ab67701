"""Float kernels of the interpreter, one numpy function per IR op, registered by op name.

A kernel takes the operand arrays and the node's (normalized) attributes and returns the result
arrays. Kernels never see IR objects, so the same table serves the interpreter, constant folding
at import and the fold-constants pass.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from qcc.registry import Registry

KernelFn = Callable[[Sequence[np.ndarray], Mapping[str, Any]], list[np.ndarray]]

KERNELS: Registry[KernelFn] = Registry("float kernel")
kernel = KERNELS.register  # @kernel("op", ...) registers the float kernel of one or more ops


def apply_fused_clamp(y: np.ndarray, attrs: Mapping[str, Any]) -> np.ndarray:
    """Apply the optional act_min/act_max clamp that fuse-activation puts on producers."""
    lo, hi = attrs.get("act_min", -np.inf), attrs.get("act_max", np.inf)
    if lo == -np.inf and hi == np.inf:
        return y
    return np.clip(y, lo, hi).astype(y.dtype, copy=False)


from qcc.interp.kernels import elementwise, nn, pointwise, tensor  # noqa: E402,F401  (register kernels)
