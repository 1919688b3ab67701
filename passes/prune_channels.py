"""prune-channels: remove input channels of one convolution and rebuild its weights by least squares."""

from __future__ import annotations

from dataclasses import dataclass

from qcc.analysis.macs import graph_macs
from qcc.calibration.source import calibration_set
from qcc.compression.channel_path import find_channel_path
from qcc.compression.layer_lookup import find_conv
from qcc.compression.prune import prune_conv_inputs
from qcc.compression.reconstruct import kept_count
from qcc.errors import PipelineError
from qcc.ir.core import Graph
from qcc.pipeline import Pass, PassContext, PassResult, register_pass


@register_pass
@dataclass(frozen=True)
class PruneChannels(Pass):
    """Channel pruning with reconstruction (He et al., "Channel Pruning for Accelerating Very Deep
    Neural Networks", ICCV 2017): the conv `layer` (ONNX output or weight name, group=1, 2-d) keeps
    round(`keep` * C_in) of its input channels, and the conv producing them loses the same output
    channels, as does every channel-wise node between the two (activations, batch norms, depthwise
    convs, pooling, element-wise ops with a per-channel or scalar constant). A path where a value has
    other users, or through a node that mixes channels, is refused in one line naming that node.

    Channels are ranked by the L1 norm of their weight slice times the RMS of their input (so a
    channel that batch norm made small counts as small); the kept weights and a bias correction
    then solve the least-squares problem that reproduces the layer's pre-activation output on
    input patches sampled from calibration data: `positions` random output positions from each of
    the first `samples` samples (0 = all). keep=1 leaves the graph unchanged."""

    name = "prune-channels"
    reads_data = True
    forbids_ops = frozenset({"quantize", "dequantize"})
    layer: str = ""
    keep: float = 1.0
    samples: int = 64
    positions: int = 16

    def run(self, graph: Graph, ctx: PassContext) -> PassResult:
        if not self.layer or not 0.0 < self.keep <= 1.0:
            raise PipelineError(f"prune-channels: give layer=NAME and 0 < keep <= 1 (got layer='{self.layer}' keep={self.keep})")
        if self.samples < 0 or self.positions < 1:
            raise PipelineError(f"prune-channels: samples={self.samples} must be >= 0 and positions={self.positions} >= 1")
        consumer = find_conv(graph, self.layer, self.name)
        path = find_channel_path(graph, consumer, self.name)
        channels = consumer.inputs[0].type.static_dim(1)
        keep = kept_count(channels, self.keep)
        if keep == channels:
            ctx.log(f"prune-channels: {self.layer}: keeps all {channels} channels, nothing to do")
            return PassResult(graph, False)
        samples = list(calibration_set(graph, ctx, self.samples or None))
        before = graph_macs(graph)
        _, rows = prune_conv_inputs(graph, consumer, keep, samples, self.positions, ctx.seed, self.name)
        ctx.log(f"prune-channels: {self.layer}: {keep} of {channels} channels (from {path.producer.name}), "
                f"{rows} patches, model MACs {before:,} -> {graph_macs(graph):,}")
        return PassResult(graph, True)
