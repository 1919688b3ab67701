"""Spatial SVD of a k_h x k_w convolution: a k_h x 1 convolution with r output channels followed by a
1 x k_w convolution (Jaderberg et al., "Speeding up Convolutional Neural Networks with Low Rank
Expansions", BMVC 2014, scheme 2; the factorization AIMET calls spatial SVD).

The weight W[o, c, i, j] (C_out, C_in, k_h, k_w) is read as the matrix

    M[(c, i), (o, j)] = W[o, c, i, j]        of shape (C_in * k_h) x (C_out * k_w),

rows ordered c-major then i, columns o-major then j. With the SVD M = U S V^T truncated to rank r,
the first conv has weight V1[k, c, i, 0] = U[(c, i), k] * sqrt(S_k) and the second
V2[o, k, 0, j] = sqrt(S_k) * V^T[k, (o, j)], so that sum_k V2[o, k, 0, j] * V1[k, c, i, 0] equals the
rank-r approximation of W[o, c, i, j]. At r = min(C_in * k_h, C_out * k_w) the product is W itself.
Vertical stride, dilation and padding go to the first conv, horizontal ones to the second; the bias
and the fused clamp stay on the second, whose result replaces the layer's.
"""

from __future__ import annotations

import numpy as np

from qcc.analysis.macs import node_macs
from qcc.errors import PipelineError
from qcc.ir.core import Graph, Node
from qcc.ir.rewrite import replace_result


def check_splittable(node: Node, pass_name: str) -> None:
    """Refuse convolutions the factorization does not apply to (one line naming the layer)."""
    w = node.inputs[1]
    if node.op != "conv" or not w.is_const or w.type.rank != 4:
        raise PipelineError(f"{pass_name}: layer '{node.name}' is not a 2-d conv with constant weights")
    if node.attr("group") != 1:
        raise PipelineError(f"{pass_name}: layer '{node.name}' is a grouped conv (group={node.attr('group')}); spatial SVD needs group=1")
    kh, kw = w.type.static_shape[2:]
    if kh < 2 or kw < 2:
        raise PipelineError(f"{pass_name}: layer '{node.name}' has a {kh}x{kw} kernel; spatial SVD needs k x k with k >= 2")


def full_rank(node: Node) -> int:
    """The rank at which the factorization is exact: min(C_in * k_h, C_out * k_w)."""
    c_out, c_in, kh, kw = node.inputs[1].type.static_shape
    return min(c_in * kh, c_out * kw)


def svd_factors(weight: np.ndarray, rank: int) -> tuple[np.ndarray, np.ndarray]:
    """The two weights [rank, C_in, k_h, 1] and [C_out, rank, 1, k_w] of the module docstring."""
    c_out, c_in, kh, kw = weight.shape
    matrix = weight.astype(np.float64).transpose(1, 2, 0, 3).reshape(c_in * kh, c_out * kw)
    u, s, vt = np.linalg.svd(matrix, full_matrices=False)
    # singular vectors are unique up to sign; fix it (largest |entry| of each u column positive)
    # so the factors do not depend on the LAPACK build
    signs = np.sign(u[np.abs(u).argmax(axis=0), np.arange(u.shape[1])])
    signs[signs == 0] = 1.0
    u, vt = u * signs, vt * signs[:, None]
    root = np.sqrt(s[:rank])
    first = (u[:, :rank] * root).T.reshape(rank, c_in, kh, 1)
    second = (root[:, None] * vt[:rank]).reshape(rank, c_out, 1, kw).transpose(1, 0, 2, 3)
    return first.astype(weight.dtype), np.ascontiguousarray(second).astype(weight.dtype)


def split_attrs(node: Node) -> tuple[dict[str, object], dict[str, object]]:
    """Attributes of the k_h x 1 and the 1 x k_w convolutions."""
    attrs = dict(node.attrs)
    for per_channel in ("bn_gamma", "bn_beta"):
        attrs.pop(per_channel, None)  # they describe the second conv's outputs only
    (sh, sw), (dh, dw) = attrs["strides"], attrs["dilations"]
    top, left, bottom, right = attrs["pads"]
    unclamped = {"act_min": -np.inf, "act_max": np.inf}
    first = {**attrs, **unclamped, "strides": [sh, 1], "dilations": [dh, 1], "pads": [top, 0, bottom, 0]}
    second = {**dict(node.attrs), "strides": [1, sw], "dilations": [1, dw], "pads": [0, left, 0, right]}
    return first, second


def split_conv(graph: Graph, node: Node, rank: int, pass_name: str,
               fitted: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> tuple[Node, Node]:
    """Replace ``node`` by its rank-``rank`` factorization in the graph; returns the two convs.
    ``fitted`` = (first weight, second weight, bias) replaces the plain SVD factors (a refit)."""
    check_splittable(node, pass_name)
    top = full_rank(node)
    if not 1 <= rank <= top:
        raise PipelineError(f"{pass_name}: rank={rank} for layer '{node.name}' must be in [1, {top}]")
    first_w, second_w = svd_factors(node.inputs[1].const_array, rank) if fitted is None else fitted[:2]
    first_attrs, second_attrs = split_attrs(node)
    name = node.name
    first_weight = graph.add_const(first_w, f"{node.inputs[1].name}.svd_v")
    second_weight = graph.add_const(second_w, f"{node.inputs[1].name}.svd_h")
    bias = list(node.inputs[2:]) if fitted is None else [graph.add_const(fitted[2], f"{node.inputs[1].name}.svd_bias")]
    first = graph.add_node("conv", [node.inputs[0], first_weight], first_attrs, names=f"{name}.svd_v", before=node)
    second = graph.add_node("conv", [first.result, second_weight, *bias], second_attrs, names=f"{name}.svd_h", after=first)
    replace_result(graph, node.result, second.result)
    graph.remove_unused_constants()
    return first, second


def split_macs(node: Node, rank: int) -> int:
    """MACs of the two convolutions ``split_conv`` would make."""
    return sum(split_macs_parts(node, rank))


def split_macs_parts(node: Node, rank: int) -> tuple[int, int]:
    """MACs of the k_h x 1 and of the 1 x k_w convolution ``split_conv`` would make, counted by the
    one MAC counter on a scratch graph (the model's graph is not touched)."""
    scratch = Graph("svd_probe")
    x = scratch.add_input("x", node.inputs[0].type)
    first_shape, second_shape = split_shapes(node, rank)
    first_attrs, second_attrs = split_attrs(node)
    first = scratch.add_node("conv", [x, scratch.add_const(np.zeros(first_shape, np.float32))], first_attrs)
    second = scratch.add_node("conv", [first.result, scratch.add_const(np.zeros(second_shape, np.float32))], second_attrs)
    return node_macs(first), node_macs(second)


def split_shapes(node: Node, rank: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    c_out, c_in, kh, kw = node.inputs[1].type.static_shape
    return (rank, c_in, kh, 1), (c_out, rank, 1, kw)
