"""canonicalize: rewrite decomposed spellings of qcc ops into the ops themselves (layer norm written
out as ReduceMean/Sub/Pow/Sqrt/Div) and constant divisions/subtractions into the forms that lower."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qcc.canonical.layer_norm import match_layer_norm, rewrite_layer_norm
from qcc.canonical.one_hot import match_one_hot_product, rewrite_one_hot_product
from qcc.canonical.softmax import match_softmax, rewrite_softmax
from qcc.ir.core import Graph, Node
from qcc.ir.rewrite import replace_result, set_const_operand, uniform_constant
from qcc.pipeline import Pass, PassContext, PassResult, register_pass


def _rewrite_constant_operand(graph: Graph, node: Node) -> bool:
    """``div(a, c)`` -> ``mul(a, 1/c)`` and ``sub(a, c)`` -> ``add(a, -c)`` for a constant ``c``
    that varies (a scalar one is fuse-elementwise's job, which keeps the exact function)."""
    c = node.inputs[1] if len(node.inputs) == 2 else None
    if node.op not in ("div", "sub") or c is None or not c.is_const or node.inputs[0].is_const:
        return False
    if not c.type.dtype.is_float or uniform_constant(c) is not None:
        return False
    op, data = ("mul", np.reciprocal(c.const_array)) if node.op == "div" else ("add", np.negative(c.const_array))
    attrs = {k: v for k, v in node.attrs.items() if k in ("act_min", "act_max")}
    new = graph.create_node(op, [node.inputs[0], c], attrs, names=node.result.name)
    graph.insert(new, before=node)
    replace_result(graph, node.result, new.result)
    set_const_operand(graph, new, 1, data)
    return True


def _rewrite_general(graph: Graph, node: Node) -> bool:
    """The spellings qcc.canonical recognizes: layer norm from sums or moments over any axes,
    written-out softmax, one-hot matrix products."""
    if (ln := match_layer_norm(node)) is not None:
        return rewrite_layer_norm(graph, ln)
    if (sm := match_softmax(node)) is not None:
        rewrite_softmax(graph, sm)
        return True
    if (oh := match_one_hot_product(node)) is not None:
        rewrite_one_hot_product(graph, oh)
        return True
    return False


@register_pass
@dataclass(frozen=True)
class Canonicalize(Pass):
    """Rewrite decomposed forms into the ops qcc quantizes as one (the matchers live in
    ``qcc.canonical``):

    - layer norm written out in any exporter's spelling — a mean as ReduceMean, ReduceSum times 1/N
      or ReduceSum / N; the variance as the mean of squared deviations or E[x^2] - E[x]^2, with or
      without max(., 0); the inverse std as Reciprocal(Sqrt), 1/Sqrt, Pow -0.5 or a division by the
      Sqrt; an optional constant gamma and beta; over any axes (a transpose pair when they are not
      the last ones) — becomes `layer_norm`, which has an integer lowering (the pieces, a division of
      two activations among them, would each round);
    - softmax written out as exp(x - c) / ReduceSum (c constant along the axis, or absent) becomes
      `softmax`, and a one-hot matrix product Cast(Equal(i, arange)) @ W a gather of W's rows;
    - `div` by a constant that varies along an axis becomes `mul` by its reciprocal, and `sub`
      of one becomes `add` of its negation, so they lower as q.mul/q.add with a constant.

    Runs before fuse-elementwise, which would otherwise take the layer norm's scalar steps."""

    name = "canonicalize"

    def run(self, graph: Graph, ctx: PassContext) -> PassResult:
        changed = 0
        for node in list(graph.nodes):
            if node.graph is not graph:
                continue  # erased by an earlier rewrite
            if _rewrite_constant_operand(graph, node) or _rewrite_general(graph, node):
                changed += 1
        return PassResult(graph, changed > 0)
