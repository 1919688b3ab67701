"""Reference kernels of the ops that return their int32 accumulator (``q.conv_acc``, ``q.gemm_acc``;
docs/arithmetic.md §3.20): the accumulator of q.conv / q.gemm, clamped per output channel, with no
requantization."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qcc.backends.numpy_int.kernels import along_axis, conv_accumulator, gemm_accumulator, int_kernel
from qcc.ir.core import Node


def _clamped(node: Node, acc: np.ndarray, channel_axis: int) -> np.ndarray:
    lo = along_axis(node.attr("acc_min").array.astype(np.int64), channel_axis, acc.ndim)
    hi = along_axis(node.attr("acc_max").array.astype(np.int64), channel_axis, acc.ndim)
    return np.clip(acc, lo, hi).astype(np.int32)


@int_kernel("q.conv_acc")
def qconv_acc(node: Node, xs: Sequence[np.ndarray]) -> list[np.ndarray]:
    return [_clamped(node, conv_accumulator(node, xs, "conv"), channel_axis=1)]


@int_kernel("q.gemm_acc")
def qgemm_acc(node: Node, xs: Sequence[np.ndarray]) -> list[np.ndarray]:
    acc = gemm_accumulator(node, xs)
    return [_clamped(node, acc, channel_axis=acc.ndim - 1)]
