"""Float kernels of the tensor ops.

Resize is separable: each resized axis is handled on its own with a small table of source indices
and weights per output position (``_AxisTaps``), so the cost is one gather and a few multiply-adds
per axis, whatever the interpolation mode.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from qcc.interp.kernels import kernel
from qcc.ops.tensor import resize_axis_is_identity, resize_scales

Arrays = list[np.ndarray]


@kernel("reshape")
def reshape(xs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> Arrays:
    return [np.reshape(xs[0], attrs["shape"])]


@kernel("concat")
def concat(xs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> Arrays:
    return [np.concatenate(list(xs), axis=attrs["axis"])]


@kernel("split")
def split(xs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> Arrays:
    bounds = np.cumsum(attrs["sizes"])[:-1]
    return [np.ascontiguousarray(p) for p in np.split(xs[0], bounds, axis=attrs["axis"])]


@kernel("slice")
def slice_(xs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> Arrays:
    x = xs[0]
    index = [slice(None)] * x.ndim
    steps = attrs["steps"] or (1,) * len(attrs["axes"])
    for start, end, axis, step in zip(attrs["starts"], attrs["ends"], attrs["axes"], steps):
        # A resolved end of -1 with a negative step means "through index 0", which Python spells None.
        index[axis] = slice(start, None if end < 0 else end, step)
    return [np.ascontiguousarray(x[tuple(index)])]


@kernel("transpose")
def transpose(xs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> Arrays:
    return [np.ascontiguousarray(np.transpose(xs[0], attrs["perm"]))]


@kernel("pad")
def pad(xs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> Arrays:
    x = xs[0]
    pads, rank = attrs["pads"], x.ndim
    begins, ends = pads[:rank], pads[rank:]
    # Negative pads crop, and cropping happens before padding.
    crop = tuple(slice(-min(b, 0), x.shape[i] + min(e, 0)) for i, (b, e) in enumerate(zip(begins, ends)))
    x = x[crop]
    widths = [(max(b, 0), max(e, 0)) for b, e in zip(begins, ends)]
    if attrs["mode"] == "constant":
        fill = np.array(attrs["value"]).astype(x.dtype)
        return [np.pad(x, widths, mode="constant", constant_values=fill)]
    return [np.pad(x, widths, mode=attrs["mode"])]  # numpy's reflect, edge and wrap are ONNX's


@kernel("gather")
def gather(xs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> Arrays:
    data, indices = xs
    # np.take accepts negative indices Python-style and raises IndexError out of range.
    return [np.take(data, indices.astype(np.intp, copy=False), axis=attrs["axis"])]


@kernel("gather_elements")
def gather_elements(xs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> Arrays:
    data, indices = xs
    axis = attrs["axis"]
    dim = data.shape[axis]
    if indices.size and (indices.min() < -dim or indices.max() >= dim):
        raise IndexError(f"gather_elements index out of range [{-dim}, {dim}) of axis {axis}")
    idx = np.where(indices < 0, indices + dim, indices).astype(np.intp, copy=False)
    # indices may be shorter than data on the other axes; numpy wants them to match.
    data = data[tuple(slice(None) if k == axis else slice(0, n) for k, n in enumerate(indices.shape))]
    return [np.take_along_axis(data, idx, axis=axis)]


@kernel("expand")
def expand(xs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> Arrays:
    return [np.array(np.broadcast_to(xs[0], attrs["shape"]))]


@kernel("tile")
def tile(xs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> Arrays:
    return [np.tile(xs[0], attrs["repeats"])]


@kernel("cast")
def cast(xs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> Arrays:
    return [xs[0].astype(attrs["to"].numpy)]


# ---- resize ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _AxisTaps:
    """How one axis is resampled: output position j reads source indices ``index[j, :]`` with
    ``weight[j, :]`` (no weights: nearest, a single tap), and is the extrapolation value where
    ``outside[j]`` (tf_crop_and_resize)."""

    index: np.ndarray
    weight: np.ndarray | None
    outside: np.ndarray | None


def source_coords(mode: str, out_len: int, in_len: int, scale: float, out_width: float, roi: tuple[float, float] | None) -> np.ndarray:
    """Operand coordinate of each result position along one axis. ``out_width`` is the possibly
    fractional result length ``scale * in_len`` that align_corners and tf_crop_and_resize use."""
    y = np.arange(out_len, dtype=np.float64)
    if mode == "half_pixel":
        return (y + 0.5) / scale - 0.5
    if mode == "half_pixel_symmetric":
        offset = in_len / 2 * (1 - out_len / out_width)
        return offset + (y + 0.5) / scale - 0.5
    if mode == "pytorch_half_pixel":
        return (y + 0.5) / scale - 0.5 if out_len > 1 else np.zeros(out_len)
    if mode == "asymmetric":
        return y / scale
    if mode == "tf_half_pixel_for_nn":
        return (y + 0.5) / scale
    if mode == "align_corners":
        return np.zeros(out_len) if out_width == 1 else y * (in_len - 1) / (out_width - 1)
    assert mode == "tf_crop_and_resize" and roi is not None
    start, end = roi
    if out_width == 1:
        return np.full(out_len, (end - start) * (in_len - 1) / 2 + start * (in_len - 1))
    return y * (end - start) * (in_len - 1) / (out_width - 1) + start * (in_len - 1)


def _nearest_offset(frac: np.ndarray, mode: str) -> np.ndarray:
    """1 where nearest rounding goes up from floor(x), given the fraction x - floor(x)."""
    if mode == "round_prefer_floor":
        return frac > 0.5
    if mode == "round_prefer_ceil":
        return frac >= 0.5
    if mode == "floor":
        return np.zeros_like(frac, dtype=bool)
    return frac > 0  # ceil


def _linear_kernel(d: np.ndarray, _a: float) -> np.ndarray:
    return np.clip(1 - np.abs(d), 0, None)


def _cubic_kernel(d: np.ndarray, a: float) -> np.ndarray:
    """Keys' cubic convolution kernel with parameter a (support [-2, 2])."""
    t = np.abs(d)
    near = ((a + 2) * t - (a + 3)) * t * t + 1
    far = ((a * t - 5 * a) * t + 8 * a) * t - 4 * a
    return np.where(t <= 1, near, np.where(t < 2, far, 0.0))


_FILTERS: dict[str, tuple[Callable[[np.ndarray, float], np.ndarray], int]] = {
    "linear": (_linear_kernel, 1),
    "cubic": (_cubic_kernel, 2),
}


def _axis_taps(in_len: int, out_len: int, scale: float, out_width: float, roi: tuple[float, float] | None, attrs: Mapping[str, Any]) -> _AxisTaps:
    """The index/weight table of one resized axis."""
    coord_mode = attrs["coordinate_transformation_mode"]
    x = source_coords(coord_mode, out_len, in_len, scale, out_width, roi)
    outside = (x < 0) | (x > in_len - 1) if coord_mode == "tf_crop_and_resize" else None
    base = np.floor(x)
    frac = x - base
    if attrs["mode"] == "nearest":
        index = base.astype(np.int64) + _nearest_offset(frac, attrs["nearest_mode"])
        return _AxisTaps(np.clip(index, 0, in_len - 1)[:, None], None, outside)
    fn, radius = _FILTERS[attrs["mode"]]
    # Antialiasing stretches the filter by 1/scale when downsampling, so more taps contribute.
    stretch = min(scale, 1.0) if attrs["antialias"] else 1.0
    first = math.floor(-radius / stretch) + 1
    offsets = np.arange(first, 1 - first + 1)
    index = base.astype(np.int64)[:, None] + offsets[None, :]
    weight = fn(stretch * (offsets[None, :] - frac[:, None]), attrs["cubic_coeff_a"])
    if attrs["antialias"]:
        weight = weight / weight.sum(axis=1, keepdims=True)
    if attrs["exclude_outside"]:
        weight = np.where((index < 0) | (index >= in_len), 0.0, weight)
        total = weight.sum(axis=1, keepdims=True)
        weight = weight / np.where(total == 0, 1.0, total)
    return _AxisTaps(np.clip(index, 0, in_len - 1), weight, outside)


def _apply_taps(x: np.ndarray, axis: int, taps: _AxisTaps, fill: float) -> np.ndarray:
    """Resample ``x`` along ``axis``: one gather per tap, weighted and summed."""
    along_axis = (-1,) + (1,) * (x.ndim - axis - 1)  # broadcasts a per-position vector over ``axis``
    if taps.weight is None:
        y = np.take(x, taps.index[:, 0], axis=axis)
    else:
        weight = taps.weight.astype(x.dtype)
        y = np.take(x, taps.index[:, 0], axis=axis) * weight[:, 0].reshape(along_axis)
        for k in range(1, taps.index.shape[1]):
            y += np.take(x, taps.index[:, k], axis=axis) * weight[:, k].reshape(along_axis)
    if taps.outside is not None and taps.outside.any():
        y = np.where(taps.outside.reshape(along_axis), np.asarray(fill).astype(y.dtype), y)
    return y


def _compute_dtype(dtype: np.dtype) -> np.dtype:
    """Interpolate f32 (and narrower floats) in f32, everything else (f64, integers) in f64."""
    if (dtype.kind == "f" and dtype.itemsize <= 4) or dtype.name == "bfloat16":
        return np.dtype(np.float32)
    return np.dtype(np.float64)


@kernel("resize")
def resize(xs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> Arrays:
    x = xs[0]
    sizes, roi, rank = attrs["sizes"], attrs["roi"], x.ndim
    scales = resize_scales(x.shape, attrs)
    nearest = attrs["mode"] == "nearest"
    y = x if nearest else x.astype(_compute_dtype(x.dtype))
    for axis in range(rank):
        in_len, out_len, scale = x.shape[axis], sizes[axis], scales[axis]
        axis_roi = (roi[axis], roi[axis + rank]) if roi else None
        if resize_axis_is_identity(in_len, out_len, scale, axis_roi):
            continue
        out_width = scale * in_len if attrs["scales"] else float(out_len)
        taps = _axis_taps(in_len, out_len, scale, out_width, axis_roi, attrs)
        y = _apply_taps(y, axis, taps, attrs["extrapolation_value"])
    if x.dtype.kind in "iu" and y.dtype != x.dtype:  # integer images: round and saturate
        info = np.iinfo(x.dtype)
        y = np.clip(np.rint(y), info.min, info.max)
    return [np.ascontiguousarray(y.astype(x.dtype, copy=False))]
