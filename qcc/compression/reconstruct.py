"""Least-squares reconstruction of a convolution from a subset of its input channels (He et al.,
"Channel Pruning for Accelerating Very Deep Neural Networks", ICCV 2017, §3.1, the second step of
their alternation; the reconstruction AIMET's channel pruning performs).

The layer is linear in its input patches: y = W x + b with x the C_in*k_h*k_w values under the
kernel at one output position. Given sampled patches X (rows), the target is the layer's own output
Y = X W^T; with only the kept channels' columns X_K, the new weight and a bias correction solve
min ||[X_K, 1] [W_K'^T; d] - Y||^2, so the removed channels' mean contribution moves into the bias.

Two things keep the fit from memorising the calibration samples. The solve is a ridge regression
towards the kept channels' original weights (``RIDGE`` times the mean input energy per weight): where
the patches leave a direction undetermined or weakly determined (a conv after global pooling sees
one patch per sample) the weight stays near its original value instead of taking the minimum-norm
one, which fits the calibration samples exactly and generalises badly. And the patches are sampled so
that there are at least ``ROWS_PER_UNKNOWN`` rows per unknown weight when the data has them.

The target may also be given: sequential reconstruction fits the compressed network's patches to
the ORIGINAL network's outputs of the layer, so each layer also undoes the error of those before it.
"""

from __future__ import annotations

import math

import numpy as np

from qcc.compression.spatial_svd import svd_factors
from qcc.ir.core import Node

# ridge strength relative to the mean input energy per weight: directions of the patches carrying
# less than an average weight's share of the energy stay near the original weights. Chosen by
# held-out output SQNR on mtcnn-onet at 50% MACs (docs/compression.md): 1e-3 overfits 16 calibration
# crops (2.5 / 20.8 / 7.7 dB), 0.1 gives 9.4 / 28.3 / 15.2, 1 gives 10.8 / 27.8 / 24.3, 10 9.3 / 27.1 / 17.6
RIDGE = 1.0
# patches sampled per unknown weight of the layer, when the calibration data has that many positions
ROWS_PER_UNKNOWN = 4


def output_positions(node: Node) -> tuple[int, int]:
    return tuple(node.result.type.static_shape[2:4])  # type: ignore[return-value]


def positions_per_sample(node: Node, samples: int, positions: int) -> int:
    """At least ``positions`` per sample, raised so that ``samples`` samples give ROWS_PER_UNKNOWN
    rows per weight of the layer (c_in * k_h * k_w of them, plus the bias)."""
    unknowns = math.prod(node.inputs[1].type.static_shape[1:]) + 1
    return max(positions, math.ceil(ROWS_PER_UNKNOWN * unknowns / max(samples, 1)))


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


def layer_output(patches: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """The conv's output [rows, C_out] at the sampled patches (float64)."""
    flat = patches.reshape(len(patches), -1).astype(np.float64)
    return flat @ weight.reshape(len(weight), -1).astype(np.float64).T + bias.astype(np.float64)


def fit_layer(patches: np.ndarray, target: np.ndarray, prior_weight: np.ndarray, prior_bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(weight shaped like ``prior_weight``, bias) whose outputs on ``patches`` best match ``target``
    [rows, C_out]: least squares, ridge-regularised towards ``prior_weight`` (the bias is free)."""
    c_out = len(prior_weight)
    x = patches.reshape(len(patches), -1).astype(np.float64)
    design = np.hstack([x, np.ones((len(x), 1))])
    gram = design.T @ design
    strength = RIDGE * max(float(np.mean(np.diag(gram)[:-1])), np.finfo(np.float64).tiny)
    penalty = np.full(len(gram), strength)
    penalty[-1] = 0.0
    prior = np.vstack([prior_weight.reshape(c_out, -1).astype(np.float64).T, prior_bias.astype(np.float64)[None]])
    solution = np.linalg.solve(gram + np.diag(penalty), design.T @ target + penalty[:, None] * prior)
    weight = solution[:-1].T.reshape(prior_weight.shape)
    return weight.astype(prior_weight.dtype), solution[-1].astype(prior_bias.dtype)


def reconstruct(patches: np.ndarray, weight: np.ndarray, bias: np.ndarray, kept: np.ndarray,
                target: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(weight [C_out, len(kept), k_h, k_w], bias [C_out]) that best reproduce ``target`` (default:
    the layer's own output on the patches) from the kept channels."""
    wanted = layer_output(patches, weight, bias) if target is None else target
    return fit_layer(patches[:, kept], wanted, weight[:, kept], bias)


def pruned_layer(patches: np.ndarray, weight: np.ndarray, bias: np.ndarray, keep: int,
                 target: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(kept channels, new weight, new bias) when a conv keeps its ``keep`` most important inputs."""
    kept = strongest_channels(channel_importance(patches, weight), keep)
    new_weight, new_bias = reconstruct(patches, weight, bias, kept, target)
    return kept, new_weight, new_bias


def svd_layer(patches: np.ndarray | None, weight: np.ndarray, bias: np.ndarray, rank: int,
              target: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(k_h x 1 weight, 1 x k_w weight, bias) of the rank-``rank`` spatial SVD. With patches, the
    1 x k_w factor and the bias are refitted by least squares to ``target`` (default: the layer's own
    output): its input at an output position is the k_h x 1 conv applied to that position's patch,
    first[k, c, i] * patch[c, i, j] summed over c and i (padding columns stay zero)."""
    first, second = svd_factors(weight, rank)
    if patches is None:
        return first, second, bias
    wanted = layer_output(patches, weight, bias) if target is None else target
    middle = np.einsum("kci,ncij->nkj", first[..., 0].astype(np.float64), patches.astype(np.float64))[:, :, None, :]
    second, bias = fit_layer(middle, wanted, second, bias)
    return first, second, bias


def kept_count(channels: int, fraction: float) -> int:
    """How many of ``channels`` a keep fraction leaves (at least one)."""
    return max(1, min(channels, int(round(fraction * channels))))
