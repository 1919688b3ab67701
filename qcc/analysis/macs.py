"""Multiply-accumulate counts per node: the cost model of reports and of compression passes."""

from __future__ import annotations

import math

from qcc.ir.core import Graph, Node


def node_macs(node: Node) -> int:
    """MACs of one node (0 for ops without a reduction)."""
    op = node.op.removeprefix("q.").removesuffix("_acc")  # q.conv_acc / q.gemm_acc reduce as conv / gemm do
    out = node.results[0].type
    if op in ("conv", "conv_transpose"):
        w = node.inputs[1].type.static_shape
        if op == "conv":  # each output element reduces C_in/g * k...
            return math.prod(out.static_shape) * math.prod(w[1:])
        x = node.inputs[0].type.static_shape  # each input element scatters to C_out/g * k...
        return math.prod(x) * math.prod(w[1:])
    if op in ("gemm", "matmul"):
        a = node.inputs[0].type.static_shape
        k = a[-2] if op == "gemm" and node.attrs.get("trans_a") else a[-1]
        return math.prod(out.static_shape) * k
    return 0


def graph_macs(graph: Graph) -> int:
    return sum(node_macs(n) for n in graph.nodes)
