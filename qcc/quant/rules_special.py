"""Integer lowerings of the ops that have an integer definition of their own rather than a generic
rescale or table (docs/arithmetic.md §3.8-§3.13): softmax, linear resize, layer normalization,
LRN, PRelu, and the batch_norm that fold-batchnorm could not fold (emitted as a depthwise q.conv
through the weight-layer rule, so that its arithmetic is exactly §3.1's).

Every quantity that needs floats (exp table, resize weights, epsilon, gamma/beta, the LRN power
table, slopes, multipliers) is computed here, offline, and stored on the node.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Mapping
from typing import Any

import numpy as np

from qcc.arith.fixedpoint import INT64_MAX, layer_norm_total_bound
from qcc.arith.lut import build_lut_int16
from qcc.interp.kernels.tensor import source_coords
from qcc.ir.core import Graph, Node, Value
from qcc.ir.types import DType, QuantParams, TensorType
from qcc.ops.integer import integer_op
from qcc.ops.nn import batchnorm_affine
from qcc.ops.quantized import LRN_MAX_SIZE, RESIZE_WEIGHT_BITS, SOFTMAX_MAX_N, SOFTMAX_TABLE_SIZE
from qcc.ops.tensor import resize_axis_is_identity, resize_scales
from qcc.quant.lowering import Lowerer, NoLowering, lowering
from qcc.quant.rules_nn import lower_weight_layer
from qcc.quant.rules_tensor import lower_shared

_SCRATCH: weakref.WeakKeyDictionary[Lowerer, list[Graph]] = weakref.WeakKeyDictionary()
"""Scratch graphs of a lowering run, kept alive as long as its Lowerer: the Lowerer maps float
values to integer ones by identity, so a scratch value must not die (and its id be reused) while
the map may still be read."""

SOFTMAX_OUTPUT = QuantParams(1.0 / 256.0, -128, None, 8)
"""Softmax's result parameters, fixed by its integer definition (docs/arithmetic.md §3.8)."""


def _int8_operand(lw: Lowerer, node: Node, section: str) -> Value:
    """The node's first operand at int8; the ops here are defined on int8 only (narrower grids are
    widened to int8 for them, docs/arithmetic.md §3.19)."""
    if lw.settings_of(node).activation_bits > 8:
        raise NoLowering(
            f"node '{node.name}' ({node.op}): the integer {node.op} is defined on int8 activations only "
            f"(docs/arithmetic.md {section}); quantize this node with acts=8 (overrides={node.name}:acts=8)"
        )
    return lw.operand(node.inputs[0], 8)


def _needs_table(lw: Lowerer, node: Node) -> None:
    if not lw.settings.target.lut:
        raise NoLowering(f"node '{node.name}' ({node.op}) needs a lookup table and target '{lw.settings.target.name}' has none")


def _const(node: Node, index: int, what: str) -> np.ndarray:
    value = node.inputs[index]
    if not value.is_const:
        raise NoLowering(f"node '{node.name}' ({node.op}): the {what} must be a constant to be quantized offline")
    return np.asarray(value.data, dtype=np.float64)


def _scale_zp(value: Value) -> tuple[float, int]:
    q = value.quant
    return q.scale_value(), q.zero_point_value()


# ---- softmax (§3.8) ------------------------------------------------------------------------------


def softmax_exp_table(in_scale: float) -> np.ndarray:
    """E[d] = floor(65536 * exp(-s_in * d) + 0.5) for d = 0..255, float64, as int32."""
    d = np.arange(SOFTMAX_TABLE_SIZE, dtype=np.float64)
    return np.floor(65536.0 * np.exp(-in_scale * d) + 0.5).astype(np.int32)


@lowering("softmax")
def lower_softmax(lw: Lowerer, node: Node) -> None:
    """The result gets scale 1/256 and zero point -128 whatever the calibration saw; consumers read
    them from its type."""
    _needs_table(lw, node)
    x = _int8_operand(lw, node, "§3.8")
    axis = node.attr("axis")
    n = x.type.shape[axis]
    if n > SOFTMAX_MAX_N:
        raise NoLowering(f"node '{node.name}' (softmax): {n} elements along axis {axis}; the integer softmax sums at most {SOFTMAX_MAX_N}")
    table = softmax_exp_table(_scale_zp(x)[0])
    lw.result(node.result, lw.add("q.softmax", [x], {"axis": axis, "table": table}, name=node.result.name, quant=SOFTMAX_OUTPUT))


# ---- linear resize (§3.9) ------------------------------------------------------------------------


def linear_resize_tables(in_shape: tuple[int, ...], attrs: Mapping[str, Any]) -> tuple[list[int], np.ndarray, np.ndarray]:
    """(interpolated axes, int32 index pairs, int16 weight pairs) of a linear resize, the rows of
    each interpolated axis one after the other (docs/arithmetic.md §3.9). Coordinates come from
    the float interpreter's coordinate transform, so both agree on where each sample is taken."""
    sizes = attrs["sizes"]
    scales = resize_scales(in_shape, attrs)
    one = 1 << RESIZE_WEIGHT_BITS
    axes, index, weight = [], [], []
    for axis, (in_len, out_len, scale) in enumerate(zip(in_shape, sizes, scales)):
        if resize_axis_is_identity(in_len, out_len, scale, None):
            continue
        out_width = scale * in_len if attrs["scales"] else float(out_len)
        x = source_coords(attrs["coordinate_transformation_mode"], out_len, in_len, scale, out_width, None)
        i0 = np.floor(x)
        w1 = np.floor((x - i0) * one + 0.5).astype(np.int64)
        i0 = i0.astype(np.int64)
        axes.append(axis)
        index.append(np.stack([np.clip(i0, 0, in_len - 1), np.clip(i0 + 1, 0, in_len - 1)], axis=1))
        weight.append(np.stack([one - w1, w1], axis=1))
    if not axes:
        return [], np.zeros((0, 2), np.int32), np.zeros((0, 2), np.int16)
    return axes, np.concatenate(index).astype(np.int32), np.concatenate(weight).astype(np.int16)


@lowering("resize")
def lower_resize(lw: Lowerer, node: Node) -> None:
    """Nearest: data movement sharing the input's parameters; linear: q.resize (§3.9). Which
    attributes each supports is the integer op table's answer, the same one the C backend gets."""
    spec = integer_op("q.resize" if node.attr("mode") == "linear" else "resize")
    reason = spec.unsupported(node) if spec is not None else "no integer op"
    if reason is not None:
        raise NoLowering(f"node '{node.name}' (resize): {reason}")
    if node.attr("mode") == "linear":
        lower_linear_resize(lw, node)
    else:
        lower_shared(lw, node)


def lower_linear_resize(lw: Lowerer, node: Node) -> None:
    """resize{mode=linear} -> q.resize."""
    attrs = node.attrs
    x = _int8_operand(lw, node, "§3.9")
    axes, index, weight = linear_resize_tables(x.type.static_shape, attrs)
    if len(axes) > 2:
        raise NoLowering(f"node '{node.name}' (resize): {len(axes)} interpolated axes; the integer linear resize handles at most 2")
    q_attrs = {"sizes": attrs["sizes"], "axes": tuple(axes), "index": index, "weight": weight}
    lw.result(node.result, lw.add("q.resize", [x], q_attrs, name=node.result.name, quant=x.type.quant))


# ---- layer normalization (§3.10) -----------------------------------------------------------------


def _per_normalized_element(node: Node, array: np.ndarray, x_shape: tuple[int, ...], axis: int, what: str) -> np.ndarray:
    """gamma/beta broadcast to the normalized shape x_shape[axis:]; refuses one that varies along a
    leading (non-normalized) axis."""
    padded = (1,) * (len(x_shape) - array.ndim) + array.shape
    if any(d != 1 for d in padded[:axis]):
        raise NoLowering(f"node '{node.name}' (layer_norm): {what} of shape {list(array.shape)} varies along a non-normalized axis")
    return np.broadcast_to(array.reshape(padded[axis:]), x_shape[axis:])


@lowering("layer_norm")
def lower_layer_norm(lw: Lowerer, node: Node) -> None:
    x = _int8_operand(lw, node, "§3.10")
    shape, axis = x.type.static_shape, node.attr("axis")
    n = math.prod(shape[axis:])
    gamma = _per_normalized_element(node, _const(node, 1, "scale (gamma)"), shape, axis, "scale")
    beta = _const(node, 2, "bias (beta)") if len(node.inputs) > 2 else np.zeros(())
    beta = _per_normalized_element(node, beta, shape, axis, "bias")
    s_in, zp_in = _scale_zp(x)
    out_q = lw.qparams(node.result, 8)
    s_out = out_q.scale_value()
    eps = int(min(np.rint(node.attr("epsilon") * float(n) ** 3 / (s_in * s_in)), 2.0**60))
    if layer_norm_total_bound(n, eps) > INT64_MAX:
        raise NoLowering(f"node '{node.name}' (layer_norm): {n} normalized elements; the integer layer norm's sum of squares would pass int64")
    multiplier, shift = lw.multipliers(np.abs(gamma) * math.sqrt(n) / (2.0**30 * s_out), bound=1 << 30)
    qmin, qmax = lw.clamp_bounds(out_q, None)
    attrs = dict(
        axis=axis, in_zp=zp_in, eps=eps, multiplier=multiplier, shift=shift,
        gamma_sign=np.sign(gamma).astype(np.int8),
        beta=np.clip(np.rint(beta / s_out), -(2.0**24), 2.0**24).astype(np.int32),
        out_zp=out_q.zero_point_value(), qmin=qmin, qmax=qmax, rounding=lw.rounding, dtype=DType.I8,
    )
    lw.result(node.result, lw.add("q.layer_norm", [x], attrs, name=node.result.name, quant=out_q))


# ---- LRN (§3.11) ---------------------------------------------------------------------------------


@lowering("lrn")
def lower_lrn(lw: Lowerer, node: Node) -> None:
    _needs_table(lw, node)
    size, alpha, beta, bias = (node.attr(k) for k in ("size", "alpha", "beta", "bias"))
    if bias <= 0 or beta < 0 or size > LRN_MAX_SIZE:
        raise NoLowering(f"node '{node.name}' (lrn): the integer LRN needs bias > 0, beta >= 0 and size <= {LRN_MAX_SIZE} (got {bias}, {beta}, {size})")
    x = _int8_operand(lw, node, "§3.11")
    s_in, zp_in = _scale_zp(x)
    out_q = lw.qparams(node.result, 8)
    d_max = max(127 - zp_in, zp_in + 128)
    square_shift = max(0, (size * d_max * d_max).bit_length() - 16)
    coefficient = alpha / size * s_in * s_in

    def power(squares: np.ndarray) -> np.ndarray:
        return (bias + coefficient * squares) ** (-beta)

    s_f = bias ** (-beta) / 32767.0
    table = build_lut_int16(power, 2.0**square_shift, s_f, in_zp=-32768, out_qmin=0, out_qmax=32767)
    multiplier, shift = lw.multiplier(s_in * s_f / out_q.scale_value(), bound=d_max * 32767)
    qmin, qmax = lw.clamp_bounds(out_q, None)
    attrs = dict(size=size, in_zp=zp_in, square_shift=square_shift, table=table, multiplier=multiplier, shift=shift,
                 out_zp=out_q.zero_point_value(), qmin=qmin, qmax=qmax, rounding=lw.rounding, dtype=DType.I8)
    lw.result(node.result, lw.add("q.lrn", [x], attrs, name=node.result.name, quant=out_q))


# ---- PRelu (§3.12) -------------------------------------------------------------------------------


@lowering("prelu")
def lower_prelu(lw: Lowerer, node: Node) -> None:
    x = _int8_operand(lw, node, "§3.12")
    slope = _const(node, 1, "slope")
    s_in, zp_in = _scale_zp(x)
    out_q = lw.qparams(node.result, 8)
    ratio = s_in / out_q.scale_value()
    bound = lw.max_centered(x)
    multiplier, shift = lw.multiplier(ratio, bound=bound)
    neg_multiplier, neg_shift = lw.multipliers(np.abs(slope) * ratio, bound=bound)
    qmin, qmax = lw.clamp_bounds(out_q, None)
    attrs = dict(in_zp=zp_in, multiplier=multiplier, shift=shift, neg_multiplier=neg_multiplier, neg_shift=neg_shift,
                 neg_sign=np.sign(slope).astype(np.int8), out_zp=out_q.zero_point_value(), qmin=qmin, qmax=qmax,
                 rounding=lw.rounding, dtype=DType.I8)
    lw.result(node.result, lw.add("q.prelu", [x], attrs, name=node.result.name, quant=out_q))


# ---- standalone batch normalization (§3.13) -----------------------------------------------------


@lowering("batch_norm")
def lower_batch_norm(lw: Lowerer, node: Node) -> None:
    """y = s*x + t per channel as a depthwise 1x1 q.conv. The conv is described as a float node in
    a scratch graph and handed to the weight-layer rule, so weights, bias, accumulator proof and
    multipliers come from the one implementation conv uses."""
    for index, what in enumerate(("scale", "bias", "mean", "var"), start=1):
        _const(node, index, what)
    s, t = batchnorm_affine(node)
    x_float = node.inputs[0]
    shape = x_float.type.static_shape
    x = lw.operand(x_float, lw.settings_of(node).activation_bits)
    if len(shape) == 2:  # [N, C] -> [N, C, 1] for the conv, and back
        shape = (*shape, 1)
        x = lw.add("reshape", [x], {"shape": shape}, name=f"{node.result.name}_3d", quant=x.type.quant)
    channels, spatial = shape[1], len(shape) - 2
    scratch = Graph(node.result.name)
    _SCRATCH.setdefault(lw, []).append(scratch)
    x_in = scratch.add_input(x_float.name, TensorType(DType.F64, shape, x_float.type.quant))
    lw.result(x_in, x)
    weight = scratch.add_const(s.reshape((channels, 1) + (1,) * spatial), f"{node.result.name}_scale")
    bias = scratch.add_const(t, f"{node.result.name}_shift")
    window = {"strides": (1,) * spatial, "pads": (0,) * (2 * spatial), "dilations": (1,) * spatial, "group": channels}
    conv = scratch.add_node("conv", [x_in, weight, bias], window, names=node.result.name)
    conv.result.type = TensorType(DType.F64, conv.result.type.shape, node.result.type.quant)
    lower_weight_layer(lw, conv, "conv", 0, 1, window)
    y = lw.operand(conv.result)
    if y.type.shape != node.result.type.shape:  # back to [N, C]; the reshape takes the BN's name
        lw.dst.rename(y, f"{node.result.name}_conv")
        y = lw.add("reshape", [y], {"shape": tuple(node.result.type.shape)}, name=node.result.name, quant=y.type.quant)
    lw.result(node.result, y)
