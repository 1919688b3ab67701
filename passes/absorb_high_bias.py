"""absorb-high-bias: move the part of a bias that the activation lets through into the next layer
(DFQ §4.1, "absorbing high biases")."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qcc.errors import PipelineError
from qcc.ir.core import Graph
from qcc.pipeline import Pass, PassContext, PassResult, register_pass
from qcc.ptq.chains import Link, find_links
from qcc.ptq.layers import bias_vector, canonical, linear_scale, pads_input, set_bias_vector, sum_over_inputs
from qcc.ptq.settings import refuse_calibrated
from qcc.ptq.statistics import bn_stats, has_bn_stats, shift_bn_mean


@register_pass
@dataclass(frozen=True)
class AbsorbHighBias(Pass):
    """High-bias absorption: shrink activation ranges by moving a per-channel constant from one
    layer's bias into the next layer's bias (Nagel et al., ICCV 2019, arXiv:1906.04721, §4.1).

    For h = f(W1 x + b1) and z = W2 h + b2, if f(u - c) = f(u) - c for the inputs that occur,
    then h = f(W1 x + b1 - c) + c and z = W2 f(W1 x + b1 - c) + (b2 + W2 c): the first layer's
    bias becomes b1 - c, the second's b2 + W2 c, and the activation's range shrinks by c. For ReLU
    that holds where u >= c; the paper takes c = max(0, beta - 3 gamma) from the batch-norm
    statistics of the first layer's output (mean beta, std |gamma|, recorded by fold-batchnorm), so
    it holds unless a pre-activation falls more than `sigmas` standard deviations below its mean.
    With no activation it holds for every input. Outputs are unchanged for such inputs.

    What is skipped (and said in the log): clamps other than ReLU (ReLU6's ceiling does not let
    u - c through; run equalize{relu6-as-relu=true} first, as DFQ replaced ReLU6 by ReLU), layers
    without batch-norm statistics, and a second layer that pads its input: its padding would read
    0 where the original layer saw c, changing border outputs. `allow-padding=true` absorbs into
    padded convolutions anyway (an approximation the paper does not discuss). Run after equalize
    (which can enlarge biases) and before calibrate."""

    name = "absorb-high-bias"
    forbids_ops = frozenset({"quantize", "dequantize"})
    sigmas: float = 3.0
    allow_padding: bool = False

    def run(self, graph: Graph, ctx: PassContext) -> PassResult:
        refuse_calibrated(graph, "absorb-high-bias")
        if not self.sigmas >= 0:
            raise PipelineError(f"absorb-high-bias: sigmas={self.sigmas} must be >= 0")
        if not any(has_bn_stats(n) for n in graph.nodes):
            ctx.log("absorb-high-bias: nothing to do: no layer has batch-norm statistics (fold-batchnorm records them when it folds a batch_norm)")
            return PassResult(graph, False)
        links, _ = find_links(graph)
        absorbed = []
        for link in links:
            reason = self._refusal(link)
            if reason:
                ctx.log(f"absorb-high-bias: skip {link}: {reason}")
                continue
            moved = self._absorb(graph, link)
            if moved:
                absorbed.append(f"{link} ({moved} channel(s))")
        if not absorbed:
            ctx.log("absorb-high-bias: nothing to absorb")
            return PassResult(graph, False)
        ctx.log(f"absorb-high-bias: {len(absorbed)} pair(s): {', '.join(absorbed)}")
        return PassResult(graph, True)

    def _refusal(self, link: Link) -> str:
        if link.kind not in ("identity", "relu"):
            return f"{link.kind} does not pass a shifted input through unchanged"
        if not has_bn_stats(link.first):
            return f"{link.first.name} has no batch-norm statistics"
        if link.second.op == "conv_transpose":
            return "a transposed convolution adds W2 c unevenly over its output"
        if pads_input(link.second) and not self.allow_padding:
            return f"{link.second.name} pads its input (allow-padding=true absorbs anyway, changing border outputs)"
        if bias_vector(link.first) is None or bias_vector(link.second) is None:
            return "a bias is not one value per channel"
        return ""

    def _absorb(self, graph: Graph, link: Link) -> int:
        stats = bn_stats(link.first)
        assert stats is not None
        mean, std = stats
        c = np.maximum(0.0, mean - self.sigmas * std)
        if not np.any(c > 0):
            return 0
        b1, b2 = bias_vector(link.first), bias_vector(link.second)
        assert b1 is not None and b2 is not None
        view2 = canonical(link.second, np.asarray(link.second.inputs[1].data, dtype=np.float64))
        set_bias_vector(graph, link.first, b1 - c)
        set_bias_vector(graph, link.second, b2 + linear_scale(link.second) * sum_over_inputs(view2, c))
        shift_bn_mean(link.first, -c)
        return int(np.count_nonzero(c))
