"""Removing channels along a ChannelPath: the producer's output channels, the same channels of
every channel-wise node between, and the consumer's input channels (whose remaining weights the
caller reconstructs). Each node is rebuilt with sliced constants and takes over its old node's name,
so the pruned graph reads like the original with fewer channels."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from qcc.compression.channel_path import ChannelPath, constant_channel_axis, find_channel_path
from qcc.compression.reconstruct import pruned_layer
from qcc.compression.sampling import sample_patches
from qcc.ir.core import Graph, Node, Value
from qcc.ir.rewrite import erase_dead
from qcc.ptq.layers import bias_vector

PER_CHANNEL_ATTRS = ("bn_gamma", "bn_beta")


def consumer_bias(node: Node) -> np.ndarray:
    """The consumer's bias per output channel, as the weight's dtype (zeros when it has none)."""
    bias = bias_vector(node)
    assert bias is not None  # a conv's bias is always per channel
    return bias.astype(node.inputs[1].const_array.dtype)


class _Builder:
    """Adds the rebuilt nodes and constants, remembering which old names they should take over."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.renames: list[tuple[Value, str]] = []

    def const(self, old: Value, array: np.ndarray) -> Value:
        new = self.graph.add_const(np.ascontiguousarray(array).astype(old.const_array.dtype), old.name)
        self.renames.append((new, old.name))
        return new

    def sliced(self, old: Value, axis: int | None, kept: np.ndarray) -> Value:
        return old if axis is None else self.const(old, np.take(old.const_array, kept, axis=axis))

    def node(self, old: Node, inputs: list[Value], attrs: dict[str, object]) -> Node:
        new = self.graph.add_node(old.op, inputs, attrs, names=old.name, after=old)
        self.renames.append((new.result, old.name))
        return new


def _channel_attrs(node: Node, kept: np.ndarray) -> dict[str, object]:
    attrs = dict(node.attrs)
    for key in PER_CHANNEL_ATTRS:
        if key in attrs and np.ndim(attrs[key]) == 1 and np.size(attrs[key]):
            attrs[key] = np.asarray(attrs[key])[kept]
    return attrs


def _rebuild_between(build: _Builder, node: Node, data: Value, kept: np.ndarray) -> Node:
    """``node`` on the pruned ``data``, its per-channel constants sliced to ``kept``."""
    if node.op == "batch_norm":
        return build.node(node, [data, *(build.sliced(v, 0, kept) for v in node.inputs[1:])], dict(node.attrs))
    if node.op == "conv":  # depthwise: one filter per channel
        attrs = _channel_attrs(node, kept)
        attrs["group"] = len(kept)
        return build.node(node, [data, *(build.sliced(v, 0, kept) for v in node.inputs[1:])], attrs)
    if len(node.inputs) == 2:  # element-wise with a per-channel or scalar constant
        return build.node(node, [data, build.sliced(node.inputs[1], constant_channel_axis(node), kept)], dict(node.attrs))
    return build.node(node, [data], dict(node.attrs))


def prune_path(graph: Graph, path: ChannelPath, kept: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> Node:
    """Keep only channels ``kept`` along ``path``; the consumer gets ``weight`` [C_out, len(kept),
    ...] and ``bias``. Returns the new consumer."""
    build = _Builder(graph)
    producer = path.producer
    new = build.node(producer, [producer.inputs[0], *(build.sliced(v, 0, kept) for v in producer.inputs[1:])], _channel_attrs(producer, kept))
    for node in path.between:
        new = _rebuild_between(build, node, new.result, kept)
    consumer = path.consumer
    operands = [new.result, build.const(consumer.inputs[1], weight)]
    if len(consumer.inputs) > 2:
        operands.append(build.const(consumer.inputs[2], bias))
    else:
        operands.append(graph.add_const(bias, f"{consumer.name}_bias"))
    new_consumer = build.node(consumer, operands, dict(consumer.attrs))
    graph.replace_all_uses_with(consumer.result, new_consumer.result)
    erase_dead(graph, [producer, *path.between, consumer])
    for value, name in build.renames:
        if value.name != name and not graph.has_name(name):
            graph.rename(value, name)
    return new_consumer


def prune_conv_inputs(graph: Graph, consumer: Node, keep: int, samples: Sequence[Mapping[str, np.ndarray]], positions: int, seed: int,
                      pass_name: str, target: np.ndarray | None = None) -> tuple[ChannelPath, int]:
    """Keep ``keep`` input channels of ``consumer`` (chosen and reconstructed from patches sampled on
    the graph as it is now, towards ``target``: the layer's outputs at those patches' positions in
    the original network, default its own) and remove the rest along its channel path. Returns the
    path and the number of patches the reconstruction used."""
    path = find_channel_path(graph, consumer, pass_name)
    patches = sample_patches(graph, [consumer], samples, positions, seed)[id(consumer)]
    kept, weight, bias = pruned_layer(patches, consumer.inputs[1].const_array, consumer_bias(consumer), keep, target)
    prune_path(graph, path, kept, weight, bias)
    return path, len(patches)
