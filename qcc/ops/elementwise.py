"""Element-wise float ops: unary activations and math, and broadcasting binary ops.

Semantics follow the ONNX operators of the same name (snake_case here).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from qcc.ir.ops import FUSED_CLAMP, broadcast_shapes, define_op, same_as_input, same_dtype
from qcc.ir.types import TensorType



@define_op("relu", ["x"])
def _relu(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """max(x, 0)."""
    return same_as_input(types, attrs)


def _binary(op: str, types: Sequence[TensorType]) -> list[TensorType]:
    dtype = same_dtype(op, types)
    return [TensorType(dtype, broadcast_shapes(op, types[0].shape, types[1].shape))]


@define_op("add", ["a", "b"], FUSED_CLAMP)
def _add(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """a + b with ONNX broadcasting."""
    return _binary("add", types)
