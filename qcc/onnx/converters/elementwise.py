"""Converters of ONNX element-wise ops."""

from __future__ import annotations

from typing import Sequence

from qcc.ir.core import Value
from qcc.onnx.converters import NodeContext, converter


@converter("Relu")
def relu(ctx: NodeContext) -> Sequence[Value]:
    return [ctx.emit("relu", [ctx.input(0)])]


@converter("Add")
def add(ctx: NodeContext) -> Sequence[Value]:
    if ctx.opset < 7 and ctx.attr("broadcast", 0):
        raise ctx.unsupported("legacy broadcast attribute (opset < 7)")
    return [ctx.emit("add", [ctx.input(0), ctx.input(1)])]
