"""AdaRound's optimizer: learn, per weight, whether to round down or up (Nagel, Amjad, van Baalen,
Louizos, Blankevoort, "Up or Down? Adaptive Rounding for Post-Training Quantization", ICML 2020,
arXiv:2004.10568).

For a weight w on the grid of scale s, the quantized weight is

    w~ = s * (floor(w / s) + h(V)),    h(V) = clip(sigmoid(V) * (zeta - gamma) + gamma, 0, 1)

with the rectified sigmoid h (zeta = 1.1, gamma = -0.1) and one continuous V per weight,
initialized so that h(V) = w/s - floor(w/s) (w~ = w at the start). V minimizes

    E || f(W x) - f(W~ x~) ||^2 / E0  +  (lambda / n) * sum_w (1 - |2 h(V) - 1|^beta)

the layer's output reconstruction error (f its fused activation clamp; x its input in the float
network, x~ its input with everything upstream quantized: the paper's asymmetric reconstruction; E
the mean over output positions of the squared error summed over channels) plus the regularizer that
drives every h(V) to 0 or 1, with beta annealed linearly from `beta_start` to `beta_end` after a
warm-up without it, so that the soft rounding becomes a hard one. At the end a weight rounds up iff
h(V) >= 0.5 (V >= 0), so each learned integer is floor(w/s) or floor(w/s) + 1: at most one grid step
from rounding to nearest.

Normalization (ours, not the paper's): the reconstruction term is divided by E0, its value with
rounding to nearest, and the regularizer by n, the number of weights learned. The paper weighs an
unnormalized sum, so its lambda depends on a layer's activation scale and size; here one lambda
(`reg`) suits every layer. The defaults (reg 10, lr 0.03, 1000 iterations, batch 32) were chosen on
the example model and on a least-squares toy problem (tests/ptq/test_adaround.py).

Weights that already sit on the grid (w/s an integer up to float error, e.g. the channel maximum
that defines the scale) are kept, not learned: rounding them has no error to trade, and keeping
the channel maxima on +-qmax keeps the scale the quantize pass recomputes exactly the scale used here.

Everything is numpy: the layer as one batched matmul on im2col columns (canonical weight view
[G, O_g, I_g*K], see qcc.ptq.layers), its gradient by hand, Adam (Kingma & Ba, 2015) by hand. The
random batches come from the caller's generator, so a run is deterministic for a seed.

A step's loss is an average over output positions, so a random subset of them estimates it without
bias. On large feature maps a step uses at most `rows` (samples x positions): the same random
positions in each of its samples, and only their windows are copied out of the input. A 416x416
detector's first layers have 43,264 positions per sample; 32 samples of all of them made each step
a 1.4M-row matmul and its im2col copy. Layers with fewer rows per step than the cap (every layer of
the example model) are computed on all positions, as before.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from qcc.interp.kernels.nn import pad_spatial, sliding_windows, window_geometry

ZETA = 1.1
GAMMA = -0.1
ON_GRID = 1e-6  # |w/s - round(w/s)| below this counts as on the grid
LOSS_CHUNK = 64  # samples per loss evaluation at most (fewer when their im2col exceeds the budget)


@dataclass(frozen=True)
class AdaRoundConfig:
    iters: int = 1000
    reg: float = 10.0
    beta_start: float = 20.0
    beta_end: float = 2.0
    warmup: float = 0.2
    batch: int = 32
    lr: float = 0.03
    rows: int = 16384  # samples x output positions per step at most (see the module docstring)


def sigmoid(v: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * v))


def rectified_sigmoid(v: np.ndarray) -> np.ndarray:
    """h(V) = clip(sigmoid(V) * (zeta - gamma) + gamma, 0, 1)."""
    return np.clip(sigmoid(v) * (ZETA - GAMMA) + GAMMA, 0.0, 1.0)


def inverse_rectified_sigmoid(h: np.ndarray) -> np.ndarray:
    """V with h(V) = h for h in [0, 1) (h = 0 maps to the edge where h(V) starts to rise)."""
    p = (np.asarray(h, dtype=np.float64) - GAMMA) / (ZETA - GAMMA)
    return np.log(p / (1.0 - p))


def beta_at(step: int, config: AdaRoundConfig) -> float | None:
    """The regularizer's exponent at a step, or None during the warm-up (no regularizer)."""
    t = step / max(config.iters, 1)
    if t < config.warmup:
        return None
    frac = (t - config.warmup) / max(1.0 - config.warmup, 1e-12)
    return config.beta_start + (config.beta_end - config.beta_start) * frac


class Columns:
    """im2col of a layer's inputs: ``take(index)`` gives [B, G, I_g*K, P] for the samples at
    ``index``. Convolutions use the float interpreter's padded strided windows, padded per take so
    that only the taken samples are ever copied (``inputs`` may be a memmap of all samples); a
    gemm's input [N, K] is one column per sample. ``alpha`` scales the inputs (gemm's alpha).
    ``max_samples`` is how many samples' columns fit in ``chunk_bytes``: optimizer steps take at
    most that many, and loss evaluations at most that many and 64, so the im2col buffers stay
    within the budget however many samples (or however large the feature maps) there are."""

    def __init__(
        self, op: str, attrs: dict, inputs: np.ndarray, groups: int, kernel_shape: Sequence[int], alpha: float = 1.0, chunk_bytes: int = 256 << 20
    ) -> None:
        self.op, self.attrs, self.groups = op, attrs, groups
        self.kernel_shape = tuple(kernel_shape)
        self.inputs = inputs
        self.alpha = np.float32(alpha)
        if op == "conv":
            out_shape, self.begin, self.end = window_geometry(np.asarray(inputs[:1]), self.kernel_shape, attrs)
            self.out_shape = tuple(out_shape)
            self.positions = math.prod(self.out_shape)
        else:
            self.positions = 1
        sample_bytes = inputs.shape[1] * math.prod(self.kernel_shape) * self.positions * 4  # [I*K, P] float32
        self.max_samples = max(1, chunk_bytes // max(sample_bytes, 1))
        self.loss_chunk = min(LOSS_CHUNK, self.max_samples)

    def take(self, index: np.ndarray, positions: np.ndarray | None = None) -> np.ndarray:
        """Columns of the samples at ``index``; of the output positions ``positions`` only (flat
        indices into the output map, in that order) when given, [B, G, I_g*K, len(positions)]."""
        x = np.asarray(self.inputs[index])
        if self.alpha != 1.0:
            x = x * self.alpha
        if self.op == "gemm":
            return x.reshape(len(index), 1, x.shape[-1], 1)
        padded = pad_spatial(x, self.begin, self.end, 0)
        win = sliding_windows(padded, self.kernel_shape, self.attrs["strides"], self.attrs["dilations"], self.out_shape)
        b, c = win.shape[:2]
        if positions is not None:  # fancy indexing copies only the chosen windows
            coords = (Ellipsis, *np.unravel_index(positions, self.out_shape))
            win = cast(Any, win)[coords]
        count = self.positions if positions is None else len(positions)
        return np.ascontiguousarray(win).reshape(b, self.groups, (c // self.groups) * math.prod(self.kernel_shape), count)


def layer_forward(weights: np.ndarray, cols: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """[G, O_g, I_g*K] x [B, G, I_g*K, P] + bias [G, O_g, 1] -> [B, G, O_g, P]."""
    return np.matmul(weights[None], cols) + bias


def layer_weight_grad(grad_out: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """d loss / d weights [G, O_g, I_g*K] from d loss / d out [B, G, O_g, P]."""
    return np.matmul(grad_out, cols.transpose(0, 1, 3, 2)).sum(axis=0)


@dataclass
class RoundingResult:
    ints: np.ndarray  # learned integers, canonical [G, O_g, I_g*K]
    nearest_loss: float  # reconstruction loss with rounding to nearest (on all samples)
    learned_loss: float  # the same with the learned rounding
    flipped: int  # weights rounded the other way than to nearest


class _Adam:
    def __init__(self, shape: tuple[int, ...], lr: float, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> None:
        self.m = np.zeros(shape)
        self.v = np.zeros(shape)
        self.lr, self.b1, self.b2, self.eps, self.t = lr, b1, b2, eps, 0

    def step(self, param: np.ndarray, grad: np.ndarray) -> None:
        self.t += 1
        self.m = self.b1 * self.m + (1 - self.b1) * grad
        self.v = self.b2 * self.v + (1 - self.b2) * grad * grad
        m_hat = self.m / (1 - self.b1**self.t)
        v_hat = self.v / (1 - self.b2**self.t)
        param -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


def learn_rounding(
    weights: np.ndarray,
    scale: np.ndarray,
    qrange: tuple[int, int],
    columns: Columns,
    target: np.ndarray,
    bias: np.ndarray,
    clamp: tuple[float, float],
    config: AdaRoundConfig,
    rng: np.random.Generator,
    steps: Iterable[int] | None = None,
) -> RoundingResult:
    """Learn the rounding of ``weights`` (canonical [G, O_g, I_g*K], float64) on the grid ``scale``
    (broadcastable to it) for a layer whose quantized-input columns are ``columns`` and whose float
    output (after its clamp) is ``target`` [N, G, O_g, P]. ``bias`` is [G, O_g, 1]. ``steps``
    iterates over the step numbers (a progress bar); default range(config.iters)."""
    qmin, qmax = qrange
    ratio = weights / scale
    nearest = np.clip(np.rint(ratio), qmin, qmax)
    on_grid = np.abs(ratio - nearest) < ON_GRID
    base = np.where(on_grid, nearest, np.floor(ratio))
    free = ~on_grid
    rest = np.where(free, ratio - base, 0.0)
    v = inverse_rectified_sigmoid(np.clip(rest, 0.0, 1.0 - 1e-6))
    lo, hi = clamp
    clamped = math.isfinite(lo) or math.isfinite(hi)
    nearest_loss = reconstruction_loss(nearest * scale, columns, target, bias, clamp)
    if nearest_loss == 0.0 or not np.any(free):
        return RoundingResult(nearest.astype(np.int64), nearest_loss, nearest_loss, 0)
    n = target.shape[0]
    batch = min(config.batch, n, columns.max_samples)
    scale32 = np.broadcast_to(scale, weights.shape).astype(np.float32)
    base32 = base.astype(np.float32)
    bias32 = bias.astype(np.float32)
    n_free = int(np.count_nonzero(free))
    adam = _Adam(v.shape, config.lr)
    sampled = columns.positions * batch > config.rows
    per_sample = max(1, config.rows // batch)
    for step in steps if steps is not None else range(config.iters):
        index = np.sort(rng.choice(n, size=batch, replace=False))
        positions = np.sort(rng.choice(columns.positions, size=per_sample, replace=False)) if sampled else None
        cols = columns.take(index, positions)
        step_target = target[index] if positions is None else target[index][..., positions]
        sig = sigmoid(v)
        raw = sig * (ZETA - GAMMA) + GAMMA
        h = np.clip(raw, 0.0, 1.0)
        h = np.where(free, h, 0.0)
        w_soft = scale32 * (base32 + h.astype(np.float32))
        out = layer_forward(w_soft, cols, bias32)
        y = np.clip(out, lo, hi) if clamped else out
        diff = y - step_target
        rows = batch * diff.shape[-1]
        grad_out = (2.0 / (rows * nearest_loss)) * diff
        if clamped:
            grad_out = grad_out * ((out > lo) & (out < hi))
        grad_w = layer_weight_grad(grad_out, cols).astype(np.float64)
        dh_dv = np.where((raw > 0.0) & (raw < 1.0) & free, sig * (1.0 - sig) * (ZETA - GAMMA), 0.0)
        grad_v = grad_w * scale * dh_dv
        beta = beta_at(step, config)
        if beta is not None and config.reg > 0:
            centered = 2.0 * h - 1.0
            # d/dh (1 - |2h - 1|^beta) = -2 beta |2h - 1|^(beta - 1) sign(2h - 1)
            grad_v += (config.reg / n_free) * (-2.0 * beta * np.abs(centered) ** (beta - 1.0) * np.sign(centered)) * dh_dv
        adam.step(v, grad_v)
    ints = np.where(free, base + (v >= 0.0), base)
    ints = np.clip(ints, qmin, qmax)
    return RoundingResult(
        ints=ints.astype(np.int64),
        nearest_loss=nearest_loss,
        learned_loss=reconstruction_loss(ints * scale, columns, target, bias, clamp),
        flipped=int(np.count_nonzero(ints != nearest)),
    )


def reconstruction_loss(weights: np.ndarray, columns: Columns, target: np.ndarray, bias: np.ndarray, clamp: tuple[float, float]) -> float:
    """Mean over output positions of the squared output error summed over channels (all samples),
    ``columns.loss_chunk`` samples at a time."""
    total, rows = 0.0, 0
    chunk = columns.loss_chunk
    w = weights.astype(np.float32)
    b = bias.astype(np.float32)
    for start in range(0, target.shape[0], chunk):
        index = np.arange(start, min(start + chunk, target.shape[0]))
        out = layer_forward(w, columns.take(index), b)
        y = np.clip(out, *clamp)
        total += float(np.sum((y.astype(np.float64) - target[index]) ** 2))
        rows += len(index) * target.shape[-1]
    return total / max(rows, 1)
