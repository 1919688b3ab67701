"""fold-batchnorm: fold inference-mode batch normalization into the preceding conv or gemm."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qcc.ir.core import Graph, Node
from qcc.ir.rewrite import add_const_operand, replace_result, set_const_operand, single_user
from qcc.ops.nn import batchnorm_affine
from qcc.pipeline import Pass, PassContext, PassResult, register_pass

FOLDABLE_PRODUCERS = frozenset({"conv", "conv_transpose", "gemm"})


def scale_output_channels(producer: Node, weight: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Multiply the weight's output-channel slices by ``s`` (the layout differs per op)."""
    if producer.op == "conv":  # [C_out, C_in/g, k...]
        return weight * s.reshape((-1,) + (1,) * (weight.ndim - 1))
    if producer.op == "conv_transpose":  # [C_in, C_out/g, k...], output channel = group * C_out/g + j
        groups = producer.attr("group")
        c_in, c_out_g = weight.shape[0], weight.shape[1]
        w = weight.reshape((groups, c_in // groups, c_out_g) + weight.shape[2:])
        w = w * s.reshape((groups, 1, c_out_g) + (1,) * (weight.ndim - 2))
        return w.reshape(weight.shape)
    # gemm: output channels are the columns of op(B)
    return weight * (s[:, None] if producer.attr("trans_b") else s[None, :])


@register_pass
@dataclass(frozen=True)
class FoldBatchNorm(Pass):
    """Fold each batch_norm that follows a conv, conv_transpose (depthwise and grouped included) or
    gemm into that op's weights and bias.

    In inference BN is a per-channel affine map y = s*x + t, so W' = s*W and b' = s*b + t give the
    same outputs with one op less, and the quantizer then sees the weights the device will use.
    A BN whose producer has other users, a fused clamp, or non-constant weights is left alone.

    The BN's gamma and beta stay on the producer as `bn_gamma`/`bn_beta`: its output was
    normalized to per-channel mean beta and std |gamma|, which the data-free passes use
    (absorb-high-bias, correct-bias{mode=analytic}; Nagel et al. 2019, arXiv:1906.04721)."""

    name = "fold-batchnorm"

    def run(self, graph: Graph, ctx: PassContext) -> PassResult:
        folded = 0
        for bn in list(graph.nodes):
            if bn.op != "batch_norm" or not all(v.is_const for v in bn.inputs[1:]):
                continue
            x = bn.inputs[0]
            producer = x.producer
            if producer is None or producer.op not in FOLDABLE_PRODUCERS or single_user(x) is not bn:
                continue
            if producer.attr("act_min") != float("-inf") or producer.attr("act_max") != float("inf"):
                continue
            if not producer.inputs[1].is_const or (len(producer.inputs) > 2 and not producer.inputs[2].is_const):
                continue
            self._fold(graph, producer, bn)
            folded += 1
        graph.remove_unused_constants()  # the BN statistics
        return PassResult(graph, folded > 0)

    @staticmethod
    def _fold(graph: Graph, producer: Node, bn: Node) -> None:
        s, t = batchnorm_affine(bn)
        weight = producer.inputs[1].const_array
        dtype = weight.dtype
        set_const_operand(graph, producer, 1, scale_output_channels(producer, weight.astype(np.float64), s).astype(dtype))
        has_bias = len(producer.inputs) > 2
        if producer.op == "gemm":
            beta = producer.attr("beta") if has_bias else 0.0
            c = producer.inputs[2].const_array.astype(np.float64) if has_bias and beta != 0.0 else np.zeros(())
            bias = (beta * c * s + t).astype(dtype)  # beta folded in, so the new beta is 1
            if has_bias:
                set_const_operand(graph, producer, 2, bias)
            else:
                add_const_operand(graph, producer, bias, f"{producer.name}_bias")
            producer.set_attr("beta", 1.0)
        else:
            b = producer.inputs[2].const_array.astype(np.float64) if has_bias else np.zeros_like(s)
            bias = (b * s + t).astype(dtype)
            if has_bias:
                set_const_operand(graph, producer, 2, bias)
            else:
                add_const_operand(graph, producer, bias, f"{producer.name}_bias")
        gamma, beta = (np.asarray(v.data, dtype=np.float32).reshape(-1) for v in bn.inputs[1:3])
        producer.set_attr("bn_gamma", gamma)
        producer.set_attr("bn_beta", beta)
        replace_result(graph, bn.result, producer.result)
