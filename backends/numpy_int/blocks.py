"""Elementwise integer work in cache-sized blocks.

The reference's output stages (requantize, the add rule) are a dozen int64 passes each; over a
whole activation every pass allocates and streams a fresh array through memory. Cut into blocks of
``BLOCK`` elements the temporaries stay in cache, which about halves the time. The ops are
elementwise, so each block's values are those of the whole-array computation: only the speed
changes (and an overflow check names the range of the block it failed in).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

BLOCK = 1 << 15

Index = tuple[int | slice, ...]


def blocks(shape: tuple[int, ...], size: int = BLOCK) -> Iterator[Index]:
    """Indices cutting a C-order array of ``shape`` into contiguous blocks of at most about
    ``size`` elements: whole trailing axes, and a run of the first axis that does not fit."""
    if not shape or 0 in shape:  # a scalar, or nothing to cut: one block
        yield tuple(slice(None) for _ in shape)
        return
    axis, inner = len(shape) - 1, 1
    while axis > 0 and inner * shape[axis] <= size:
        inner *= shape[axis]
        axis -= 1
    step = max(1, size // inner)
    for outer in np.ndindex(*shape[:axis]):
        for start in range(0, shape[axis], step):
            yield (*outer, slice(start, start + step))


def part(array: np.ndarray | int, index: Index, ndim: int) -> np.ndarray | int:
    """The piece of ``array`` that broadcasts against block ``index`` of a rank-``ndim`` array
    (size-1 axes are kept as they are, an axis of full size is indexed like the block)."""
    if np.ndim(array) == 0:
        return array
    a = np.asarray(array).reshape((1,) * (ndim - np.ndim(array)) + np.shape(array))
    return a[tuple((0 if isinstance(i, int) else slice(None)) if n == 1 else i for i, n in zip(index, a.shape))]


def blockwise(fn: Callable[..., np.ndarray], shape: tuple[int, ...], dtype: np.dtype, *arrays: np.ndarray | int) -> np.ndarray:
    """``fn(*arrays).astype(dtype)`` for elementwise ``fn`` whose arrays broadcast to ``shape``,
    computed block by block."""
    out = np.empty(shape, dtype)
    for index in blocks(shape):
        out[index] = fn(*(part(a, index, len(shape)) for a in arrays))
    return out
