"""Exact integer window sums for pooling: the sum of the taps of each window and how many taps the
divisor counts (docs/arithmetic.md §3.5)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from qcc.ops.nn import window_output_size


def window_sums(
    x: np.ndarray,
    kernel: Sequence[int],
    strides: Sequence[int],
    pads: Sequence[int],
    dilations: Sequence[int],
    ceil_mode: bool,
    count_include_pad: bool,
    pad_value: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Per window of x [N, C, D1, ...]: (sum of taps, divisor). Taps on explicit padding hold
    ``pad_value`` and count only with ``count_include_pad``; taps that only ceil_mode adds beyond
    the padding never count and hold nothing."""
    nsp = len(kernel)
    spatial = x.shape[2:]
    outs = [window_output_size(spatial[i], kernel[i], strides[i], dilations[i], pads[i], pads[nsp + i], ceil_mode) for i in range(nsp)]
    # extra room at the end for ceil_mode windows that run past the explicit padding
    extra = [max(0, (outs[i] - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - (spatial[i] + pads[i] + pads[nsp + i])) for i in range(nsp)]
    width = [(0, 0), (0, 0)] + [(pads[i], pads[nsp + i] + extra[i]) for i in range(nsp)]
    values = np.pad(x.astype(np.int64), width, constant_values=0)
    inside = np.pad(np.ones(spatial, np.int64), width[2:], constant_values=0)
    on_pad = np.pad(np.zeros(spatial, np.int64), [(pads[i], pads[nsp + i]) for i in range(nsp)], constant_values=1)
    on_pad = np.pad(on_pad, [(0, e) for e in extra], constant_values=0)
    if count_include_pad:
        values = values + pad_value * on_pad
        counted = inside + on_pad
    else:
        counted = inside
    sums = _windows(values, kernel, strides, dilations, outs, lead=2)
    counts = _windows(counted, kernel, strides, dilations, outs, lead=0)
    return sums, counts


def _windows(a: np.ndarray, kernel: Sequence[int], strides: Sequence[int], dilations: Sequence[int], outs: Sequence[int], lead: int) -> np.ndarray:
    """Sum over each (strided, dilated) window of the trailing spatial axes of ``a``."""
    nsp = len(kernel)
    spans = [(k - 1) * d + 1 for k, d in zip(kernel, dilations)]
    view = sliding_window_view(a, spans, axis=tuple(range(lead, lead + nsp)))
    index = tuple([slice(None)] * lead + [slice(0, o * s, s) for o, s in zip(outs, strides)] + [slice(None, None, d) for d in dilations])
    return view[index].sum(axis=tuple(range(-nsp, 0)))
