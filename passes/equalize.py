"""equalize: cross-layer equalization of per-channel weight ranges (DFQ §4.1)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from qcc.errors import PipelineError
from qcc.ir.core import Graph, Node
from qcc.ir.rewrite import replace_result
from qcc.ir.serialize import copy_graph
from qcc.pipeline import Pass, PassContext, PassResult, register_pass
from qcc.ptq.chains import Link, find_links
from qcc.ptq.layers import (
    bias_vector,
    canonical,
    from_canonical,
    input_ranges,
    output_ranges,
    scale_inputs,
    scale_outputs,
    set_bias_vector,
    set_weight,
)
from qcc.ptq.ranges import CalibratedCheck
from qcc.ptq.settings import refuse_calibrated
from qcc.ptq.statistics import scale_bn_stats


@register_pass
@dataclass(frozen=True)
class Equalize(Pass):
    """Cross-layer equalization: make the per-channel weight ranges of consecutive layers equal,
    so that one scale per tensor fits every channel (Nagel et al., "Data-Free Quantization Through
    Weight Equalization and Bias Correction", ICCV 2019, arXiv:1906.04721, §4.1).

    For layers y = f(W1 x + b1), z = W2 y + b2 joined by a positively scale-equivariant f
    (f(s x) = s f(x) for s > 0: ReLU, or no activation), scaling output channel i of the first
    layer by 1/s_i and input channel i of the second by s_i leaves z unchanged. With the
    per-channel ranges r1_i = max|W1[i, ...]| and r2_i = max|W2[:, i, ...]|, the paper's
    s_i = sqrt(r1_i * r2_i) / r2_i makes both ranges sqrt(r1_i * r2_i). Chains of more than two
    layers (conv -> depthwise conv -> conv) share their middle layer, so the pairs are equalized in
    turn until no scale moves by more than `tolerance` (relative), at most `sweeps` times.
    Convolutions (grouped and depthwise included), transposed convolutions and gemms are handled;
    the bias of the first layer and its recorded batch-norm statistics scale with its channels.

    ReLU6 (clip to [0, 6], fused into the layer or not) is not scale-equivariant:
    min(s x, 6) != s min(x, 6). By default such a pair is skipped and the pass says so. The DFQ
    paper equalizes MobileNetV2 after replacing ReLU6 by ReLU (its ablation's "replace ReLU6"
    step); `relu6-as-relu=true` does the same for every pair it equalizes, which changes the float
    model wherever a pre-activation exceeded 6 (on the example model: top-1 unchanged, 99.17%).
    Any other clamp is skipped. The float outputs are otherwise unchanged up to float rounding.
    Run it after fold-batchnorm and before calibrate (ranges change); before or after
    fuse-activation.

    Equalization helps per-tensor weight grids most and can cost accuracy elsewhere: it moves range
    between activations too (on docs/zoo.md's mtcnn-onet and ddddocr-ocr at per-channel W8A8 the
    dfq recipe scored below plain rounding). `guard=true` (the recipes' setting) equalizes a copy,
    calibrates and lowers both graphs as calibrate and quantize will, and keeps the equalized one
    only if its integer outputs are at least as close to the float model's on held-out calibration
    samples (qcc.ptq.guard.split_samples)."""

    name = "equalize"
    reads_data = True  # with guard=true; the pre-flight check then runs before it, not after
    forbids_ops = frozenset({"quantize", "dequantize"})
    relu6_as_relu: bool = False
    sweeps: int = 100
    tolerance: float = 1e-9
    guard: bool = False

    def run(self, graph: Graph, ctx: PassContext) -> PassResult:
        refuse_calibrated(graph, "equalize")
        if self.sweeps < 1 or not self.tolerance >= 0:
            raise PipelineError(f"equalize: sweeps={self.sweeps} must be >= 1 and tolerance={self.tolerance} >= 0")
        if not self.guard:
            return self._apply(graph, ctx)
        trial = copy_graph(graph)
        if not self._apply(trial, ctx).modified:
            return PassResult(graph, False)
        check = CalibratedCheck.of(graph, ctx)
        before, after = check.sqnr_db(graph, ctx), check.sqnr_db(trial, ctx)
        verdict = "kept" if after >= before else "reverted (better without it)"
        ctx.log(f"equalize: output SQNR on {check.judged_on} {before:.2f} -> {after:.2f} dB: {verdict}")
        return PassResult(trial, True) if after >= before else PassResult(graph, False)

    def _apply(self, graph: Graph, ctx: PassContext) -> PassResult:
        links, blocked = find_links(graph)
        usable: list[Link] = []
        for line in blocked:
            ctx.log(f"equalize: skip {line}")
        for link in links:
            reason = self._refusal(link)
            if reason:
                ctx.log(f"equalize: skip {link}: {reason}")
            else:
                usable.append(link)
        if not usable:
            ctx.log("equalize: nothing to equalize (no two weight layers joined by ReLU or by no activation)")
            return PassResult(graph, False)
        sweeps, worst = self._equalize(graph, usable)
        for link in usable:
            if link.kind == "relu6":
                _relu6_to_relu(graph, link)
        names = ", ".join(str(link) for link in usable)
        ctx.log(f"equalize: {len(usable)} pair(s) in {sweeps} sweep(s) (last largest |log s| {worst:.2e}): {names}")
        return PassResult(graph, True)

    def _refusal(self, link: Link) -> str:
        kind = link.kind
        if kind == "relu6" and not self.relu6_as_relu:
            return "clip(0, 6) is not scale-equivariant (relu6-as-relu=true replaces it by ReLU, as DFQ did)"
        if kind not in ("identity", "relu", "relu6"):
            return f"{kind} is not scale-equivariant"
        if bias_vector(link.first) is None:
            return f"the bias of {link.first.name} is not one value per channel"
        return ""

    def _equalize(self, graph: Graph, links: list[Link]) -> tuple[int, float]:
        nodes: dict[int, Node] = {}
        views: dict[int, np.ndarray] = {}
        for link in links:
            for node in (link.first, link.second):
                nodes[id(node)] = node
                views[id(node)] = canonical(node, np.asarray(node.inputs[1].data, dtype=np.float64))
        firsts = {id(link.first): link.first for link in links}
        biases = {key: _bias_of(node) for key, node in firsts.items()}
        factors = {key: np.ones(len(biases[key])) for key in firsts}
        sweep, worst = 0, math.inf
        while sweep < self.sweeps and worst > self.tolerance:
            sweep += 1
            worst = 0.0
            for link in links:
                a, b = id(link.first), id(link.second)
                r1, r2 = output_ranges(views[a]), input_ranges(views[b])
                s = np.ones_like(r1)
                live = (r1 > 0) & (r2 > 0)
                s[live] = np.sqrt(r1[live] * r2[live]) / r2[live]
                views[a] = scale_outputs(views[a], 1.0 / s)
                views[b] = scale_inputs(views[b], s)
                biases[a] = biases[a] / s
                factors[a] = factors[a] / s
                worst = max(worst, float(np.max(np.abs(np.log(s)), initial=0.0)))
        for key, node in nodes.items():
            set_weight(graph, node, from_canonical(node, views[key], node.inputs[1].const_array))
        for key, node in firsts.items():
            if len(node.inputs) > 2:
                set_bias_vector(graph, node, biases[key])
            scale_bn_stats(node, factors[key])
        return sweep, worst


def _relu6_to_relu(graph: Graph, link: Link) -> None:
    """Replace the ReLU6 between two equalized layers by ReLU (fused bound or separate clip)."""
    first = link.first
    if first.attr("act_max") == 6.0:
        first.set_attr("act_max", math.inf)
    for act in link.acts:
        if act.op == "clip" and act.attr("max") == 6.0:
            lo = act.attr("min")
            if lo == 0.0:
                relu = graph.add_node("relu", [act.inputs[0]], names=act.result.name, after=act)
                replace_result(graph, act.result, relu.result)
            else:
                act.set_attr("max", math.inf)


def _bias_of(node: Node) -> np.ndarray:
    """The first layer's bias per output channel; a gemm whose C differs between rows cannot be rescaled per channel."""
    bias = bias_vector(node)
    if bias is None:
        raise PipelineError(f"equalize: node '{node.name}' ({node.op}) has a bias that differs between rows; it cannot be rescaled per channel")
    return bias
