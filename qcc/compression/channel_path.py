"""The path along which a convolution's input channels can be removed: back from the consumer
through channel-wise nodes (activations, batch norms, depthwise convolutions, pooling, element-wise
ops with a per-channel or scalar constant) to the convolution that produces those channels.

Removing input channel c of the consumer is only free if nothing else reads channel c: every value
on the path must have the next node as its one user and must not be a graph output, and every node
on it must compute output channel c from input channel c alone. Otherwise the path is refused with
one line that names the node that breaks it.
"""

from __future__ import annotations

from dataclasses import dataclass

from qcc.errors import PipelineError
from qcc.ir.core import Graph, Node, Value
from qcc.ir.rewrite import single_user
from qcc.ops.elementwise import UNARY_OPS

# element-wise binary ops applied channel by channel when their constant operand is per channel
# (or a scalar): y[c] = f(x[c], k[c])
PER_CHANNEL_BINARY_OPS = frozenset({"add", "sub", "mul", "div", "max", "min", "prelu"})
# pooling reduces each channel over space on its own
POOLING_OPS = frozenset({"max_pool", "avg_pool", "global_avg_pool", "global_max_pool"})


@dataclass(frozen=True)
class ChannelPath:
    """``producer`` (a group=1 conv) feeds ``consumer``'s data input through ``between`` (in order)."""

    producer: Node
    between: tuple[Node, ...]
    consumer: Node

    @property
    def depthwise(self) -> tuple[Node, ...]:
        return tuple(n for n in self.between if n.op == "conv")


def _consts_are_const(node: Node) -> bool:
    return all(v.is_const for v in node.inputs[1:])


def constant_channel_axis(node: Node) -> int | None:
    """The axis of a binary node's constant that runs over channels (None: it broadcasts, so every
    channel sees the same constant)."""
    const = node.inputs[1]
    out_rank = node.result.type.rank
    shape = (1,) * (out_rank - const.type.rank) + tuple(const.type.static_shape)
    if all(d == 1 for i, d in enumerate(shape) if i != 1):
        axis = 1 - (out_rank - const.type.rank)
        return axis if shape[1] != 1 else None
    return -1  # varies along a non-channel axis: not a per-channel op


def why_not_channelwise(node: Node) -> str:
    """Empty if output channel c of ``node`` depends on input channel c only, else the reason."""
    if (node.op in UNARY_OPS or node.op in POOLING_OPS) and len(node.inputs) == 1:
        return ""
    if node.op == "batch_norm":
        return "" if _consts_are_const(node) else "its statistics are not constants"
    if node.op == "conv":
        channels = node.inputs[0].type.static_dim(1)
        depthwise = node.attr("group") == channels == node.result.type.static_dim(1)
        if depthwise and _consts_are_const(node):
            return ""
        return "it mixes channels (a conv that is not depthwise)"
    if node.op in PER_CHANNEL_BINARY_OPS and len(node.inputs) == 2:
        if not node.inputs[1].is_const or node.inputs[0].is_const:
            return "its second operand is not a constant"
        if node.inputs[0].type.shape != node.result.type.shape:
            return "it broadcasts its data operand"
        if constant_channel_axis(node) == -1:
            return "its constant varies along a non-channel axis"
        return ""
    return f"{node.op} does not keep channels apart"


def _only_reader(graph: Graph, value: Value, reader: Node) -> bool:
    return single_user(value) is reader and not any(o is value for o in graph.outputs)


def find_channel_path(graph: Graph, consumer: Node, pass_name: str) -> ChannelPath:
    """The path feeding ``consumer``'s input channels, or a one-line PipelineError saying why not."""
    where = f"{pass_name}: layer '{consumer.name}'"
    if consumer.op != "conv" or consumer.attr("group") != 1 or not _consts_are_const(consumer) or consumer.inputs[1].type.rank != 4:
        raise PipelineError(f"{where}: only a 2-d group=1 conv with constant weights can lose input channels")
    value, reader = consumer.inputs[0], consumer
    between: list[Node] = []
    while True:
        if not _only_reader(graph, value, reader):
            users = len(value.uses) + sum(o is value for o in graph.outputs)
            raise PipelineError(f"{where}: %{value.name} has {users} users, so its channels are shared and cannot be removed")
        node = value.producer
        if node is None:
            raise PipelineError(f"{where}: its input channels come from graph input %{value.name}, which cannot lose channels")
        if node.op == "conv" and node.attr("group") == 1 and _consts_are_const(node):
            return ChannelPath(node, tuple(reversed(between)), consumer)
        reason = why_not_channelwise(node)
        if reason:
            raise PipelineError(f"{where}: the path to its producer goes through '{node.name}' ({node.op}): {reason}")
        between.append(node)
        value, reader = node.inputs[0], node
