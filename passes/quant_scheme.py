"""quant-scheme: state what the graph is quantized for, once, for every later pass to read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from qcc.ir.core import Graph
from qcc.pipeline import Pass, PassContext, PassResult, register_pass
from qcc.quant.scheme import context_target, scheme_for_target


@register_pass
@dataclass(frozen=True)
class QuantSchemePass(Pass):
    """Write the graph's quantization scheme: the context's target (`--target`) with weight and
    activation widths (`weights`, `acts`; 0 = the target's default, e.g. W4A16 on `dsp-w4a16`),
    per-channel weight scales (`auto` = whether the target has them), the calibration `method` and
    per-node `overrides` (`conv_3:weights=4:acts=16`, comma-separated) and how conv/gemm graph
    outputs leave the integer graph (`outputs=accumulator`: their int32 accumulator, which no
    calibration range can clip, docs/arithmetic.md §3.20; `int8`, the default, requantizes them). calibrate, correct-bias,
    adaround and quantize read it, so they cannot disagree about the grid; the C backend refuses a
    graph whose scheme names another target. Without this pass the first of those passes writes the
    target's defaults. Run it before calibrate (after calibrate, quantize converts the calibrated
    ranges to the new widths, but mse/entropy ranges were chosen for the old ones)."""

    name = "quant-scheme"
    forbids_ops = frozenset({"quantize", "dequantize"})
    weights: int = 0
    acts: int = 0
    per_channel: Literal["auto", "true", "false"] = "auto"
    method: Literal["auto", "minmax", "percentile", "mse", "entropy", "search"] = "auto"
    overrides: tuple[str, ...] = ()
    outputs: Literal["int8", "accumulator"] = "int8"

    def run(self, graph: Graph, ctx: PassContext) -> PassResult:
        per_channel = None if self.per_channel == "auto" else self.per_channel == "true"
        scheme = scheme_for_target(context_target(ctx), self.weights, self.acts, per_channel, self.method, self.overrides, self.outputs)
        changed = graph.scheme != scheme
        graph.scheme = scheme
        return PassResult(graph, changed)
