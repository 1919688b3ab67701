"""Per-layer compression candidates: for one conv, one way to shrink it (spatial SVD to a rank, or
channel pruning to a number of kept inputs), with the MACs it saves, a stand-in evaluator that
computes the compressed layer inside an otherwise unchanged float graph (how a candidate is scored
without copying the model). The compress pass applies the chosen ones with the passes' own
rewrites, on the graph as compressed so far.

A pruning candidate's stand-in computes conv(x[:, kept], W', b'): upstream, the pruned path drops
exactly the channels the consumer no longer reads, and channel-wise nodes compute each kept channel
as before, so the model output equals the pruned model's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from qcc.analysis.macs import node_macs
from qcc.compression.channel_path import ChannelPath
from qcc.compression.prune import consumer_bias
from qcc.compression.reconstruct import pruned_layer, svd_layer
from qcc.compression.spatial_svd import split_attrs
from qcc.interp.interpreter import evaluate
from qcc.ir.core import Node


@dataclass
class Candidate:
    """One way to compress ``layer``: ``method`` 'svd' (``size`` = rank) or 'prune' (``size`` = kept
    input channels, out of ``full``)."""

    layer: Node
    method: str
    size: int
    full: int
    macs_saved: int
    path: ChannelPath | None = None
    score: float = float("nan")
    _arrays: tuple[np.ndarray, ...] = field(default=(), repr=False)

    @property
    def label(self) -> str:
        return f"{self.method} {self.size}/{self.full}"

    def prepare(self, patches: np.ndarray | None) -> None:
        """Compute the candidate's weights, fitted by least squares to the layer's output on its
        sampled input patches (pruning needs them; SVD refits its 1 x k factor when given them)."""
        weight, bias = self.layer.inputs[1].const_array, consumer_bias(self.layer)
        if self.method == "svd":
            self._arrays = svd_layer(patches, weight, bias, self.size)
        else:
            assert patches is not None
            self._arrays = pruned_layer(patches, weight, bias, self.size)

    def evaluate(self, operands: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The compressed layer's result on the layer's operands."""
        x, attrs = operands[0], self.layer.attrs
        if self.method == "svd":
            first_w, second_w, bias = self._arrays
            first_attrs, second_attrs = split_attrs(self.layer)
            middle = evaluate("conv", [x, first_w], first_attrs)[0]
            return evaluate("conv", [middle, second_w, bias], second_attrs)
        kept, weight, bias = self._arrays
        return evaluate("conv", [x[:, kept], weight, bias], attrs)


def pruning_macs_saved(path: ChannelPath, kept: int) -> int:
    """MACs saved when ``kept`` of the path's channels remain: every node on it costs the same per
    channel (the producer per output, depthwise convs per channel, the consumer per input)."""
    channels = path.consumer.inputs[0].type.static_dim(1)
    per_channel = sum(node_macs(n) // channels for n in (path.producer, *path.depthwise, path.consumer))
    return per_channel * (channels - kept)
