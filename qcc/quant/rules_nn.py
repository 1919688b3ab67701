"""Integer lowerings of the weight layers (conv, conv_transpose, gemm, matmul) and of pooling."""

from __future__ import annotations

import math

import numpy as np

from qcc.arith.fixedpoint import INT32_MAX, accumulator_bound
from qcc.arith.params import bias_weight_scale_floor
from qcc.ir.core import Node
from qcc.quant.lowering import Lowerer, NoLowering, int_dtype, lowering, scales_of
from qcc.quant.rules_accumulator import lower_accumulator_output, returns_accumulator


def _fused_clamp(node: Node) -> tuple[float, float]:
    return node.attr("act_min"), node.attr("act_max")


def lower_weight_layer(lw: Lowerer, node: Node, float_op: str, channel_axis: int, reduction: int, extra_attrs: dict) -> None:
    """Shared by conv, conv_transpose and gemm: quantize weight and bias, compute the per-channel
    output stage, prove the accumulator width, emit the q. op."""
    s = lw.settings_of(node)
    x_float, w_float = node.inputs[0], node.inputs[1]
    if not w_float.is_const:
        raise NoLowering(f"node '{node.name}' ({node.op}): weights computed at run time cannot be quantized offline")
    x = lw.operand(x_float, s.activation_bits)
    channels = node.result.type.static_shape[1]
    x_scale = x.quant.scale_value()
    bias_data = _real_bias(node, float_op, channels)
    axis = channel_axis if s.per_channel else None
    floor = _weight_scale_floor(bias_data, x_scale, w_float.type.static_shape[channel_axis], axis)
    w = lw.quantize_weight(w_float, s.weight_bits, axis, floor)
    w_scales = scales_of(w.quant, w.type.static_shape[channel_axis])
    if len(w_scales) != channels:  # grouped conv_transpose: weight axis 1 holds C_out/group channels
        w_scales = np.tile(w_scales, channels // len(w_scales))
    operands = [x, w]
    bias_max = 0
    if bias_data is not None:
        bias = lw.quantize_bias(bias_data, x_scale * w_scales, f"{node.inputs[2].name}")
        bias_max = int(np.abs(bias.const_array).max(initial=0))
        operands.append(bias)
    max_w = int(np.abs(w.const_array).max(initial=0))
    acc_bits = lw.accumulator_bits(x, max_w, reduction, bias_max)
    alpha = node.attr("alpha") if float_op == "gemm" else 1.0
    if returns_accumulator(lw, node, acc_bits):  # a graph output that is never requantized (§3.20)
        lower_accumulator_output(lw, node, float_op, operands, alpha * x_scale * w_scales, extra_attrs)
        return
    out_q = lw.qparams(node.result, s.activation_bits)
    bound = accumulator_bound(lw.max_centered(x), max_w, reduction, bias_max)
    multiplier, shift = lw.multipliers(alpha * x_scale * w_scales / out_q.scale_value(), bound=bound)
    qmin, qmax = lw.clamp_bounds(out_q, _fused_clamp(node))
    attrs = dict(extra_attrs, in_zp=x.quant.zero_point_value(), multiplier=multiplier, shift=shift,
                 out_zp=out_q.zero_point_value(), qmin=qmin, qmax=qmax, rounding=lw.rounding,
                 dtype=int_dtype(s.activation_bits), acc_bits=acc_bits)
    lw.result(node.result, lw.add(f"q.{float_op}", operands, attrs, name=node.result.name, quant=out_q))


def _real_bias(node: Node, float_op: str, channels: int) -> np.ndarray | None:
    """The bias as one real number per output channel (gemm's beta/alpha folded in), or None."""
    if len(node.inputs) <= 2:
        return None
    data = np.broadcast_to(np.asarray(node.inputs[2].data, np.float64), (channels,))
    if float_op == "gemm":
        data = data * node.attr("beta") / node.attr("alpha")
    return data


def _weight_scale_floor(bias: np.ndarray | None, x_scale: float, weight_channels: int, axis: int | None) -> np.ndarray | float:
    """The weight scales the bias needs to fit int32 (``bias_weight_scale_floor``), one per weight
    channel (the largest over the groups that share it), or one for a per-tensor weight."""
    if bias is None:
        return 0.0
    floor = bias_weight_scale_floor(bias, x_scale)
    if axis is None:
        return float(floor.max(initial=0.0))
    return floor.reshape(-1, weight_channels).max(axis=0)


@lowering("conv")
def lower_conv(lw: Lowerer, node: Node) -> None:
    w = node.inputs[1].type.static_shape
    keys = ("strides", "pads", "dilations", "group")
    lower_weight_layer(lw, node, "conv", 0, math.prod(w[1:]), {k: node.attr(k) for k in keys})


@lowering("conv_transpose")
def lower_conv_transpose(lw: Lowerer, node: Node) -> None:
    w = node.inputs[1].type.static_shape
    stride = node.attr("strides")
    # each output element sums at most C_in/group * prod(ceil(k/stride)) products
    reduction = (w[0] // node.attr("group")) * math.prod(-(-k // s) for k, s in zip(w[2:], stride))
    keys = ("strides", "pads", "dilations", "group", "output_padding")
    lower_weight_layer(lw, node, "conv_transpose", 1, reduction, {k: node.attr(k) for k in keys})


@lowering("gemm")
def lower_gemm(lw: Lowerer, node: Node) -> None:
    if node.attr("alpha") <= 0:
        raise NoLowering(f"node '{node.name}' (gemm): alpha={node.attr('alpha')} must be > 0 to fold into the multiplier")
    b = node.inputs[1].type.static_shape
    trans_b = node.attr("trans_b")
    reduction = b[1] if trans_b else b[0]
    lower_weight_layer(lw, node, "gemm", 0 if trans_b else 1, reduction, {"trans_a": node.attr("trans_a"), "trans_b": trans_b})


@lowering("matmul")
def lower_matmul(lw: Lowerer, node: Node) -> None:
    """Activation x activation (or x constant, quantized as an activation-like tensor): one
    multiplier; zero points of both operands subtracted (docs/arithmetic.md §3.2)."""
    s = lw.settings_of(node)
    a = lw.operand(node.inputs[0], s.activation_bits)
    b_float = node.inputs[1]
    b = lw.operand(b_float, s.activation_bits)
    out_q = lw.qparams(node.result, s.activation_bits)
    reduction = node.inputs[0].type.static_shape[-1]
    qa, qb = a.quant, b.quant
    acc_bits = 64 if s.activation_bits > 8 else lw.accumulator_bits(a, lw.max_centered(b), reduction)
    bound = accumulator_bound(lw.max_centered(a), lw.max_centered(b), reduction)
    multiplier, shift = lw.multipliers(np.array([qa.scale_value() * qb.scale_value() / out_q.scale_value()]), bound=bound)
    qmin, qmax = lw.clamp_bounds(out_q, _fused_clamp(node))
    attrs = dict(a_zp=qa.zero_point_value(), b_zp=qb.zero_point_value(), multiplier=multiplier, shift=shift, out_zp=out_q.zero_point_value(),
                 qmin=qmin, qmax=qmax, rounding=lw.rounding, dtype=int_dtype(s.activation_bits), acc_bits=acc_bits)
    lw.result(node.result, lw.add("q.matmul", [a, b], attrs, name=node.result.name, quant=out_q))


def _mean(lw: Lowerer, node: Node, axes: tuple[int, ...], keepdims: bool) -> None:
    s = lw.settings_of(node)
    x = lw.operand(node.inputs[0], s.activation_bits)
    out_q = lw.qparams(node.result, s.activation_bits)
    qx = x.quant
    count = math.prod(x.type.static_shape[a] for a in axes)
    bound = lw.max_centered(x) * count  # |Σ (q - zp)|, the int32 sum the kernel requantizes
    if bound > INT32_MAX:
        raise NoLowering(f"node '{node.name}' ({node.op}): a sum of {count} elements could overflow int32 (docs/arithmetic.md §3.5)")
    # one rounding: the sum goes straight to the output grid with M = s_in / (n s_out), so the mean
    # keeps the precision averaging gains instead of being rounded to the input's grid first
    m, sh = lw.multiplier(qx.scale_value() / (count * out_q.scale_value()), bound=bound)
    qmin, qmax = lw.clamp_bounds(out_q, None)
    attrs = dict(axes=axes, keepdims=keepdims, in_zp=qx.zero_point_value(), multiplier=m, shift=sh, out_zp=out_q.zero_point_value(),
                 qmin=qmin, qmax=qmax, rounding=lw.rounding, dtype=int_dtype(s.activation_bits))
    lw.result(node.result, lw.add("q.mean", [x], attrs, name=node.result.name, quant=out_q))


@lowering("global_avg_pool")
def lower_global_avg_pool(lw: Lowerer, node: Node) -> None:
    _mean(lw, node, tuple(range(2, node.inputs[0].type.rank)), True)


@lowering("reduce_mean")
def lower_reduce_mean(lw: Lowerer, node: Node) -> None:
    _mean(lw, node, tuple(node.attr("axes")), node.attr("keepdims"))


@lowering("avg_pool")
def lower_avg_pool(lw: Lowerer, node: Node) -> None:
    """Input and result share parameters (docs/arithmetic.md §3.5); the result's calibration is ignored."""
    s = lw.settings_of(node)
    x = lw.operand(node.inputs[0], s.activation_bits)
    keys = ("kernel_shape", "strides", "pads", "dilations", "ceil_mode", "count_include_pad")
    attrs = {k: node.attr(k) for k in keys}
    attrs["zp"] = x.quant.zero_point_value()
    lw.result(node.result, lw.add("q.avg_pool", [x], attrs, name=node.result.name, quant=x.type.quant))
