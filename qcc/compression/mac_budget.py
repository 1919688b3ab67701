"""MACs of a model after a set of chosen candidates, counted per conv rather than summed per
candidate: when a conv loses input channels (it is a pruned consumer) and output channels (it
produces another pruned path) its MACs scale by both fractions, M * k_in/C_in * k_out/C_out, which
adding the two savings would overcount. Every count is the one MAC counter's (node_macs)."""

from __future__ import annotations

from collections.abc import Iterable

from qcc.analysis.macs import node_macs
from qcc.compression.candidates import Candidate
from qcc.compression.spatial_svd import split_macs_parts
from qcc.ir.core import Graph, Node


def _channels_out(node: Node) -> int:
    return node.result.type.static_dim(1)


def selection_macs(graph: Graph, chosen: Iterable[Candidate]) -> int:
    """The graph's MACs once every candidate in ``chosen`` (at most one per layer) is applied."""
    kept_in: dict[int, int] = {}  # conv id -> input channels left (pruned consumers)
    kept_out: dict[int, int] = {}  # node id -> output channels left (producers, depthwise convs)
    split: dict[int, tuple[int, int]] = {}  # conv id -> MACs of the k x 1 and 1 x k convs
    for candidate in chosen:
        if candidate.method == "svd":
            split[id(candidate.layer)] = split_macs_parts(candidate.layer, candidate.size)
            continue
        assert candidate.path is not None
        kept_in[id(candidate.layer)] = candidate.size
        for node in (candidate.path.producer, *candidate.path.depthwise):
            kept_out[id(node)] = candidate.size
    total = 0
    for node in graph.nodes:
        out_channels = _channels_out(node) if node.results else 1
        keep_out = kept_out.get(id(node), out_channels)
        if id(node) in split:
            first, second = split[id(node)]
            total += first + second // out_channels * keep_out
            continue
        macs = node_macs(node)
        if id(node) in kept_in:
            in_channels = node.inputs[0].type.static_dim(1)
            macs = macs // in_channels * kept_in[id(node)]
        if keep_out != out_channels:
            macs = macs // out_channels * keep_out
        total += macs
    return total
