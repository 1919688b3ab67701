"""fuse-elementwise: a connected group of element-wise ops that computes one function of one
tensor becomes one ``pointwise`` node (quantized as one lookup table)."""

from __future__ import annotations

from dataclasses import dataclass

from qcc.ir.core import Graph, Node, Value
from qcc.ir.rewrite import erase_dead, replace_result, uniform_constant, used_only_by
from qcc.ops.integer import lowered_float_ops
from qcc.ops.pointwise import EXPR_OPS, Apply, Expr, Literal, Operand, apply, format_expr
from qcc.pipeline import Pass, PassContext, PassResult, register_pass


@dataclass(frozen=True)
class Group:
    """Nodes that compute ``root``'s result from the single activation ``source`` (and constants)."""

    root: Node
    source: Value
    nodes: tuple[Node, ...]


def literal_of(node: Node, index: int) -> Literal | None:
    """The constant operand ``index`` as an expression literal: all elements equal and of the
    node's element type (or an integer exponent of ``pow``); None otherwise."""
    value = node.inputs[index]
    scalar = uniform_constant(value)
    if scalar is None:
        return None
    if value.type.dtype == node.result.type.dtype:
        return Literal(float(scalar))
    if node.op == "pow" and index == 1 and value.type.dtype.numpy.kind in "iu":
        return Literal(float(int(scalar)), integer=True)
    return None


def is_member(node: Node) -> bool:
    """An element-wise float op whose constant operands are scalars: a candidate group member."""
    if node.op not in EXPR_OPS or len(node.results) != 1 or not node.result.type.dtype.is_float:
        return False
    return all(literal_of(node, i) is not None for i, v in enumerate(node.inputs) if v.is_const)


def grow_group(root: Node, taken: set[int], position: dict[int, int]) -> Group | None:
    """The largest group ending at ``root`` with a single activation input, or None.

    Absorbs the producer of the latest external input while that input is used only inside the
    group (so no internal value escapes), and remembers the last state with exactly one external
    activation input: two activations that meet are absorbed back to a common source or the
    group stops at the last single-input state."""
    members: dict[int, Node] = {id(root): root}
    best: Group | None = None
    while True:
        inputs = _external_inputs(members)
        if len(inputs) == 1 and inputs[0].type == root.result.type:
            best = Group(root, inputs[0], tuple(sorted(members.values(), key=lambda n: position[id(n)])))
        if not inputs:
            return best
        latest = max(inputs, key=lambda v: position.get(id(v.producer), -1) if v.producer is not None else -1)
        producer = latest.producer
        if (
            producer is None
            or id(producer) in taken
            or not is_member(producer)
            or latest.type != root.result.type
            or not used_only_by(latest, list(members.values()))
        ):
            return best
        members[id(producer)] = producer


def _external_inputs(members: dict[int, Node]) -> list[Value]:
    """Activation operands of the group defined outside it, in first-use order."""
    seen: dict[int, Value] = {}
    for node in members.values():
        for v in node.inputs:
            if not v.is_const and (v.producer is None or id(v.producer) not in members):
                seen.setdefault(id(v), v)
    return list(seen.values())


def expression(group: Group) -> Expr:
    """The group's function of its source as an expression (shared values stay shared)."""
    inside = {id(n) for n in group.nodes}
    memo: dict[int, Expr] = {}

    def of(value: Value, user: Node, index: int) -> Expr:
        if value is group.source:
            return Operand()
        if value.is_const:
            literal = literal_of(user, index)
            assert literal is not None
            return literal
        node = value.producer
        assert node is not None and id(node) in inside
        if id(value) not in memo:
            memo[id(value)] = apply(node.op, [of(v, node, i) for i, v in enumerate(node.inputs)], node.attrs)
        return memo[id(value)]

    root = group.root
    return apply(root.op, [of(v, root, i) for i, v in enumerate(root.inputs)], root.attrs)


@register_pass
@dataclass(frozen=True)
class FuseElementwise(Pass):
    """Replace each maximal group of element-wise float ops that computes one function of one
    activation (its other operands scalar constants, its internal values used only inside it) by
    one `pointwise` node whose `expr` spells that function with the original ops.

    Why: exporters write hard-swish, SiLU, GELU, Mish and scalings in many ways; one node means
    one lookup table when quantized, with no intermediate scales to calibrate and no rounding
    between the steps. Groups are grown from the last node backwards, so the order is
    deterministic. A group of one op is left as it is when its own integer lowering is as good
    (a unary op that already becomes a table, `add`/`mul` by a constant); ReLU/Clip should be folded by
    fuse-activation first, which keeps them in the producer's clamp."""

    name = "fuse-elementwise"

    def run(self, graph: Graph, ctx: PassContext) -> PassResult:
        position = {id(n): i for i, n in enumerate(graph.nodes)}
        taken: set[int] = set()
        groups: list[Group] = []
        for root in reversed(list(graph.nodes)):
            if id(root) in taken or not is_member(root):
                continue
            group = grow_group(root, taken, position)
            if group is None or (len(group.nodes) == 1 and _lone_op_lowers_as_well(root)):
                continue
            taken.update(id(n) for n in group.nodes)
            groups.append(group)
        for group in groups:
            _replace(graph, group)
        return PassResult(graph, bool(groups))


def _lone_op_lowers_as_well(node: Node) -> bool:
    """A lone add/mul by a constant is exact integer arithmetic, and a lone unary op with a lowering
    already becomes a table; any other lone op (div, sub, pow by a constant, sqrt, ...) is better as
    one table than as integer arithmetic on a quantized constant."""
    return node.op in ("add", "mul") or (len(node.inputs) == 1 and node.op in lowered_float_ops())


def _replace(graph: Graph, group: Group) -> None:
    expr = expression(group)
    assert isinstance(expr, Apply)
    node = graph.create_node("pointwise", [group.source], {"expr": format_expr(expr)}, names=group.root.result.name)
    graph.insert(node, before=group.root)
    replace_result(graph, group.root.result, node.result)
    erase_dead(graph, list(group.nodes))

