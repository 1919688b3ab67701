"""Pairs of weight layers joined by an activation, as cross-layer equalization and high-bias
absorption need them (DFQ §4.1-4.2, Nagel et al. 2019, arXiv:1906.04721).

A link is ``first -> [relu | clip ...] -> second`` where every value on the way has exactly one
user, the activation is the first layer's fused clamp and/or separate relu/clip nodes (fused or not
yet fused: the passes work before and after fuse-activation), and ``second`` reads the result as
its data input. Which activations allow what is the passes' business; a link only states the
combined clamp [lo, hi] between the two layers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from qcc.ir.core import Graph, Node
from qcc.ir.rewrite import single_user
from qcc.ptq.layers import clamp, input_channels, is_weight_layer, output_channels

ACTIVATION_OPS = ("relu", "clip")


@dataclass
class Link:
    """``first`` feeds ``second`` through ``acts`` (separate activation nodes, maybe none); the
    values between are clamped to [lo, hi] in total (first's fused clamp included)."""

    first: Node
    second: Node
    acts: list[Node] = field(default_factory=list)
    lo: float = -math.inf
    hi: float = math.inf

    @property
    def kind(self) -> str:
        """'identity', 'relu', 'relu6', or 'clip(lo, hi)' for anything else."""
        if self.lo == -math.inf and self.hi == math.inf:
            return "identity"
        if self.lo == 0.0 and self.hi == math.inf:
            return "relu"
        if self.lo == 0.0 and self.hi == 6.0:
            return "relu6"
        return f"clip({self.lo:g}, {self.hi:g})"

    def __str__(self) -> str:
        between = " -> ".join(a.op for a in self.acts)
        return f"{self.first.name} -> {between + ' -> ' if between else ''}{self.second.name}"


def _bounds(node: Node) -> tuple[float, float]:
    if node.op == "relu":
        return 0.0, math.inf
    return float(node.attr("min")), float(node.attr("max"))


def find_links(graph: Graph) -> tuple[list[Link], list[str]]:
    """All links in graph order, and one line per weight layer whose result reaches another
    weight layer in a way no link can describe (several users on the way)."""
    links: list[Link] = []
    blocked: list[str] = []
    for node in graph.nodes:
        if not is_weight_layer(node):
            continue
        lo, hi = clamp(node)
        value, acts = node.result, []
        while True:
            user = single_user(value)
            if user is None:
                if any(is_weight_layer(u) for u in value.users):
                    output = graph.outputs and any(o is value for o in graph.outputs)
                    why = "is a graph output" if output else f"has {len(value.uses)} users"
                    blocked.append(f"{node.name}: %{value.name} {why}, so its channels cannot be rescaled")
                break
            if user.op in ACTIVATION_OPS and user.inputs[0] is value:
                a, b = _bounds(user)
                lo, hi = max(lo, a), min(hi, b)
                acts.append(user)
                value = user.result
                continue
            feeds_layer = is_weight_layer(user) and user.inputs[0] is value and user.inputs[1] is not value
            if feeds_layer and input_channels(user) == output_channels(node) and (user.op == "gemm") == (node.op == "gemm"):
                links.append(Link(node, user, acts, lo, hi))
            break
    return links, blocked
