"""fuse-activation: fold ReLU / ReLU6 / Clip into the producing op's clamp bounds."""

from __future__ import annotations

from dataclasses import dataclass

from qcc.ir.core import Graph, Node
from qcc.ir.rewrite import replace_result, single_user
from qcc.pipeline import Pass, PassContext, PassResult, register_pass

# Ops that carry the act_min/act_max clamp (qcc.ir.ops.FUSED_CLAMP).
CLAMPABLE_PRODUCERS = frozenset({"conv", "conv_transpose", "gemm", "matmul", "add", "sub", "mul"})


def clamp_bounds(node: Node) -> tuple[float, float] | None:
    """The [lo, hi] interval an activation node clamps to, or None if it is not a clamp."""
    if node.op == "relu":
        return 0.0, float("inf")
    if node.op == "clip":
        return node.attr("min"), node.attr("max")
    return None


@register_pass
@dataclass(frozen=True)
class FuseActivation(Pass):
    """Merge a ReLU, ReLU6 or Clip into the conv/gemm/matmul/add that feeds it.

    The producer's result then already lies in the clamped range, which is what integer kernels
    compute for free by narrowing the requantization bounds (docs/arithmetic.md §2.5), and the activation stops
    being a separate tensor that would need its own scale. Only producers whose result has no other
    user are fused; the intervals intersect when the producer already has a clamp."""

    name = "fuse-activation"

    def run(self, graph: Graph, ctx: PassContext) -> PassResult:
        fused = 0
        for act in list(graph.nodes):
            bounds = clamp_bounds(act)
            if bounds is None:
                continue
            source = act.inputs[0]
            producer = source.producer
            if producer is None or producer.op not in CLAMPABLE_PRODUCERS or single_user(source) is not act:
                continue
            if not source.type.dtype.is_float:
                continue
            lo = max(producer.attr("act_min"), bounds[0])
            hi = min(producer.attr("act_max"), bounds[1])
            if lo > hi:
                continue  # disjoint intervals: the result is a constant; leave it to the user
            producer.set_attr("act_min", lo)
            producer.set_attr("act_max", hi)
            replace_result(graph, act.result, source)  # the fused value keeps the visible name
            fused += 1
        return PassResult(graph, fused > 0)
