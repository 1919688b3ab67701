"""Reverse-mode rules for the float ops a folded classifier is made of.

The forward pass of training is the float interpreter's own kernels (``qcc.interp``), so training
computes exactly what calibration and the fake-quant simulation compute; this module only adds each
op's vector-Jacobian product. Each rule takes the node's attributes, its operand arrays, its result
array and the gradient of the loss with respect to that result, and returns one gradient per
operand (None where an operand is not differentiable). tests/train/test_backward.py checks every
rule against central finite differences in float64.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from qcc.errors import QccError

Grads = list[np.ndarray | None]
BackwardFn = Callable[[Mapping[str, Any], Sequence[np.ndarray], np.ndarray, np.ndarray], Grads]
BACKWARD: dict[str, BackwardFn] = {}


def backward_rule(*ops: str) -> Callable[[BackwardFn], BackwardFn]:
    def register(fn: BackwardFn) -> BackwardFn:
        for op in ops:
            BACKWARD[op] = fn
        return fn

    return register


def clamp_mask(attrs: Mapping[str, Any], y: np.ndarray) -> np.ndarray | None:
    """Where a fused clamp (``act_min``/``act_max``, put there by fuse-activation) let the value
    through; None when the op has no clamp. Judged on the clamped result: a value exactly on a bound
    counts as clamped, the subgradient every framework picks for ReLU at 0."""
    lo, hi = attrs.get("act_min", -np.inf), attrs.get("act_max", np.inf)
    if lo == -np.inf and hi == np.inf:
        return None
    return (y > lo) & (y < hi)


def through_clamp(attrs: Mapping[str, Any], y: np.ndarray, dy: np.ndarray) -> np.ndarray:
    mask = clamp_mask(attrs, y)
    return dy if mask is None else dy * mask


def unbroadcast(grad: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """Sum a gradient over the axes numpy broadcasting added or stretched to reach ``shape``."""
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad


@backward_rule("conv")
def conv_backward(attrs: Mapping[str, Any], xs: Sequence[np.ndarray], y: np.ndarray, dy: np.ndarray) -> Grads:
    """2-D grouped convolution: per kernel tap, dW_tap = dY · X_tap^T and dX_tap = W_tap^T · dY as
    one batched matmul over the groups, dX scattered back into the padded input (col2im)."""
    x, w = xs[0], xs[1]
    if x.ndim != 4:
        raise QccError(f"training: conv on a {x.ndim - 2}-d input is not supported (2-d only)")
    dy = through_clamp(attrs, y, dy)
    group = attrs["group"]
    (sh, sw), (dh, dw_) = attrs["strides"], attrs["dilations"]
    top, left, bottom, right = attrs["pads"]
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    n, c, hp, wp = xp.shape
    o, cg, kh, kw = w.shape
    og = o // group
    ho, wo = dy.shape[2:]
    positions = n * ho * wo
    dy_g = dy.reshape(n, group, og, ho, wo).transpose(1, 2, 0, 3, 4).reshape(group, og, positions)
    x_g = xp.reshape(n, group, cg, hp, wp)
    w_g = w.reshape(group, og, cg, kh, kw)
    dw = np.zeros_like(w_g)
    dxp = np.zeros_like(x_g)
    for i in range(kh):
        rows = slice(i * dh, i * dh + sh * (ho - 1) + 1, sh)
        for j in range(kw):
            cols = slice(j * dw_, j * dw_ + sw * (wo - 1) + 1, sw)
            tap = x_g[:, :, :, rows, cols].transpose(1, 2, 0, 3, 4).reshape(group, cg, positions)
            dw[:, :, :, i, j] = dy_g @ tap.transpose(0, 2, 1)
            dtap = (w_g[:, :, :, i, j].transpose(0, 2, 1) @ dy_g).reshape(group, cg, n, ho, wo)
            dxp[:, :, :, rows, cols] += dtap.transpose(2, 0, 1, 3, 4)
    dx = dxp.reshape(n, c, hp, wp)[:, :, top : hp - bottom, left : wp - right]
    grads: Grads = [np.ascontiguousarray(dx), dw.reshape(w.shape)]
    if len(xs) > 2:
        grads.append(dy.sum(axis=(0, 2, 3)))
    return grads


@backward_rule("gemm")
def gemm_backward(attrs: Mapping[str, Any], xs: Sequence[np.ndarray], y: np.ndarray, dy: np.ndarray) -> Grads:
    """y = alpha * op(a) @ op(b) + beta * c."""
    dy = through_clamp(attrs, y, dy)
    a, b = xs[0], xs[1]
    op_a = a.T if attrs["trans_a"] else a
    op_b = b.T if attrs["trans_b"] else b
    alpha = attrs["alpha"]
    d_op_a, d_op_b = alpha * (dy @ op_b.T), alpha * (op_a.T @ dy)
    grads: Grads = [d_op_a.T if attrs["trans_a"] else d_op_a, d_op_b.T if attrs["trans_b"] else d_op_b]
    if len(xs) > 2:
        grads.append(unbroadcast(attrs["beta"] * dy, xs[2].shape))
    return grads


@backward_rule("matmul")
def matmul_backward(attrs: Mapping[str, Any], xs: Sequence[np.ndarray], y: np.ndarray, dy: np.ndarray) -> Grads:
    a, b = xs[0], xs[1]
    if a.ndim < 2 or b.ndim < 2:
        raise QccError("training: matmul with a 1-d operand is not supported")
    da = dy @ np.swapaxes(b, -1, -2)
    db = np.swapaxes(a, -1, -2) @ dy
    return [unbroadcast(da, a.shape), unbroadcast(db, b.shape)]


@backward_rule("add")
def add_backward(attrs: Mapping[str, Any], xs: Sequence[np.ndarray], y: np.ndarray, dy: np.ndarray) -> Grads:
    dy = through_clamp(attrs, y, dy)
    return [unbroadcast(dy, xs[0].shape), unbroadcast(dy, xs[1].shape)]


@backward_rule("mul")
def mul_backward(attrs: Mapping[str, Any], xs: Sequence[np.ndarray], y: np.ndarray, dy: np.ndarray) -> Grads:
    dy = through_clamp(attrs, y, dy)
    return [unbroadcast(dy * xs[1], xs[0].shape), unbroadcast(dy * xs[0], xs[1].shape)]


@backward_rule("relu")
def relu_backward(attrs: Mapping[str, Any], xs: Sequence[np.ndarray], y: np.ndarray, dy: np.ndarray) -> Grads:
    return [dy * (y > 0)]


@backward_rule("clip")
def clip_backward(attrs: Mapping[str, Any], xs: Sequence[np.ndarray], y: np.ndarray, dy: np.ndarray) -> Grads:
    return [dy * ((xs[0] > attrs["min"]) & (xs[0] < attrs["max"]))]


@backward_rule("global_avg_pool")
def global_avg_pool_backward(attrs: Mapping[str, Any], xs: Sequence[np.ndarray], y: np.ndarray, dy: np.ndarray) -> Grads:
    x = xs[0]
    count = int(np.prod(x.shape[2:]))
    return [np.broadcast_to(dy / count, x.shape).copy()]


@backward_rule("reshape", "flatten")
def reshape_backward(attrs: Mapping[str, Any], xs: Sequence[np.ndarray], y: np.ndarray, dy: np.ndarray) -> Grads:
    return [dy.reshape(xs[0].shape), *([None] * (len(xs) - 1))]


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of softmax(logits) against integer labels, and its gradient."""
    flat = logits.reshape(len(labels), -1)
    shifted = flat - flat.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(len(labels))
    loss = float(-log_probs[rows, labels].mean())
    grad = np.exp(log_probs)
    grad[rows, labels] -= 1.0
    return loss, (grad / len(labels)).reshape(logits.shape).astype(logits.dtype, copy=False)
