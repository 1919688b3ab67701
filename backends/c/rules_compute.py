"""Lowering rules of the ops that compute: convolutions, fully connected layers, matrix products,
element-wise ops, pooling, reductions, softmax, LRN, layer norm and linear resize.

Rules pick the kernel variant (GEMM, depthwise or generic convolution; int8 or int16; 32- or
64-bit accumulators) and pre-arrange constant data for it (padded weight matrices, per-value
tables computed with the reference's own helpers), so that run time does no more than the
arithmetic of docs/arithmetic.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from qcc.arith.fixedpoint import activation_range, multiply_by_quantized_multiplier, requantize
from qcc.backends.c.carrays import Raw
from qcc.backends.c.packing import PACKED_BITS, pack_int4, stored_weight_bits
from qcc.backends.c.rules_integer import is_plain_data, lower_plain_clip
from qcc.backends.c.rules_movement import copy_call, identity_copy
from qcc.backends.c.steps import (
    MAX_DIMS,
    MAX_PANEL,
    PANEL_BYTES,
    ROUNDING,
    SCRATCH,
    CBackendError,
    StepBuilder,
    activation_info,
    broadcast_strides,
    collapse,
    const_data,
    contiguous_strides,
    pad3,
    read,
    requant_fields,
    round_up,
    rule,
    same_type,
    shape_of,
    write,
)
from qcc.interp.interpreter import evaluate
from qcc.ir.core import Node, Value
from qcc.ir.types import DType

# the kernels, the panel-free VNNI path, the depthwise VNNI path, their compile-time vector paths and
# micro-kernel, 4-bit weights
CONV_SOURCES = ("qcc_conv.c", "qcc_conv_direct.c", "qcc_depthwise.c", "qcc_depthwise.h", "qcc_simd.h", "qcc_vnni.h", "qcc_int4.h")
GEMM_SOURCES = ("qcc_gemm.c", "qcc_simd.h", "qcc_int4.h")


def weight_fields(b: StepBuilder, node: Node, values: np.ndarray) -> dict[str, Any]:
    """The ``weight`` and ``weight_bits`` fields of a conv / fc kernel struct: ``values`` in the
    kernel's element order, packed two per byte when the node's weight is 4-bit (packing.py)."""
    bits = stored_weight_bits(node.inputs[1])
    data = pack_int4(values, f"node '{node.name}'") if bits == PACKED_BITS else np.asarray(values).reshape(-1)
    return {"weight": b.array("weight", data, np.int8), "weight_bits": bits}


def unpacked_block_bytes(fields: dict[str, Any]) -> int:
    """Scratch the GEMM kernels take for 4 weight rows unpacked from 4 bits (QCC_W4_BLOCK), else 0."""
    return 4 * int(fields["k_stride"]) if fields["weight_bits"] == PACKED_BITS else 0

# ---- convolutions --------------------------------------------------------------------------------


def conv_geometry(node: Node, transposed: bool) -> dict[str, Any]:
    x, y = node.inputs[0], node.result
    xs, ys = shape_of(x), shape_of(y)
    nsp = len(xs) - 2
    if not 1 <= nsp <= 3:
        raise CBackendError(f"node '{node.name}' ({node.op}): {nsp} spatial axes; the C kernels take 1 to 3")
    w = shape_of(node.inputs[1])
    a = node.attrs
    return {
        "batch": xs[0], "in_c": xs[1], "out_c": ys[1], "groups": int(a["group"]),
        "in_size": pad3(xs[2:], 1), "out_size": pad3(ys[2:], 1), "kernel": pad3(w[2:], 1),
        "stride": pad3(a["strides"], 1), "dilation": pad3(a["dilations"], 1), "pad": pad3(a["pads"][:nsp], 0),
        "in_zp": int(a["in_zp"]),
    }


U8_SHIFT = 128
"""What the int8 GEMM kernels add to every activation: x + 128 is the unsigned operand of vpdpbusd."""


def u8_shifted_bias(bias: np.ndarray | None, weight_rows: np.ndarray, in_zp: int) -> np.ndarray:
    """The bias of the int8 GEMM kernels (qcc_conv_gemm_s8, qcc_fc_s8), which sum (x + 128) * w:
    bias - (128 + zp) * sum_k w per output channel, so that the sum is bias + sum (x - zp) * w. Taken
    modulo 2^32 (the kernels' int32 arithmetic is, and the true accumulator fits int32: proven by
    the quantize pass), so a correction beyond int32 for a very long reduction is still exact."""
    base = np.zeros(len(weight_rows), np.int64) if bias is None else bias.astype(np.int64)
    folded = base - (U8_SHIFT + in_zp) * weight_rows.astype(np.int64).sum(axis=1)
    return ((folded + 2**31) % 2**32 - 2**31).astype(np.int64)


def c4_order(cig: int) -> bool:
    """Whether the GEMM convolution weights are in c4 order (QCC_C4_ORDER in qcc_kernels.h)."""
    return cig % 4 == 0 or cig == 3


def gemm_weight_rows(w: np.ndarray, groups: int) -> np.ndarray:
    """Convolution weights [out_c][in_c/groups][k...] as the GEMM kernels' rows
    [groups][out_c/groups][K]. In c4 order (qcc_vnni.h: input channels in groups of 4, then the
    kernel taps, then the channel within the group) 4 consecutive values are 4 channels at one tap
    (one vpdpbusd lane) and the VNNI builds need no im2col panel; a 3-channel stem gets one zero
    channel for it. Other channel counts stay channel-major, then taps: padding 1 or 2 channels to 4
    would cost more flash than the layer gains."""
    cout, cig = w.shape[:2]
    taps = math.prod(w.shape[2:])
    rows: np.ndarray = w.reshape(cout, cig, taps)
    if c4_order(cig):
        quads = -(-cig // 4)
        padded = np.zeros((cout, quads * 4, taps), dtype=w.dtype)
        padded[:, :cig] = rows
        rows = padded.reshape(cout, quads, 4, taps).transpose(0, 1, 3, 2)
    return rows.reshape(groups, cout // groups, -1)


def panel_tile(k_stride: int, pixels: int) -> int:
    """Output pixels per packed panel of qcc_conv_gemm_*: whole 16-pixel vectors (the VNNI
    micro-kernel's unit; a tile of 14 would waste an eighth of every vector) up to MAX_PANEL, as
    many as fit a u8 panel of 512 KB = 4 * PANEL_BYTES int16 values (64 x 4608, ResNet-50's
    largest, stays in an L2 share), never more than the layer has (rounded up to even)."""
    budget = 8 * PANEL_BYTES // k_stride
    tile = min(MAX_PANEL, budget - budget % 16) if budget >= 16 else max(2, budget - budget % 2)
    return min(tile, round_up(pixels, 2))


def gemm_panel_bytes(tile: int, k_stride: int) -> int:
    """Scratch of qcc_conv_gemm_*: an int16 panel of tile x k_stride (AVX2 and portable paths) or a
    u8 one of tile rounded up to 16 pixels (the VNNI paths): whichever the build picks fits."""
    return max(2 * tile * k_stride, round_up(tile, 16) * k_stride)


DW_BAND_ACCUMULATORS = 2048
"""int32 accumulators per band of the stride-1 depthwise kernel (8 KB: the band and its input stay in L1)."""


def depthwise_band(geo: dict[str, Any]) -> tuple[int, int]:
    """Output rows per band of the stride-1 depthwise kernel and the scratch bytes they need
    (QCC_DW_BAND_SCRATCH in qcc_kernels.h): at least one row, however wide."""
    oh, ow = geo["out_size"][1], geo["out_size"][2]
    padded_width = ow + (geo["kernel"][2] - 1) * geo["dilation"][2]
    extra = (geo["kernel"][1] - 1) * geo["dilation"][1]
    rows = max(1, min(oh, DW_BAND_ACCUMULATORS // padded_width))
    return rows, 4 * (rows * padded_width + 8) + (rows + extra) * padded_width + 64


def depthwise_vector_scratch(geo: dict[str, Any], rows: int) -> int:
    """Scratch bytes of the vector depthwise path (QCC_DW_VECTOR_SCRATCH in qcc_depthwise.h) for
    bands of ``rows`` output rows, any stride: int32 accumulators for the band's outputs, its u8
    input rows, 64 bytes of whole-vector overreach."""
    ow, kh, kw = geo["out_size"][2], geo["kernel"][1], geo["kernel"][2]
    (sh, sw), (dh, dw) = geo["stride"][1:], geo["dilation"][1:]
    width = (ow - 1) * sw + (kw - 1) * dw + 1
    band_rows = (rows - 1) * sh + (kh - 1) * dh + 1
    return 4 * rows * ow + band_rows * width + 64


@rule("q.conv")
def lower_conv(b: StepBuilder, node: Node) -> None:
    x, y = node.inputs[0], node.result
    ctype, suffix, es = same_type(node, x, y)
    geo = conv_geometry(node, False)
    w = const_data(node, node.inputs[1], "weight").astype(np.int64)
    groups, cout = geo["groups"], geo["out_c"]
    cig, cog = geo["in_c"] // groups, cout // groups
    ktotal = cig * math.prod(geo["kernel"])
    bias_values = const_data(node, node.inputs[2], "bias").reshape(-1) if len(node.inputs) > 2 else None
    fields = dict(geo, weight=Raw("NULL"), bias=Raw("NULL"), k_stride=ktotal, rows_per_group=cog, tile=0)
    fields["rq"] = requant_fields(b, node, cout)
    acc32 = not fields["rq"]["acc64"]
    nsp = len(shape_of(x)) - 2
    b.files(*CONV_SOURCES)

    def plain_bias() -> Raw:  # every kernel's bias but the int8 GEMM's (folded, below)
        return b.array("bias", bias_values, np.int32) if bias_values is not None else Raw("NULL")

    if es == 1 and acc32 and not b.force_generic and groups == geo["in_c"] and cig == 1 and nsp <= 2:
        fields["bias"] = plain_bias()
        fields.update(weight_fields(b, node, w))
        # one tile for both C paths: the vector one (any stride) and the stride-1 band of the row kernel
        fields["tile"], band_bytes = depthwise_band(geo)
        vector_bytes = depthwise_vector_scratch(geo, fields["tile"])
        b.step.scratch = max(vector_bytes, band_bytes) if geo["stride"][1:] == [1, 1] else vector_bytes
        b.call("qcc_conv_depthwise_s8", b.struct("qcc_conv_t", "conv", fields), read(x), write(y), SCRATCH)
        return
    gemm_s16 = es == 2 and not acc32 and geo["in_zp"] == 0
    if (es == 1 and acc32 or gemm_s16) and not b.force_generic:
        weight_rows = gemm_weight_rows(w, groups)
        k_stride = round_up(weight_rows.shape[2], 16)
        rows = round_up(cog, 4)
        packed = np.zeros((groups, rows, k_stride), dtype=np.int64)
        packed[:, :cog, :weight_rows.shape[2]] = weight_rows
        pixels = math.prod(geo["out_size"])
        tile = panel_tile(k_stride, pixels)
        fields.update(weight_fields(b, node, packed), k_stride=k_stride, rows_per_group=rows, tile=tile)
        fields["bias"] = b.array("bias", u8_shifted_bias(bias_values, w.reshape(cout, ktotal), geo["in_zp"]), np.int32) if es == 1 else plain_bias()
        b.step.scratch = gemm_panel_bytes(tile, k_stride) + unpacked_block_bytes(fields)
        b.call(f"qcc_conv_gemm_{suffix}", b.struct("qcc_conv_t", "conv", fields), read(x), write(y), SCRATCH)
        return
    fields["bias"] = plain_bias()
    fields.update(weight_fields(b, node, w))
    b.call(f"qcc_conv_{suffix}", b.struct("qcc_conv_t", "conv", fields), read(x), write(y))


@rule("q.conv_transpose")
def lower_conv_transpose(b: StepBuilder, node: Node) -> None:
    x, y = node.inputs[0], node.result
    ctype, suffix, es = same_type(node, x, y)
    geo = conv_geometry(node, True)
    w = const_data(node, node.inputs[1], "weight").astype(np.int64)  # [in_c, out_c/g, k...]
    groups = geo["groups"]
    cig, cog = geo["in_c"] // groups, geo["out_c"] // groups
    k = w.shape[2:]
    # gather form: [out_c][in_c/g][k...], out channel g*cog + o reads in channels g*cig + i
    rearranged = w.reshape(groups, cig, cog, *k).swapaxes(1, 2).reshape(geo["out_c"], cig, *k)
    bias = b.array("bias", const_data(node, node.inputs[2], "bias").reshape(-1), np.int32) if len(node.inputs) > 2 else Raw("NULL")
    fields = dict(geo, **weight_fields(b, node, rearranged), bias=bias,
                  k_stride=0, rows_per_group=0, tile=0, rq=requant_fields(b, node, geo["out_c"]))
    b.files(*CONV_SOURCES)
    b.call(f"qcc_conv_transpose_{suffix}", b.struct("qcc_conv_t", "convt", fields), read(x), write(y))


# ---- fully connected, matmul ---------------------------------------------------------------------


@rule("q.gemm")
def lower_gemm(b: StepBuilder, node: Node) -> None:
    x, y = node.inputs[0], node.result
    ctype, suffix, es = same_type(node, x, y)
    a = node.attrs
    xs, ys = shape_of(x), shape_of(y)
    weight = const_data(node, node.inputs[1], "weight").astype(np.int64)
    wt = weight if a["trans_b"] else weight.T  # [n, k]
    m, n = ys
    k = wt.shape[1]
    row, col = (1, xs[1]) if a["trans_a"] else (xs[1], 1)
    bias_values = np.broadcast_to(const_data(node, node.inputs[2], "bias").reshape(-1), (n,)) if len(node.inputs) > 2 else None
    fields: dict[str, Any] = {"m": m, "n": n, "k": k, "a_row_stride": row, "a_col_stride": col, "in_zp": int(a["in_zp"])}
    rq = requant_fields(b, node, n)
    b.files(*GEMM_SOURCES)
    if es == 1 and not rq["acc64"] and not b.force_generic:
        k_stride, rows = round_up(k, 16), round_up(n, 4)
        packed = np.zeros((rows, k_stride), dtype=np.int64)
        packed[:n, :k] = wt
        bias = b.array("bias", u8_shifted_bias(bias_values, wt, int(a["in_zp"])), np.int32)
        fields.update(weight_fields(b, node, packed), bias=bias, k_stride=k_stride, n_rows=rows, rq=rq)
        b.step.scratch = 2 * k_stride + unpacked_block_bytes(fields)  # an int16 row (or a u8 one: the VNNI paths)
        b.call("qcc_fc_s8", b.struct("qcc_fc_t", "fc", fields), read(x), write(y), SCRATCH)
        return
    bias = b.array("bias", bias_values, np.int32) if bias_values is not None else Raw("NULL")
    fields.update(weight_fields(b, node, wt), bias=bias, k_stride=k, n_rows=n, rq=rq)
    b.call(f"qcc_fc_generic_{suffix}", b.struct("qcc_fc_t", "fc", fields), read(x), write(y))


@rule("q.matmul")
def lower_matmul(b: StepBuilder, node: Node) -> None:
    av, bv, y = node.inputs[0], node.inputs[1], node.result
    ctype, suffix, es = same_type(node, av, y)
    same_type(node, bv, y)
    ash, bsh = list(shape_of(av)), list(shape_of(bv))
    if len(ash) == 1:
        ash = [1] + ash
    if len(bsh) == 1:
        bsh = bsh + [1]
    m, k = ash[-2:]
    n = bsh[-1]
    batch = np.broadcast_shapes(tuple(ash[:-2]), tuple(bsh[:-2]))
    a_index = np.broadcast_to(np.arange(math.prod(ash[:-2]), dtype=np.int64).reshape(ash[:-2]), batch).reshape(-1) * (m * k)
    b_index = np.broadcast_to(np.arange(math.prod(bsh[:-2]), dtype=np.int64).reshape(bsh[:-2]), batch).reshape(-1) * (k * n)
    a = node.attrs
    fields = {
        "batches": int(a_index.size), "m": m, "n": n, "k": k,
        "a_offset": b.array("aoff", a_index, np.int32), "b_offset": b.array("boff", b_index, np.int32),
        "a_zp": int(a["a_zp"]), "b_zp": int(a["b_zp"]), "rq": requant_fields(b, node, n),
    }
    b.files(*GEMM_SOURCES)
    b.call(f"qcc_matmul_{suffix}", b.struct("qcc_matmul_t", "matmul", fields), read(av), read(bv), write(y))


# ---- element-wise --------------------------------------------------------------------------------


def broadcast_fields(a_shape: Sequence[int], b_shape: Sequence[int], out_shape: Sequence[int], where: str) -> dict[str, Any]:
    dims, sa, sb = collapse(out_shape, broadcast_strides(a_shape, out_shape), broadcast_strides(b_shape, out_shape))
    if len(dims) > MAX_DIMS:
        raise CBackendError(f"{where}: broadcast over {len(dims)} axes; the C kernels take at most {MAX_DIMS}")
    return {"ndim": len(dims), "dims": dims, "a_stride": sa, "b_stride": sb}


def same_shape_operands(node: Node) -> tuple[int, ...]:
    y = node.result
    return tuple(i for i, v in enumerate(node.inputs) if not v.is_const and shape_of(v) == shape_of(y) and v.type.dtype == y.type.dtype)


@rule("q.add")
def lower_add(b: StepBuilder, node: Node) -> None:
    av, bv, y = node.inputs[0], node.inputs[1], node.result
    ctype, suffix, es = same_type(node, av, y)
    same_type(node, bv, y)
    a = node.attrs
    fields = {
        "shape": broadcast_fields(shape_of(av), shape_of(bv), shape_of(y), f"node '{node.name}'"),
        "a_zp": a["a_zp"], "b_zp": a["b_zp"], "left_shift": a["left_shift"],
        "a_multiplier": a["a_multiplier"], "a_shift": a["a_shift"], "b_multiplier": a["b_multiplier"], "b_shift": a["b_shift"],
        "multiplier": a["multiplier"], "shift": a["shift"], "subtract": int(a["subtract"]),
        "rounding": ROUNDING[a["rounding"]], "out_zp": a["out_zp"], "qmin": a["qmin"], "qmax": a["qmax"],
        "a_table": Raw("NULL"), "b_table": Raw("NULL"),
    }
    if es == 1:  # each operand's rescale, for every int8 value, by the reference's own helper
        q = np.arange(-128, 128, dtype=np.int64)
        ta = multiply_by_quantized_multiplier((q - a["a_zp"]) << a["left_shift"], a["a_multiplier"], a["a_shift"], a["rounding"])
        tb = multiply_by_quantized_multiplier((q - a["b_zp"]) << a["left_shift"], a["b_multiplier"], a["b_shift"], a["rounding"])
        fields.update(a_table=b.array("atable", ta, np.int32), b_table=b.array("btable", -tb if a["subtract"] else tb, np.int32))
    b.files("qcc_elementwise.c")
    b.step.inplace = same_shape_operands(node)
    b.call(f"qcc_add_{suffix}", b.struct("qcc_add_t", "add", fields), read(av), read(bv), write(y))


@rule("q.mul")
def lower_mul(b: StepBuilder, node: Node) -> None:
    av, bv, y = node.inputs[0], node.inputs[1], node.result
    ctype, suffix, es = same_type(node, av, y)
    same_type(node, bv, y)
    a = node.attrs
    fields = {
        "shape": broadcast_fields(shape_of(av), shape_of(bv), shape_of(y), f"node '{node.name}'"),
        "a_zp": a["a_zp"], "b_zp": a["b_zp"], "multiplier": a["multiplier"], "shift": a["shift"],
        "rounding": ROUNDING[a["rounding"]], "out_zp": a["out_zp"], "qmin": a["qmin"], "qmax": a["qmax"],
    }
    b.files("qcc_elementwise.c")
    b.step.inplace = same_shape_operands(node)
    b.call(f"qcc_mul_{suffix}", b.struct("qcc_mul_t", "mul", fields), read(av), read(bv), write(y))


@rule("q.requantize")
def lower_requantize(b: StepBuilder, node: Node) -> None:
    x, y = node.inputs[0], node.result
    _, sx, _ = activation_info(x, f"node '{node.name}'")
    _, sy, _ = activation_info(y, f"node '{node.name}'")
    a = node.attrs
    fields = {"count": math.prod(shape_of(x)), "in_zp": a["in_zp"], "multiplier": a["multiplier"], "shift": a["shift"],
              "rounding": ROUNDING[a["rounding"]], "out_zp": a["out_zp"], "qmin": a["qmin"], "qmax": a["qmax"],
              "table": Raw("NULL")}
    if sx == "s8":  # the whole map, for every int8 value, by the reference's own helper
        # values outside a narrower input grid (docs/arithmetic.md §3.19) never occur; they map as the
        # grid's edge does, so the table never asks for a rescale the quantize pass did not prove safe
        quant = x.type.quant
        lo, hi = activation_range(quant.bits) if quant is not None else (-128, 127)
        q = np.clip(np.arange(-128, 128, dtype=np.int64), lo, hi)
        table = requantize(q - a["in_zp"], a["multiplier"], a["shift"], a["out_zp"], a["qmin"], a["qmax"], a["rounding"])
        fields["table"] = b.array("table", table, np.int16)
    b.files("qcc_elementwise.c")
    b.step.inplace = (0,) if sx == sy else ()
    b.call(f"qcc_requantize_{sx}_{sy}", b.struct("qcc_requantize_t", "requantize", fields), read(x), write(y))


@rule("q.requantize_axis")
def lower_requantize_axis(b: StepBuilder, node: Node) -> None:
    x, y = node.inputs[0], node.result
    _, suffix, _ = same_type(node, x, y)
    a = node.attrs
    shape, axis = shape_of(x), int(a["axis"])
    fields: dict[str, Any] = {"outer": math.prod(shape[:axis]), "channels": shape[axis], "inner": math.prod(shape[axis + 1:])}
    for key in ("in_zp", "multiplier", "shift", "out_zp"):
        fields[key] = b.array(key, np.asarray(a[key].array), np.int32)
    fields.update(rounding=ROUNDING[a["rounding"]], qmin=a["qmin"], qmax=a["qmax"])
    b.files("qcc_elementwise.c")
    b.step.inplace = (0,)
    b.call(f"qcc_requantize_axis_{suffix}", b.struct("qcc_requantize_axis_t", "requantize_axis", fields), read(x), write(y))


@rule("q.lut")
def lower_lut(b: StepBuilder, node: Node) -> None:
    x, y = node.inputs[0], node.result
    ctype, suffix, es = same_type(node, x, y)
    table = np.asarray(node.attr("table").array)
    want = (256, np.int8) if es == 1 else (513, np.int16)
    if table.shape != (want[0],):
        raise CBackendError(f"node '{node.name}' (q.lut): a {x.type.dtype} input needs a table of {want[0]} entries")
    fields = {"count": math.prod(shape_of(x)), "table": b.array("table", table, want[1])}
    b.files("qcc_elementwise.c")
    b.step.inplace = (0,)
    b.call(f"qcc_lut_{suffix}", b.struct(f"qcc_lut_{suffix}_t", "lut", fields), read(x), write(y))


@rule("clip")
def lower_clip(b: StepBuilder, node: Node) -> None:
    x, y = node.inputs[0], node.result
    info = np.iinfo(x.type.dtype.numpy)
    # the float kernel on the two extremes gives the integer bounds exactly: clip is
    # min(max(x, lo), hi), so f(min) and f(max) are its effective lo and hi
    lo, hi = (int(v) for v in evaluate("clip", [np.array([info.min, info.max], dtype=x.type.dtype.numpy)], node.attrs)[0])
    if is_plain_data(x):
        lower_plain_clip(b, node, lo, hi)
        return
    ctype, suffix, es = same_type(node, x, y)
    b.files("qcc_elementwise.c")
    b.step.inplace = (0,)
    b.call(f"qcc_clip_{suffix}", b.struct("qcc_clip_t", "clip", {"count": math.prod(shape_of(x)), "lo": lo, "hi": hi}), read(x), write(y))


@rule("q.prelu")
def lower_prelu(b: StepBuilder, node: Node) -> None:
    x, y = node.inputs[0], node.result
    same_type(node, x, y)
    if x.type.dtype is not DType.I8:
        raise CBackendError(f"node '{node.name}' (q.prelu): the C kernel takes i8")
    a = node.attrs
    neg_m = np.asarray(a["neg_multiplier"].array)
    slope_shape = neg_m.shape
    shape = broadcast_fields(shape_of(x), slope_shape, shape_of(y), f"node '{node.name}'")
    fields = {
        "shape": shape, "in_zp": a["in_zp"], "multiplier": a["multiplier"], "shift": a["shift"],
        "neg_multiplier": b.array("negmult", neg_m.reshape(-1), np.int32),
        "neg_shift": b.array("negshift", np.asarray(a["neg_shift"].array).reshape(-1), np.int32),
        "neg_sign": b.array("negsign", np.asarray(a["neg_sign"].array).reshape(-1), np.int8),
        "rounding": ROUNDING[a["rounding"]], "out_zp": a["out_zp"], "qmin": a["qmin"], "qmax": a["qmax"],
    }
    b.files("qcc_elementwise.c")
    b.step.inplace = (0,)
    b.call("qcc_prelu_s8", b.struct("qcc_prelu_t", "prelu", fields), read(x), write(y))


# ---- pooling, reductions -------------------------------------------------------------------------


def _pool(b: StepBuilder, node: Node, kind: str, count_include_pad: bool, zp: int) -> None:
    x, y = node.inputs[0], node.result
    ctype, suffix, es = same_type(node, x, y)
    xs, ys = shape_of(x), shape_of(y)
    nsp = len(xs) - 2
    if not 1 <= nsp <= 3:
        raise CBackendError(f"node '{node.name}' ({node.op}): {nsp} spatial axes; the C kernels take 1 to 3")
    a = node.attrs
    pads = a["pads"]
    fields = {
        "planes": xs[0] * xs[1], "in_size": pad3(xs[2:], 1), "out_size": pad3(ys[2:], 1),
        "kernel": pad3(a["kernel_shape"], 1), "stride": pad3(a["strides"], 1), "dilation": pad3(a["dilations"], 1),
        "pad_begin": pad3(pads[:nsp], 0), "pad_end": pad3(pads[nsp:], 0),
        "count_include_pad": int(count_include_pad), "zp": zp,
    }
    b.files("qcc_pool.c")
    b.call(f"qcc_{kind}_pool_{suffix}", b.struct("qcc_pool_t", "pool", fields), read(x), write(y))


@rule("max_pool")
def lower_max_pool(b: StepBuilder, node: Node) -> None:
    _pool(b, node, "max", False, 0)


@rule("q.avg_pool")
def lower_avg_pool(b: StepBuilder, node: Node) -> None:
    _pool(b, node, "avg", bool(node.attr("count_include_pad")), int(node.attr("zp")))


def _reduce_fields(xs: Sequence[int], axes: Sequence[int], where: str) -> dict[str, Any]:
    strides = contiguous_strides(xs)
    kept = [i for i in range(len(xs)) if i not in axes]
    out_dims, out_stride = collapse([xs[i] for i in kept], [strides[i] for i in kept])
    red_dims, red_stride = collapse([xs[i] for i in axes], [strides[i] for i in axes])
    if max(len(out_dims), len(red_dims)) > MAX_DIMS:
        raise CBackendError(f"{where}: too many axes for the C reduction kernel")
    return {"out_ndim": len(out_dims), "out_dims": out_dims, "out_stride": out_stride,
            "red_ndim": len(red_dims), "red_dims": red_dims, "red_stride": red_stride,
            "count": math.prod(xs[i] for i in axes)}


@rule("q.mean")
def lower_mean(b: StepBuilder, node: Node) -> None:
    x, y = node.inputs[0], node.result
    ctype, suffix, es = same_type(node, x, y)
    a = node.attrs
    fields = _reduce_fields(shape_of(x), a["axes"], f"node '{node.name}'")
    if fields["count"] < 1:
        raise CBackendError(f"node '{node.name}' (q.mean): mean over an empty extent")
    fields.update(in_zp=a["in_zp"], multiplier=a["multiplier"], shift=a["shift"], rounding=ROUNDING[a["rounding"]],
                  out_zp=a["out_zp"], qmin=a["qmin"], qmax=a["qmax"])
    b.files("qcc_pool.c")
    b.call(f"qcc_mean_{suffix}", b.struct("qcc_reduce_t", "mean", fields), read(x), write(y))


@rule("reduce_max", "global_max_pool")
def lower_reduce_max(b: StepBuilder, node: Node) -> None:
    x, y = node.inputs[0], node.result
    ctype, suffix, es = same_type(node, x, y)
    xs = shape_of(x)
    axes = tuple(range(2, len(xs))) if node.op == "global_max_pool" else tuple(node.attr("axes"))
    fields = _reduce_fields(xs, axes, f"node '{node.name}'")
    fields.update(in_zp=0, multiplier=0, shift=0, rounding=0, out_zp=0, qmin=0, qmax=0)
    b.files("qcc_pool.c")
    b.call(f"qcc_reduce_max_{suffix}", b.struct("qcc_reduce_t", "max", fields), read(x), write(y))


# ---- softmax, LRN, layer norm, linear resize -----------------------------------------------------


def _int8_only(node: Node, x: Value) -> None:
    if x.type.dtype is not DType.I8 or node.result.type.dtype is not DType.I8:
        raise CBackendError(f"node '{node.name}' ({node.op}): the C kernel takes i8")


@rule("q.softmax")
def lower_softmax(b: StepBuilder, node: Node) -> None:
    x, y = node.inputs[0], node.result
    _int8_only(node, x)
    xs = shape_of(x)
    axis = int(node.attr("axis"))
    fields = {"outer": math.prod(xs[:axis]), "n": xs[axis], "inner": math.prod(xs[axis + 1 :]),
              "table": b.array("exp", np.asarray(node.attr("table").array), np.int32)}
    b.files("qcc_special.c")
    b.step.inplace = (0,)
    b.call("qcc_softmax_s8", b.struct("qcc_softmax_t", "softmax", fields), read(x), write(y))


@rule("q.lrn")
def lower_lrn(b: StepBuilder, node: Node) -> None:
    x, y = node.inputs[0], node.result
    _int8_only(node, x)
    xs = shape_of(x)
    a = node.attrs
    fields = {"batch": xs[0], "channels": xs[1], "spatial": math.prod(xs[2:]), "size": a["size"], "in_zp": a["in_zp"],
              "square_shift": a["square_shift"], "table": b.array("table", np.asarray(a["table"].array), np.int16),
              "multiplier": a["multiplier"], "shift": a["shift"], "rounding": ROUNDING[a["rounding"]],
              "out_zp": a["out_zp"], "qmin": a["qmin"], "qmax": a["qmax"]}
    b.files("qcc_special.c")
    b.call("qcc_lrn_s8", b.struct("qcc_lrn_t", "lrn", fields), read(x), write(y))


@rule("q.layer_norm")
def lower_layer_norm(b: StepBuilder, node: Node) -> None:
    x, y = node.inputs[0], node.result
    _int8_only(node, x)
    xs = shape_of(x)
    a = node.attrs
    axis = int(a["axis"])

    def flat(key: str, dtype: Any) -> Raw:
        return b.array(key, np.asarray(a[key].array).reshape(-1), dtype)

    fields = {"rows": math.prod(xs[:axis]), "n": math.prod(xs[axis:]), "in_zp": a["in_zp"], "eps": Raw(f"INT64_C({int(a['eps'])})"),
              "multiplier": flat("multiplier", np.int32), "shift": flat("shift", np.int32),
              "gamma_sign": flat("gamma_sign", np.int8), "beta": flat("beta", np.int32),
              "rounding": ROUNDING[a["rounding"]], "out_zp": a["out_zp"], "qmin": a["qmin"], "qmax": a["qmax"]}
    b.files("qcc_special.c")
    b.step.inplace = (0,)
    b.call("qcc_layer_norm_s8", b.struct("qcc_layer_norm_t", "layernorm", fields), read(x), write(y))


@rule("q.resize")
def lower_qresize(b: StepBuilder, node: Node) -> None:
    x, y = node.inputs[0], node.result
    _int8_only(node, x)
    xs, ys = shape_of(x), shape_of(y)
    axes = [int(v) for v in node.attr("axes")]
    index = np.asarray(node.attr("index").array)
    weight = np.asarray(node.attr("weight").array)
    b.files("qcc_special.c")
    if not axes:
        copy_call(b, x, y, *identity_copy(xs))
        return
    a0 = axes[0]
    fields: dict[str, Any] = {"naxes": len(axes), "outer": math.prod(xs[:a0]), "l_in0": xs[a0], "l_out0": ys[a0],
                              "mid": 1, "l_in1": 1, "l_out1": 0, "inner": math.prod(xs[a0 + 1 :])}
    if len(axes) == 2:
        a1 = axes[1]
        fields.update(mid=math.prod(xs[a0 + 1 : a1]), l_in1=xs[a1], l_out1=ys[a1], inner=math.prod(xs[a1 + 1 :]))
    fields.update(index=b.array("index", index.reshape(-1), np.int32), weight=b.array("weight", weight.reshape(-1), np.int16))
    b.call("qcc_resize_linear_s8", b.struct("qcc_resize_t", "resize", fields), read(x), write(y))

