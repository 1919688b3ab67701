"""matmul-to-gemm: a MatMul by a constant matrix, and the constant bias added after it, is a layer."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from qcc.ir.core import Graph, Node, Value
from qcc.ir.rewrite import erase_dead, single_user
from qcc.pipeline import Pass, PassContext, PassResult, register_pass


def _bias_of(node: Node, channels: int) -> tuple[Node, np.ndarray] | None:
    """The add that follows ``node`` with a constant broadcasting only along the last axis (a bias)."""
    add = single_user(node.result)
    if add is None or add.op != "add" or add.attrs.get("act_min", -math.inf) != -math.inf or add.attrs.get("act_max", math.inf) != math.inf:
        return None
    other = next((v for v in add.inputs if v is not node.result), None)
    if other is None or not other.is_const or other.data is None or add.result.type.shape != node.result.type.shape:
        return None
    data = np.asarray(other.data)
    if data.size != channels or (data.ndim and data.shape[-1] != channels):
        return None
    return add, data.reshape(channels)


def _rewrite(graph: Graph, node: Node) -> bool:
    x, w = node.inputs
    if not w.is_const or w.data is None or len(w.type.shape) != 2 or not x.type.dtype.is_float or len(x.type.shape) < 2:
        return False
    if node.attrs.get("act_min", -math.inf) != -math.inf or node.attrs.get("act_max", math.inf) != math.inf:
        return False  # a fused clamp would have to move past the bias: leave it
    k, n = w.type.static_shape
    lead = x.type.static_shape[:-1]
    rows = math.prod(lead)
    bias = _bias_of(node, n)
    last: Value = (bias[0] if bias is not None else node).result
    operand = x
    if len(x.type.shape) != 2:
        operand = graph.add_node("reshape", [x], {"shape": [rows, k]}, names=f"{node.result.name}_rows", before=node).result
    inputs = [operand, w]
    if bias is not None:
        inputs.append(graph.add_const(bias[1].astype(w.data.dtype), f"{node.result.name}_bias"))
    gemm = graph.add_node("gemm", inputs, {}, names=f"{node.result.name}_gemm", before=node).result
    result = gemm
    if len(x.type.shape) != 2:
        result = graph.add_node("reshape", [gemm], {"shape": [*lead, n]}, names=f"{node.result.name}_unrows", before=node).result
    name = last.name
    graph.replace_all_uses_with(last, result)
    erase_dead(graph, [node] + ([bias[0]] if bias is not None else []))  # and the constants only they used
    graph.rename(result, name)  # the layer's result keeps the name users know
    return True


@register_pass
@dataclass(frozen=True)
class MatmulToGemm(Pass):
    """Rewrite `matmul(x, W)` with a constant 2-D `W`, and an `add` of a constant bias right after it,
    into `gemm(x, W, b)` (with reshapes around it when `x` has more than two dims, as transformer
    and Keras dense layers export).

    Why: exporters spell a dense layer as MatMul + Add. As a matmul of two tensors the weight gets one
    activation-style scale and the bias a second rounding in its own add; as a gemm the weight gets
    per-channel scales, the bias joins the int32 accumulator, and batch norm, CLE, bias correction
    and AdaRound all see the layer. A matmul whose product carries a fused clamp is left alone."""

    name = "matmul-to-gemm"

    def run(self, graph: Graph, ctx: PassContext) -> PassResult:
        changed = False
        for node in list(graph.nodes):
            if node.graph is graph and node.op == "matmul":
                changed |= _rewrite(graph, node)
        return PassResult(graph, changed)
