"""Where a weight layer (conv, conv_transpose, gemm) keeps its channels.

Every PTQ pass needs the same few facts about a weight layer: which weight entries belong to output
channel o or to input channel i, the per-channel weight ranges, the bias as one value per output
channel, and the fused clamp. They are answered here once, through one canonical view of the weight:

    [G, O_g, I_g, K]   (groups, output channels per group, input channels per group, kernel taps)

with output channel o = g * O_g + j and input channel i = g * I_g + l. A conv weight
[C_out, C_in/G, k...] reshapes to it directly; a conv_transpose weight [C_in, C_out/G, k...] after
swapping its channel axes; a gemm is one group with one tap: op(B) is [K, N], so the view holds
op(B)^T as [1, N, K, 1].
"""

from __future__ import annotations

import math

import numpy as np

from qcc.ir.core import Graph, Node
from qcc.ir.rewrite import add_const_operand, set_const_operand

WEIGHT_LAYER_OPS = frozenset({"conv", "conv_transpose", "gemm"})


def is_weight_layer(node: Node) -> bool:
    """A conv, conv_transpose or gemm with a constant float weight (what the PTQ passes rewrite)."""
    if node.op not in WEIGHT_LAYER_OPS or len(node.inputs) < 2:
        return False
    w = node.inputs[1]
    if not (w.is_const and w.type.dtype.is_float):
        return False
    if len(node.inputs) > 2 and not node.inputs[2].is_const:
        return False
    return node.op != "gemm" or not node.attr("trans_a")


def groups(node: Node) -> int:
    return node.attr("group") if node.op in ("conv", "conv_transpose") else 1


def output_channels(node: Node) -> int:
    return int(node.result.type.shape[1])


def input_channels(node: Node) -> int:
    return int(node.inputs[0].type.shape[1])


def canonical(node: Node, weight: np.ndarray) -> np.ndarray:
    """The weight as [G, O_g, I_g, K] (a new array)."""
    w = np.asarray(weight)
    if node.op == "gemm":
        wt = w if node.attr("trans_b") else w.T  # [N, K]
        return np.array(wt[None, :, :, None])
    g = groups(node)
    taps = math.prod(w.shape[2:])
    if node.op == "conv":
        return np.array(w.reshape(g, w.shape[0] // g, w.shape[1], taps))
    # conv_transpose: [C_in, C_out/G, k...] -> [G, I_g, O_g, K] -> [G, O_g, I_g, K]
    return np.array(w.reshape(g, w.shape[0] // g, w.shape[1], taps).transpose(0, 2, 1, 3))


def from_canonical(node: Node, view: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Back from [G, O_g, I_g, K] to the op's weight layout (shape and dtype of ``like``)."""
    if node.op == "gemm":
        wt = view[0, :, :, 0]
        return np.ascontiguousarray(wt if node.attr("trans_b") else wt.T).astype(like.dtype)
    if node.op == "conv":
        return view.reshape(like.shape).astype(like.dtype)
    return np.ascontiguousarray(view.transpose(0, 2, 1, 3)).reshape(like.shape).astype(like.dtype)


def output_ranges(view: np.ndarray) -> np.ndarray:
    """max |w| per output channel [C_out] of a canonical view (DFQ's r^(1))."""
    return np.abs(view).max(axis=(2, 3)).reshape(-1)


def input_ranges(view: np.ndarray) -> np.ndarray:
    """max |w| per input channel [C_in] of a canonical view (DFQ's r^(2))."""
    return np.abs(view).max(axis=(1, 3)).reshape(-1)


def scale_outputs(view: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Multiply output channel o by s[o]."""
    g, og = view.shape[:2]
    return view * s.reshape(g, og, 1, 1)


def scale_inputs(view: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Multiply the weights that read input channel i by s[i]."""
    g, _, ig = view.shape[:3]
    return view * s.reshape(g, 1, ig, 1)


def sum_over_inputs(view: np.ndarray, per_input: np.ndarray) -> np.ndarray:
    """sum over i and taps of w[o, i, k] * v[i], per output channel: what a layer adds to every
    output position when each input channel i carries the constant v[i] (no padding in play)."""
    g, og, ig, _ = view.shape
    return np.einsum("gjlk,gl->gj", view.astype(np.float64), per_input.reshape(g, ig).astype(np.float64)).reshape(g * og)


def pads_input(node: Node) -> bool:
    """Whether some output position of a conv reads padding (so a constant input is not constant
    over the padded input)."""
    return node.op == "conv" and any(node.attr("pads"))


def linear_scale(node: Node) -> float:
    """The factor in front of the product (gemm's alpha; 1 for convolutions)."""
    return float(node.attr("alpha")) if node.op == "gemm" else 1.0


def clamp(node: Node) -> tuple[float, float]:
    """The fused clamp [act_min, act_max] of a layer."""
    return float(node.attr("act_min")), float(node.attr("act_max"))


def bias_vector(node: Node) -> np.ndarray | None:
    """The bias as one float64 value per output channel (zeros when the layer has none), or None
    when it is not per channel (a gemm C that differs between rows)."""
    channels = output_channels(node)
    if len(node.inputs) < 3:
        return np.zeros(channels)
    data = np.asarray(node.inputs[2].data, dtype=np.float64)
    if node.op != "gemm":
        return data.reshape(channels).copy()
    if node.attr("beta") == 0.0:
        return np.zeros(channels)
    rows = np.broadcast_to(data, node.result.type.static_shape).reshape(-1, channels)
    if np.any(rows != rows[0]):
        return None
    return node.attr("beta") * rows[0]


def set_bias_vector(graph: Graph, node: Node, bias: np.ndarray) -> None:
    """Give the layer the per-channel bias ``bias`` (adding a bias operand if it had none; a gemm's
    beta, already part of ``bias``, becomes 1)."""
    dtype = node.inputs[1].const_array.dtype
    array = np.asarray(bias, dtype=np.float64).astype(dtype)
    if len(node.inputs) > 2:
        set_const_operand(graph, node, 2, array)
    else:
        add_const_operand(graph, node, array, f"{node.name}_bias")
    if node.op == "gemm":
        node.set_attr("beta", 1.0)


def set_weight(graph: Graph, node: Node, weight: np.ndarray) -> None:
    """Replace the layer's weight constant (keeping its name)."""
    set_const_operand(graph, node, 1, weight)
