"""Reverse-mode rules for windowed pooling (max pool, average pool), 2-d, with the interpreter's
padding, strides, dilations, ``ceil_mode`` and ``count_include_pad``.

Both walk the kernel taps the way ``backward.conv_backward`` does: for each tap, the strided slice
of the padded input it reads for every output position. Max pool sends each output's gradient to
the first tap holding the window's maximum (the one numpy's argmax picks; ties are measure-zero in
training data); average pool spreads it evenly over the taps the forward pass counted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from qcc.errors import QccError
from qcc.train.backward import Grads, backward_rule

Tap = tuple[slice, slice]


def _padded(x: np.ndarray, attrs: Mapping[str, Any], out_hw: tuple[int, int], fill: float) -> tuple[np.ndarray, list[Tap], tuple[int, int]]:
    """The input padded with ``fill`` (plus whatever ``ceil_mode``'s last windows reach past the
    padding), the tap slices, and the (top, left) offset of the real input in it."""
    if x.ndim != 4:
        raise QccError(f"training: pooling on a {x.ndim - 2}-d input is not supported (2-d only)")
    (kh, kw), (sh, sw), (dh, dw) = attrs["kernel_shape"], attrs["strides"], attrs["dilations"]
    top, left, bottom, right = attrs["pads"]
    ho, wo = out_hw
    h, w = x.shape[2:]
    extra_h = max(0, (ho - 1) * sh + (kh - 1) * dh + 1 - (h + top + bottom))
    extra_w = max(0, (wo - 1) * sw + (kw - 1) * dw + 1 - (w + left + right))
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom + extra_h), (left, right + extra_w)), constant_values=fill)
    taps = [
        (slice(i * dh, i * dh + sh * (ho - 1) + 1, sh), slice(j * dw, j * dw + sw * (wo - 1) + 1, sw))
        for i in range(kh) for j in range(kw)
    ]
    return xp, taps, (top, left)


def _crop(dxp: np.ndarray, origin: tuple[int, int], shape: Sequence[int]) -> np.ndarray:
    top, left = origin
    return np.ascontiguousarray(dxp[:, :, top : top + shape[2], left : left + shape[3]])


@backward_rule("max_pool")
def max_pool_backward(attrs: Mapping[str, Any], xs: Sequence[np.ndarray], y: np.ndarray, dy: np.ndarray) -> Grads:
    x = xs[0]
    xp, taps, origin = _padded(x, attrs, dy.shape[2:], -np.inf)
    winner = np.stack([xp[:, :, rows, cols] for rows, cols in taps]).argmax(axis=0)
    dxp = np.zeros_like(xp)
    for t, (rows, cols) in enumerate(taps):
        dxp[:, :, rows, cols] += dy * (winner == t)
    return [_crop(dxp, origin, x.shape)]


@backward_rule("avg_pool")
def avg_pool_backward(attrs: Mapping[str, Any], xs: Sequence[np.ndarray], y: np.ndarray, dy: np.ndarray) -> Grads:
    """Each output is the sum of its counted taps over their count: padding counts when
    ``count_include_pad``, what ``ceil_mode`` reaches past the padding never does."""
    x = xs[0]
    xp, taps, origin = _padded(x, attrs, dy.shape[2:], 0.0)
    top, left, bottom, right = attrs["pads"]
    counted = np.zeros(xp.shape[2:], dtype=dy.dtype)
    if attrs["count_include_pad"]:
        counted[: x.shape[2] + top + bottom, : x.shape[3] + left + right] = 1
    else:
        counted[top : top + x.shape[2], left : left + x.shape[3]] = 1
    count = sum(counted[rows, cols] for rows, cols in taps)
    share = dy / np.maximum(count, 1)
    dxp = np.zeros_like(xp)
    for rows, cols in taps:
        dxp[:, :, rows, cols] += share
    return [_crop(dxp, origin, x.shape)]
