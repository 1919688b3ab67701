"""A quantized qcc graph as a standard QDQ ONNX model (``qcc export --format qdq``).

Every integer op becomes the float ONNX op it stands for between DequantizeLinear on its inputs and
QuantizeLinear on its output, carrying qcc's scales and zero points; weights are the integers qcc
computed (CLE, AdaRound and bias correction included) as int8/int4 initializers behind a
per-channel DequantizeLinear, biases int32 with scale ``s_in * s_w``. A table (``q.lut``) or an op
whose float parameters the quantized graph no longer holds (``q.prelu``, ``q.layer_norm``, ...) is
written as the float node of the same name in ``reference``: the float graph before ``quantize``
(``qcc.interop.reference``). An int32 accumulator output (``q.conv_acc``/``q.gemm_acc``) is the float
op it came from, left unquantized up to the graph output. The opset is the lowest that carries the
types and ops used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper

from qcc.arith.fixedpoint import INT32_MAX, INT32_MIN, activation_range
from qcc.interop.onnx_builder import ExportError, OnnxBuilder, emit_float_op, onnx_dtype
from qcc.ir.core import Graph, Node, Value
from qcc.ir.types import QuantParams

# Ops whose float form is read from the reference graph: their integer form dropped the float function or parameters.
FROM_REFERENCE = frozenset({"q.lut", "q.lut2", "q.prelu", "q.layer_norm", "q.lrn", "q.resize", "q.from_int"})
_BINARY = {"q.mul": "Mul", "q.div": "Div", "q.max": "Max", "q.min": "Min", "q.matmul": "MatMul"}
ACCUMULATOR_BITS = 32  # q.conv_acc / q.gemm_acc results: int32 accumulators (docs/arithmetic.md §3.20)
_Q_TYPES = {4: TensorProto.INT4, 8: TensorProto.INT8, 16: TensorProto.INT16, 32: TensorProto.INT32}


def choose_opset(graph: Graph) -> int:
    """13 (per-axis DequantizeLinear), 17 when a layer norm is exported as LayerNormalization,
    21 when any tensor is int16 or int4 (QuantizeLinear carries those types from opset 21)."""
    quants = [v.type.quant for v in graph.values() if v.type.quant is not None]
    if any(q.bits in (4, 16) for q in quants):
        return 21
    if any(n.op in ("q.layer_norm", "layer_norm") for n in graph.nodes):
        return 17
    return 13


class QdqExporter:
    """Walks the quantized graph once, in order, emitting ONNX nodes into one builder."""

    def __init__(self, graph: Graph, reference: Graph | None) -> None:
        self.graph = graph
        self.reference = {r.name: n for n in reference.nodes for r in n.results} if reference is not None else None
        self.b = OnnxBuilder(choose_opset(graph))
        self.int_names: dict[int, str] = {}  # quantized value -> its integer tensor
        self.float_names: dict[int, str] = {}  # any value -> its real-valued (or plain integer) tensor

    # ---- tensors --------------------------------------------------------------------------------

    def _qparams(self, q: QuantParams, hint: str, zp_type: int) -> tuple[str, str]:
        if q.axis is None:
            scale = np.asarray(q.scale_value(), np.float32)
            zp = np.asarray(q.zero_point_value())
        else:
            scale = np.asarray(q.scale, np.float32)
            zp = np.broadcast_to(np.asarray(q.zero_point), scale.shape)
        zp_name = self.b.initializer(np.asarray(zp), f"{hint}_zero_point", zp_type) if zp_type == TensorProto.INT4 else \
            self.b.initializer(np.asarray(zp).astype(helper.tensor_dtype_to_np_dtype(zp_type)), f"{hint}_zero_point")
        return self.b.initializer(scale, f"{hint}_scale"), zp_name

    def dequantize(self, int_name: str, q: QuantParams, hint: str, output: str | None = None) -> str:
        scale, zp = self._qparams(q, hint, _Q_TYPES[q.bits])
        return self.b.node("DequantizeLinear", [int_name, scale, zp], f"{hint}_dequantized", output=output, axis=q.axis)[0]

    def quantize(self, float_name: str, q: QuantParams, hint: str) -> str:
        """QuantizeLinear; per-axis (an output-bound join, docs/arithmetic.md §3.17) with ``axis``."""
        scale, zp = self._qparams(q, hint, _Q_TYPES[q.bits])
        return self.b.node("QuantizeLinear", [float_name, scale, zp], f"{hint}_quantized", axis=q.axis)[0]

    def real(self, value: Value) -> str:
        """The tensor holding ``value``'s real numbers (DequantizeLinear of its integers when quantized)."""
        key = id(value)
        if key in self.float_names:
            return self.float_names[key]
        if value.is_const:
            data = value.const_array
            q = value.type.quant
            if q is None:
                name = self.b.initializer(data, value.name)
            else:
                stored = self.b.initializer(data.astype(np.int32 if q.bits == 32 else np.int8 if q.bits <= 8 else np.int16), value.name, _Q_TYPES[q.bits])
                self.int_names[key] = stored
                name = self.dequantize(stored, q, value.name)
        elif value.type.quant is not None:
            name = self.dequantize(self.int_names[key], value.quant, value.name)
        else:
            raise ExportError(f"value '{value.name}' is used before it is defined")
        self.float_names[key] = name
        return name

    def bias(self, node: Node, x: Value, w: Value, b: Value) -> str:
        """An int32 bias with the standard scale ``s_in * s_w`` (per channel), behind DequantizeLinear."""
        s_w = np.asarray(w.quant.scale, np.float64)
        scales = x.quant.scale_value() * s_w
        q = QuantParams(tuple(float(s) for s in scales), 0, 0, 32) if scales.ndim else QuantParams(float(scales), 0, None, 32)
        stored = self.b.initializer(b.const_array.astype(np.int32), b.name)
        return self.dequantize(stored, q, b.name)

    # ---- nodes ----------------------------------------------------------------------------------

    def run(self) -> onnx.ModelProto:
        inputs = []
        for v in self.graph.inputs:
            self.float_names[id(v)] = self.b.reserve(v.name)
            inputs.append(helper.make_tensor_value_info(v.name, onnx_dtype(v.type.dtype), list(v.type.shape)))
        outputs = [helper.make_tensor_value_info(self.b.reserve(v.name), onnx_dtype(v.type.dtype), list(v.type.shape)) for v in self.graph.outputs]
        for node in self.graph.nodes:
            self.node(node)
        for v in self.graph.outputs:
            if self.float_names.get(id(v)) != v.name:
                raise ExportError(f"graph output '{v.name}' is not produced by a dequantize or float node")
        graph = helper.make_graph(self.b.nodes, self.graph.name, inputs, outputs, self.b.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.b.opset)], producer_name="qcc")
        model.ir_version = 10 if self.b.opset >= 21 else 8
        return model

    def node(self, node: Node) -> None:
        if node.op == "quantize":
            (x,) = node.inputs
            self.int_names[id(node.result)] = self.quantize(self.real(x), node.result.quant, node.result.name)
            return
        if node.op == "dequantize":
            (x,) = node.inputs
            is_output = node.result in self.graph.outputs
            if id(x) in self.float_names and x.type.quant is not None and x.quant.bits == ACCUMULATOR_BITS:  # already real (_accumulator)
                name = self.float_names[id(x)]
                name = self.b.node("Identity", [name], node.result.name, output=node.result.name)[0] if is_output else name
                self.float_names[id(node.result)] = name
                return
            name = self.dequantize(self.int_names[id(x)], x.quant, node.result.name, output=node.result.name if is_output else None)
            self.float_names[id(node.result)] = name
            return
        emit = _Q_EMITTERS.get(node.op)
        hint = node.results[0].name
        if emit is not None:
            outs = [emit(self, node, hint)]
        elif node.op in FROM_REFERENCE:
            outs = self.from_reference(node, hint)
        elif node.op.startswith("q."):
            raise ExportError(f"node '{node.name}': integer op '{node.op}' has no QDQ export yet")
        else:
            outs = self.same_op(node, hint)
        for result, out in zip(node.results, outs):
            self.finish(result, out)

    def finish(self, result: Value, out: str) -> None:
        is_output = result in self.graph.outputs
        if result.type.quant is not None and result.quant.bits == ACCUMULATOR_BITS:
            self.float_names[id(result)] = out  # an accumulator stays real up to the graph output (_accumulator)
            return
        if result.type.quant is None:
            if is_output and out != result.name:
                out = self.b.node("Identity", [out], result.name, output=result.name)[0]
            self.float_names[id(result)] = out
            return
        self.int_names[id(result)] = self.quantize(out, result.quant, result.name)

    def clamp(self, node: Node, out: str, hint: str) -> str:
        """A fused ReLU/Clip: the node's integer clamp bounds, when narrower than its type's range."""
        q = node.result.quant
        lo, hi = activation_range(q.bits) if q.bits != 16 else (-32768, 32767)
        qmin, qmax = node.attrs.get("qmin"), node.attrs.get("qmax")
        qmin = lo if qmin is None else qmin
        qmax = hi if qmax is None else qmax
        if qmin <= lo and qmax >= hi:
            return out
        s, zp = q.scale_value(), q.zero_point_value()
        return self.b.clip(out, (qmin - zp) * s if qmin > lo else None, (qmax - zp) * s if qmax < hi else None, f"{hint}_clamp")

    def from_reference(self, node: Node, hint: str) -> list[str]:
        if self.reference is None:
            raise ExportError(f"node '{node.name}' ({node.op}) lost its float function in quantization: pass the float model with --float")
        ref = self.reference_node(node.results[0])
        if ref is None:
            raise ExportError(f"node '{node.name}' ({node.op}): the float model has no node with this result name (was it quantized from another model?)")
        activations = iter(v for v in node.inputs if not v.is_const)
        args: list[str] = []
        own_bias = node.op == "q.layer_norm"  # its bias is the one qcc rounded (layer_norm_bias)
        for v in ref.inputs[:2] if own_bias else ref.inputs:
            if v.is_const:
                args.append(self.b.initializer(v.const_array, v.name))
            else:
                operand = next(activations, None)
                if operand is None:
                    raise ExportError(f"node '{node.name}': the float model's node has more operands than the quantized one")
                args.append(self.real(operand))
        if own_bias:
            args.append(self.layer_norm_bias(node, hint))
        outs = emit_float_op(self.b, ref.op, dict(ref.attrs), args, hint, n_out=len(ref.results))
        return [self.clamp(node, outs[0], hint)] if node.op != "q.from_int" else outs

    def reference_node(self, result: Value) -> Node | None:
        """The float node of ``result``: by its name or, for an output-bound result (quantize names it
        ``<output>_q`` and the output is its dequantize), by the name of the graph output it becomes."""
        assert self.reference is not None
        names = [result.name] + [user.result.name for user in result.users if user.op == "dequantize"]
        return next((self.reference[name] for name in names if name in self.reference), None)

    def layer_norm_bias(self, node: Node, hint: str) -> str:
        """The bias qcc adds: beta rounded to the output grid on its own (``B_c * s_out``, docs/arithmetic.md
        §3.10). A whole number of output steps commutes with QuantizeLinear's rounding, so the export
        rounds exactly where qcc does; the float beta would round once, differently on up to a third of elements."""
        rounded = node.attr("beta").array.astype(np.float64) * node.result.quant.scale_value()  # normalized shape
        return self.b.initializer(rounded.astype(np.float32), f"{hint}_bias_on_output_grid")

    def same_op(self, node: Node, hint: str) -> list[str]:
        """A data-movement or float op: the same op on real numbers (bounds of an integer clip converted)."""
        attrs = dict(node.attrs)
        x = node.inputs[0] if node.inputs else None
        if node.op == "clip" and x is not None and x.type.quant is None and not x.type.dtype.is_float:
            # plain integers (indices): ONNX Clip's bounds have the input's type
            lo, hi = attrs.get("min"), attrs.get("max")
            return [self.b.clip(self.real(x), lo, hi, hint, dtype=x.type.dtype.numpy)]
        if node.op == "clip" and x is not None and x.type.quant is not None:
            s, zp = x.quant.scale_value(), x.quant.zero_point_value()
            for key in ("min", "max"):
                if attrs.get(key) is not None:
                    attrs[key] = (attrs[key] - zp) * s
        if node.op == "pad" and x is not None and x.type.quant is not None and attrs.get("value") is not None:
            attrs["value"] = (attrs["value"] - x.quant.zero_point_value()) * x.quant.scale_value()
        return emit_float_op(self.b, node.op, attrs, [self.real(v) for v in node.inputs], hint, n_out=len(node.results))


def _conv(ex: QdqExporter, node: Node, hint: str) -> str:
    x, w, *rest = node.inputs
    args = [ex.real(x), ex.real(w)] + ([ex.bias(node, x, w, rest[0])] if rest else [])
    keys = ("strides", "pads", "dilations", "group") + (("output_padding",) if node.op == "q.conv_transpose" else ())
    attrs: dict[str, Any] = {k: list(v) if isinstance(v, tuple) else v for k, v in node.attrs.items() if k in keys}
    out = ex.b.node("Conv" if node.op == "q.conv" else "ConvTranspose", args, hint, **attrs)[0]
    return ex.clamp(node, out, hint)


def _gemm(ex: QdqExporter, node: Node, hint: str) -> str:
    x, w, *rest = node.inputs
    args = [ex.real(x), ex.real(w)] + ([ex.bias(node, x, w, rest[0])] if rest else [])
    out = ex.b.node("Gemm", args, hint, transA=int(node.attrs.get("trans_a", False)), transB=int(node.attrs.get("trans_b", False)))[0]
    return ex.clamp(node, out, hint)


def _add(ex: QdqExporter, node: Node, hint: str) -> str:
    op = "Sub" if node.attrs.get("subtract") else "Add"
    return ex.clamp(node, ex.b.node(op, [ex.real(v) for v in node.inputs], hint)[0], hint)


def _binary(ex: QdqExporter, node: Node, hint: str) -> str:
    return ex.clamp(node, ex.b.node(_BINARY[node.op], [ex.real(v) for v in node.inputs], hint)[0], hint)


def _mean(ex: QdqExporter, node: Node, hint: str) -> str:
    attrs = {"axes": list(node.attr("axes")), "keepdims": node.attrs.get("keepdims", True)}
    return ex.clamp(node, emit_float_op(ex.b, "reduce_mean", attrs, [ex.real(node.inputs[0])], hint)[0], hint)


def _avg_pool(ex: QdqExporter, node: Node, hint: str) -> str:
    attrs = {k: v for k, v in node.attrs.items() if k != "zp" and not (k == "dilations" and all(d == 1 for d in v))}
    return emit_float_op(ex.b, "avg_pool", attrs, [ex.real(node.inputs[0])], hint)[0]


def _softmax(ex: QdqExporter, node: Node, hint: str) -> str:
    return ex.b.node("Softmax", [ex.real(node.inputs[0])], hint, axis=node.attr("axis"))[0]


def _requantize(ex: QdqExporter, node: Node, hint: str) -> str:
    return ex.clamp(node, ex.real(node.inputs[0]), hint)


def _accumulator(ex: QdqExporter, node: Node, hint: str) -> str:
    """q.conv_acc / q.gemm_acc (outputs=accumulator, docs/arithmetic.md §3.20): the float op on the
    dequantized input, weights and int32 bias, left unquantized: ONNX's QuantizeLinear cannot make an
    int32 tensor, and the real value the accumulator stands for, ``s_c * acc``, is exactly this
    float op's result up to float rounding. Gemm's alpha is in the accumulator's scale
    (``alpha * s_x * s_w[c]``); the fused clamp is the float clip its integer bounds came from."""
    x, w, *rest = node.inputs
    args = [ex.real(x), ex.real(w)] + ([ex.bias(node, x, w, rest[0])] if rest else [])
    conv = node.op == "q.conv_acc"
    axis = 1 if conv else node.result.type.rank - 1
    scales = _channel_scales(node.result.quant, node.result.type.static_shape[axis])
    if conv:
        attrs: dict[str, Any] = {k: list(v) if isinstance(v, tuple) else v for k, v in node.attrs.items() if k in ("strides", "pads", "dilations", "group")}
        out = ex.b.node("Conv", args, hint, **attrs)[0]
    else:
        alpha = float(scales[0] / (x.quant.scale_value() * _channel_scales(w.quant, len(scales))[0]))
        scaled: dict[str, Any] = {"alpha": alpha, "beta": alpha} if abs(alpha - 1.0) > 1e-6 else {}
        out = ex.b.node("Gemm", args, hint, transA=int(node.attrs.get("trans_a", False)), transB=int(node.attrs.get("trans_b", False)), **scaled)[0]
    lo = accumulator_clamp(node.attr("acc_min").array, scales, lower=True)
    hi = accumulator_clamp(node.attr("acc_max").array, scales, lower=False)
    return out if lo is None and hi is None else ex.b.clip(out, lo, hi, f"{hint}_clamp")


def _channel_scales(q: QuantParams, channels: int) -> np.ndarray:
    return np.asarray(q.scale, np.float64) if q.axis is not None else np.full(channels, q.scale_value())


def accumulator_clamp(bounds: np.ndarray, scales: np.ndarray, lower: bool) -> float | None:
    """The real clamp bound behind per-channel accumulator bounds (``acc_min[c] = ceil(lo / s_c)``,
    ``acc_max[c] = floor(hi / s_c)``; None where every channel is at the int32 limit): a value that
    gives back every channel's bound, so the float model imports to the same integers; within one
    accumulator step ``s_c`` of qcc's per-channel clamp. 0 or a whole number when one does."""
    limit = INT32_MIN if lower else INT32_MAX
    ints = np.asarray(bounds, np.float64)
    keep = ints != limit
    if not keep.any():
        return None
    ints, s = ints[keep], np.asarray(scales, np.float64)[keep]
    # lo in ((a - 1) s, a s] for acc_min a; hi in [a s, (a + 1) s) for acc_max a, every channel
    low, high = (np.max((ints - 1) * s), np.min(ints * s)) if lower else (np.max(ints * s), np.min((ints + 1) * s))
    for nice in (0.0, float(round(low)), float(round(high))):
        if low < nice < high or nice == 0.0 == (high if lower else low):  # strictly inside, or 0 (exact in any scale)
            return nice
    return float((low + high) / 2)


_Q_EMITTERS: dict[str, Callable[[QdqExporter, Node, str], str]] = {
    "q.conv": _conv, "q.conv_transpose": _conv, "q.gemm": _gemm, "q.add": _add, "q.mean": _mean, "q.avg_pool": _avg_pool,
    "q.softmax": _softmax, "q.requantize": _requantize, "q.requantize_axis": _requantize, "q.conv_acc": _accumulator, "q.gemm_acc": _accumulator,
    **{op: _binary for op in _BINARY},
}


def export_qdq(quantized: Graph, reference: Graph | None = None) -> onnx.ModelProto:
    """The QDQ ONNX model of ``quantized`` (checked by onnx.checker before it is returned)."""
    model = QdqExporter(quantized, reference).run()
    check_export(model, quantized.name)
    return model


def check_export(model: onnx.ModelProto, graph_name: str) -> None:
    """onnx.checker's full check, its first line as an ExportError."""
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as e:
        raise ExportError(f"the QDQ export of '{graph_name}' fails onnx.checker: {str(e).splitlines()[0]}") from None
