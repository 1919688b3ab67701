"""Least-squares reconstruction of a convolution from a subset of its input channels (He et al.,
"Channel Pruning for Accelerating Very Deep Neural Networks", ICCV 2017, §3.1, the second step of
their alternation; the reconstruction AIMET's channel pruning performs).

The layer is linear in its input patches: y = W x + b with x the C_in*k_h*k_w values under the
kernel at one output position. Given sampled patches X (rows), the target is the layer's own output
Y = X W^T; with only the kept channels' columns X_K, the new weight and a bias correction solve
min ||[X_K, 1] [W_K'^T; d] - Y||^2, so the removed channels' mean contribution moves into the bias.
"""

from __future__ import annotations

import numpy as np

from qcc.ir.core import Node


def output_positions(node: Node) -> tuple[int, int]:
    return tuple(node.result.type.static_shape[2:4])  # type: ignore[return-value]


def conv_patches(x: np.ndarray, node: Node, positions: int, rng: np.random.Generator) -> np.ndarray:
    """Input patches [rows, C_in, k_h, k_w] of a 2-d group=1 conv at ``positions`` random output
    positions per sample of ``x`` [N, C_in, H, W] (every position when there are fewer)."""
    kh, kw = node.inputs[1].type.static_shape[2:]
    (sh, sw), (dh, dw) = node.attr("strides"), node.attr("dilations")
    top, left, bottom, right = node.attr("pads")
    padded = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    out_h, out_w = output_positions(node)
    total = out_h * out_w
    picks = [rng.choice(total, size=min(positions, total), replace=False) for _ in range(x.shape[0])]
    sample = np.concatenate([np.full(len(p), n) for n, p in enumerate(picks)])
    flat = np.concatenate(picks)
    rows = (flat // out_w)[:, None] * sh + np.arange(kh)[None, :] * dh  # [R, k_h]
    cols = (flat % out_w)[:, None] * sw + np.arange(kw)[None, :] * dw  # [R, k_w]
    channels = np.arange(x.shape[1])
    return padded[sample[:, None, None, None], channels[None, :, None, None], rows[:, None, :, None], cols[:, None, None, :]]


def channel_importance(patches: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Per input channel: the L1 norm of its weight slice times the RMS of its input. Plain weight
    L1 would ignore that channels arrive at very different scales (batch norm, ReLU6)."""
    weight_l1 = np.abs(weight.astype(np.float64)).sum(axis=(0, 2, 3))
    input_rms = np.sqrt(np.mean(np.square(patches.astype(np.float64)), axis=(0, 2, 3)))
    return weight_l1 * input_rms


def strongest_channels(importance: np.ndarray, keep: int) -> np.ndarray:
    """Indices of the ``keep`` most important channels, in channel order (ties: lower index)."""
    order = np.argsort(-importance, kind="stable")
    return np.sort(order[:keep])


def reconstruct(patches: np.ndarray, weight: np.ndarray, bias: np.ndarray, kept: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(weight [C_out, len(kept), k_h, k_w], bias [C_out]) that best reproduce the layer's
    pre-activation output from the kept channels on the sampled patches."""
    c_out = weight.shape[0]
    x = patches.reshape(len(patches), -1).astype(np.float64)
    target = x @ weight.reshape(c_out, -1).astype(np.float64).T
    kept_x = patches[:, kept].reshape(len(patches), -1).astype(np.float64)
    design = np.hstack([kept_x, np.ones((len(kept_x), 1))])
    solution, *_ = np.linalg.lstsq(design, target, rcond=None)
    new_weight = solution[:-1].T.reshape(c_out, len(kept), *weight.shape[2:])
    return new_weight.astype(weight.dtype), (bias.astype(np.float64) + solution[-1]).astype(bias.dtype)


def pruned_layer(patches: np.ndarray, weight: np.ndarray, bias: np.ndarray, keep: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(kept channels, new weight, new bias) when a conv keeps its ``keep`` most important inputs."""
    kept = strongest_channels(channel_importance(patches, weight), keep)
    new_weight, new_bias = reconstruct(patches, weight, bias, kept)
    return kept, new_weight, new_bias


def kept_count(channels: int, fraction: float) -> int:
    """How many of ``channels`` a keep fraction leaves (at least one)."""
    return max(1, min(channels, int(round(fraction * channels))))
