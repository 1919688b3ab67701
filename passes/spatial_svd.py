"""spatial-svd: split one k x k convolution into k x 1 (rank r) and 1 x k convolutions."""

from __future__ import annotations

from dataclasses import dataclass

from qcc.analysis.macs import node_macs
from qcc.compression.layer_lookup import find_conv
from qcc.compression.spatial_svd import check_splittable, full_rank, split_conv
from qcc.errors import PipelineError
from qcc.ir.core import Graph
from qcc.pipeline import Pass, PassContext, PassResult, register_pass


@register_pass
@dataclass(frozen=True)
class SpatialSvd(Pass):
    """Spatial SVD: the conv `layer` (its ONNX output name or its weight's name; group=1, a
    k_h x k_w kernel with both sides >= 2) becomes a k_h x 1 conv with `rank` output channels followed
    by a 1 x k_w conv (Jaderberg et al., BMVC 2014), from the SVD of the weight W[o, c, i, j] read as
    the (C_in*k_h) x (C_out*k_w) matrix M[(c, i), (o, j)] (rows c-major then i, columns o-major then
    j), truncated to `rank`. MACs fall from C_out*C_in*k_h*k_w per output position to about
    rank*(C_in*k_h + C_out*k_w); at rank = min(C_in*k_h, C_out*k_w) the layer is reproduced to float
    rounding. Run before fold-batchnorm or after it, before calibrate. Data-free; `compress` picks
    the rank from measurements."""

    name = "spatial-svd"
    forbids_ops = frozenset({"quantize", "dequantize"})
    layer: str = ""
    rank: int = 0

    def run(self, graph: Graph, ctx: PassContext) -> PassResult:
        if not self.layer or self.rank < 1:
            raise PipelineError(f"spatial-svd: give layer=NAME and rank=R >= 1 (got layer='{self.layer}' rank={self.rank})")
        node = find_conv(graph, self.layer, self.name)
        before = node_macs(node)
        check_splittable(node, self.name)
        top = full_rank(node)
        first, second = split_conv(graph, node, self.rank, self.name)
        after = node_macs(first) + node_macs(second)
        ctx.log(f"spatial-svd: {self.layer}: rank {self.rank} of {top}, MACs {before:,} -> {after:,}")
        return PassResult(graph, True)
