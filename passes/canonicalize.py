"""canonicalize: rewrite decomposed spellings of qcc ops into the ops themselves (layer norm written
out as ReduceMean/Sub/Pow/Sqrt/Div) and constant divisions/subtractions into the forms that lower."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qcc.canonical.layer_norm import match_layer_norm as match_general_layer_norm
from qcc.canonical.layer_norm import rewrite_layer_norm
from qcc.canonical.one_hot import match_one_hot_product, rewrite_one_hot_product
from qcc.canonical.softmax import match_softmax, rewrite_softmax
from qcc.ir.core import Graph, Node, Value
from qcc.ir.rewrite import const_operand, erase_dead, match, producer_op, replace_result, set_const_operand, single_user, uniform_constant, used_only_by
from qcc.pipeline import Pass, PassContext, PassResult, register_pass


@dataclass(frozen=True)
class LayerNormMatch:
    """A decomposed layer norm: ``x`` normalized over axes [axis, rank), then optionally scaled and
    shifted by constants; ``last`` is the node whose result the layer_norm replaces."""

    x: Value
    axis: int
    epsilon: float
    gamma: Value | None
    beta: Value | None
    last: Node
    nodes: tuple[Node, ...]


def _trailing_mean(node: Node | None, source: Value) -> tuple[int, ...] | None:
    """The axes of a keepdims reduce_mean of ``source`` over its last axes, else None."""
    if node is None or not match(node, "reduce_mean") or node.inputs[0] is not source or not node.attr("keepdims"):
        return None
    axes, rank = tuple(node.attr("axes")), source.type.rank
    return axes if axes and axes == tuple(range(rank - len(axes), rank)) else None


def _commuted(node: Node, want: str) -> tuple[Value, Value] | None:
    """(operand produced by ``want``, the other operand) of a two-operand node, either order."""
    a, b = node.inputs
    if producer_op(a) == want:
        return a, b
    if producer_op(b) == want:
        return b, a
    return None


def _inverse_std(node: Node) -> tuple[Value, Value, list[Node]] | None:
    """For the normalizing node ``div(d, sqrt(v))`` or ``mul(d, 1/sqrt(v))`` (1/sqrt as reciprocal,
    div(1, .) or pow(., -0.5)): (d, v, the nodes between)."""
    if match(node, "div", "sub", "sqrt") and (sqrt := node.inputs[1].producer) is not None:
        return node.inputs[0], sqrt.inputs[0], [sqrt]
    if node.op != "mul" or (pair := _commuted(node, "sub")) is None:
        return None
    d, inv = pair
    step = inv.producer
    if step is None or single_user(inv) is not node:
        return None
    if match(step, "pow", None, "const") and _scalar(step.inputs[1]) == -0.5:
        return d, step.inputs[0], [step]
    if match(step, "reciprocal", "sqrt") or (match(step, "div", "const", "sqrt") and _scalar(step.inputs[0]) == 1.0):
        std = step.inputs[-1]
        if single_user(std) is step and (sqrt := std.producer) is not None:
            return d, sqrt.inputs[0], [step, sqrt]
    return None


def _scalar(value: Value) -> float | None:
    scalar = uniform_constant(value)
    return float(scalar) if scalar is not None else None


def match_layer_norm(node: Node) -> LayerNormMatch | None:
    """Match a decomposed layer norm whose normalizing step is ``node``."""
    found = _inverse_std(node)
    if found is None:
        return None
    d, var_eps, inv_nodes = found
    sub, add_eps = d.producer, var_eps.producer
    if sub is None or add_eps is None or not match(sub, "sub") or not match(add_eps, "add") or single_user(var_eps) is None:
        return None
    x, mean = sub.inputs
    axes = _trailing_mean(mean.producer, x)
    pair = _commuted(add_eps, "reduce_mean")
    if axes is None or single_user(mean) is not sub or pair is None or (epsilon := _scalar(pair[1])) is None:
        return None
    var = pair[0]
    var_node = var.producer
    assert var_node is not None
    square = var_node.inputs[0].producer
    if _trailing_mean(var_node, var_node.inputs[0]) != axes or single_user(var) is not add_eps or square is None:
        return None
    is_square = (match(square, "mul") and square.inputs == (d, d)) or (
        match(square, "pow", "sub", "const") and square.inputs[0] is d and _scalar(square.inputs[1]) == 2.0
    )
    if not is_square or single_user(square.result) is not var_node or not used_only_by(d, [square, node]):
        return None
    nodes = [mean.producer, sub, square, var_node, add_eps, *inv_nodes, node]
    last, gamma, beta = node, None, None
    for op in ("mul", "add"):
        user = single_user(last.result)
        const = const_operand(user) if user is not None and user.op == op else None
        if user is None or const is None or not _fits(const[1], x) or user.result.type != x.type:
            continue
        if op == "mul":
            gamma = const[1]
        else:
            beta = const[1]
        last = user
        nodes.append(user)
    return LayerNormMatch(x, axes[0], epsilon, gamma, beta, last, tuple(n for n in nodes if n is not None))


def _fits(const: Value, x: Value) -> bool:
    return const.type.dtype == x.type.dtype and const.type.rank <= x.type.rank


def _rewrite_layer_norm(graph: Graph, m: LayerNormMatch) -> None:
    gamma = m.gamma if m.gamma is not None else graph.add_const(np.ones(m.x.type.static_shape[m.axis :], m.x.type.dtype.numpy), "ones")
    operands = [m.x, gamma] + ([m.beta] if m.beta is not None else [])
    node = graph.create_node("layer_norm", operands, {"axis": m.axis, "epsilon": m.epsilon}, names=m.last.result.name)
    graph.insert(node, before=m.last)
    replace_result(graph, m.last.result, node.result)
    erase_dead(graph, list(m.nodes))


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
    if (ln := match_general_layer_norm(node)) is not None:
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
    """Rewrite decomposed forms into the ops qcc quantizes as one:

    - layer norm written out (ReduceMean over the last axes, Sub, Pow 2 or Mul by itself,
      ReduceMean, Add eps, Sqrt, Div — or Mul by Reciprocal/1-Div/Pow -0.5 of the Sqrt —, then an
      optional Mul by a constant gamma and Add of a constant beta) becomes `layer_norm`, which
      has an integer lowering; the pieces (a division of two activations) have none;
    - `div` by a constant that varies along an axis becomes `mul` by its reciprocal, and `sub`
      of one becomes `add` of its negation, so they lower as q.mul/q.add with a constant;
    - the spellings of ``qcc.canonical``: layer norm from ReduceSum times 1/N and E[x^2] - E[x]^2
      over any axes (tf2onnx; a transpose pair when the axes are not the last ones), softmax
      written out as exp(x - max) / ReduceSum (jax), and a one-hot matrix product
      Cast(Equal(i, arange)) @ W, which becomes a gather of W's rows.

    Runs before fuse-elementwise, which would otherwise take the layer norm's scalar steps."""

    name = "canonicalize"

    def run(self, graph: Graph, ctx: PassContext) -> PassResult:
        changed = 0
        for node in list(graph.nodes):
            if node.graph is not graph:
                continue  # erased by an earlier rewrite
            m = match_layer_norm(node)
            if m is not None:
                _rewrite_layer_norm(graph, m)
                changed += 1
            elif _rewrite_constant_operand(graph, node) or _rewrite_general(graph, node):
                changed += 1
        return PassResult(graph, changed > 0)
