"""Data-movement and shape float ops: concat, split, slice, reshape, transpose, resize, pad, ..."""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from qcc.ir.ops import Attr, define_op, fail
from qcc.ir.types import TensorType


@define_op("reshape", ["x"], [Attr("shape", "ints", doc="the full static result shape (no 0 or -1)")])
def _reshape(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """Same elements in row-major order, new shape. ONNX Reshape, Flatten, Squeeze and Unsqueeze
    all import as this op once shapes are static."""
    x = types[0]
    shape = tuple(attrs["shape"])
    if any(d < 0 for d in shape):
        raise fail("reshape", f"shape {list(shape)} must be fully resolved (no negative dims)")
    if math.prod(shape) != math.prod(x.static_shape):
        raise fail("reshape", f"cannot reshape {list(x.shape)} ({math.prod(x.static_shape)} elements) to {list(shape)}")
    return [TensorType(x.dtype, shape)]
