"""Accumulates ONNX nodes and initializers, and writes qcc's float IR ops as ONNX nodes.

Why its own module: the QDQ exporter and the float model of an encodings export both emit the same
float ops (conv, reshape, the ops of a ``pointwise`` expression, ...); the IR's op attributes are
already in ONNX's conventions (docs/ir.md), so most ops map by name, and the few that moved
attributes to inputs across opsets (Clip, Reshape, Slice, ReduceMean, Resize) are written once here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from qcc.errors import QccError
from qcc.ir.types import DType
from qcc.ops.pointwise import Apply, Expr, Literal, Operand, parse_expr


class ExportError(QccError):
    """The graph holds something the export format cannot carry."""


_ONNX_DTYPES: dict[DType, int] = {
    DType.F32: TensorProto.FLOAT, DType.F16: TensorProto.FLOAT16, DType.F64: TensorProto.DOUBLE, DType.BF16: TensorProto.BFLOAT16,
    DType.I4: TensorProto.INT4, DType.I8: TensorProto.INT8, DType.I16: TensorProto.INT16, DType.I32: TensorProto.INT32,
    DType.I64: TensorProto.INT64, DType.U8: TensorProto.UINT8, DType.U16: TensorProto.UINT16, DType.U32: TensorProto.UINT32,
    DType.U64: TensorProto.UINT64, DType.BOOL: TensorProto.BOOL,
}


def onnx_dtype(dtype: DType) -> int:
    return _ONNX_DTYPES[dtype]


_FLOAT32 = np.dtype(np.float32)


class OnnxBuilder:
    """Nodes and initializers of one ONNX graph under construction, with unique tensor names."""

    def __init__(self, opset: int) -> None:
        self.opset = opset
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._names: set[str] = set()

    def fresh(self, hint: str) -> str:
        name, n = hint, 0
        while name in self._names:
            n += 1
            name = f"{hint}_{n}"
        self._names.add(name)
        return name

    def reserve(self, name: str) -> str:
        """Claim a name the caller must have exactly (graph inputs and outputs)."""
        if name in self._names:
            raise ExportError(f"tensor name '{name}' is used twice in the export")
        self._names.add(name)
        return name

    def initializer(self, value: np.ndarray | np.generic, hint: str, onnx_type: int | None = None) -> str:
        name = self.fresh(hint)
        array = np.asarray(value)
        if onnx_type == TensorProto.INT4:
            tensor = helper.make_tensor(name, TensorProto.INT4, array.shape, np.asarray(array, np.int8).reshape(-1).tolist())
        else:
            tensor = numpy_helper.from_array(np.asarray(array), name)
        self.initializers.append(tensor)
        return name

    def ints(self, values: Sequence[int], hint: str) -> str:
        return self.initializer(np.asarray(list(values), np.int64), hint)

    def node(self, op_type: str, inputs: Sequence[str], hint: str, n_out: int = 1, output: str | None = None, **attrs: Any) -> list[str]:
        outputs = [output] if output is not None and n_out == 1 else [self.fresh(hint if n_out == 1 else f"{hint}_{i}") for i in range(n_out)]
        kept = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(helper.make_node(op_type, list(inputs), outputs, name=self.fresh(f"{hint}_node"), **kept))
        return outputs

    def clip(self, x: str, lo: float | None, hi: float | None, hint: str, output: str | None = None,
             dtype: np.dtype = _FLOAT32) -> str:
        """Clip with bounds of ``x``'s type ``dtype`` (inputs since opset 11); an unbounded side is left empty."""
        lo_name = self.initializer(np.asarray(lo).astype(dtype), f"{hint}_min") if lo is not None else ""
        hi_name = self.initializer(np.asarray(hi).astype(dtype), f"{hint}_max") if hi is not None else ""
        return self.node("Clip", [x, lo_name, hi_name], hint, output=output)[0]


# ---- float IR ops -----------------------------------------------------------------------------

Emitter = Callable[[OnnxBuilder, dict[str, Any], list[str], str, int], list[str]]
_SIMPLE: dict[str, str] = {
    "abs": "Abs", "ceil": "Ceil", "erf": "Erf", "exp": "Exp", "floor": "Floor", "log": "Log", "neg": "Neg",
    "reciprocal": "Reciprocal", "relu": "Relu", "round": "Round", "sigmoid": "Sigmoid", "sign": "Sign", "softplus": "Softplus",
    "softsign": "Softsign", "sqrt": "Sqrt", "tanh": "Tanh", "div": "Div", "pow": "Pow", "max": "Max", "min": "Min",
    "prelu": "PRelu", "equal": "Equal", "greater": "Greater", "less": "Less", "greater_or_equal": "GreaterOrEqual",
    "less_or_equal": "LessOrEqual", "and": "And", "or": "Or", "xor": "Xor", "not": "Not", "where": "Where",
    "global_avg_pool": "GlobalAveragePool", "global_max_pool": "GlobalMaxPool", "concat": "Concat", "transpose": "Transpose",
    "gather": "Gather", "gather_elements": "GatherElements", "softmax": "Softmax", "elu": "Elu", "celu": "Celu",
    "leaky_relu": "LeakyRelu", "selu": "Selu", "thresholded_relu": "ThresholdedRelu", "hard_sigmoid": "HardSigmoid",
    "max_pool": "MaxPool", "avg_pool": "AveragePool", "conv": "Conv", "conv_transpose": "ConvTranspose", "matmul": "MatMul",
    "gemm": "Gemm", "add": "Add", "sub": "Sub", "mul": "Mul", "lrn": "LRN", "batch_norm": "BatchNormalization",
}
# IR attribute -> ONNX attribute where the spelling differs; attributes not listed keep their name.
_ATTR_NAMES = {"trans_a": "transA", "trans_b": "transB", "kernel_shape": "kernel_shape"}
# IR attributes that are not ONNX attributes of the op (fused clamps, handled by the caller).
_NOT_ONNX = {"act_min", "act_max", "bn_gamma", "bn_beta", "approximate"}


def _attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in attrs.items():
        if key in _NOT_ONNX or value is None:
            continue
        if isinstance(value, bool):
            value = int(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[_ATTR_NAMES.get(key, key)] = value
    return out


def _fused_clamp(b: OnnxBuilder, attrs: dict[str, Any], out: str, hint: str, output: str | None) -> list[str]:
    lo, hi = attrs.get("act_min"), attrs.get("act_max")
    if lo is None and hi is None:
        return [out]
    if lo == 0.0 and hi is None:
        return b.node("Relu", [out], hint, output=output)
    return [b.clip(out, lo, hi, hint, output=output)]


def emit_float_op(b: OnnxBuilder, op: str, attrs: dict[str, Any], inputs: list[str], hint: str, n_out: int = 1,
                  output: str | None = None) -> list[str]:
    """ONNX nodes computing float IR op ``op`` on tensors ``inputs``; returns the output names
    (the last node's output is named ``output`` when given)."""
    special = _SPECIAL.get(op)
    if special is not None:
        return special(b, attrs, inputs, hint, output)
    if op not in _SIMPLE:
        raise ExportError(f"node '{hint}': op '{op}' has no ONNX export yet")
    clamped = attrs.get("act_min") is not None or attrs.get("act_max") is not None
    outs = b.node(_SIMPLE[op], inputs, hint if not clamped else f"{hint}_unclamped", n_out=n_out,
                  output=None if clamped else output, **_attrs(attrs))
    return _fused_clamp(b, attrs, outs[0], hint, output) if clamped else outs


def _clip(b: OnnxBuilder, attrs: dict[str, Any], inputs: list[str], hint: str, output: str | None) -> list[str]:
    return [b.clip(inputs[0], attrs.get("min"), attrs.get("max"), hint, output=output)]


def _reshape(b: OnnxBuilder, attrs: dict[str, Any], inputs: list[str], hint: str, output: str | None) -> list[str]:
    return b.node("Reshape", [inputs[0], b.ints(attrs["shape"], f"{hint}_shape")], hint, output=output)


def _expand(b: OnnxBuilder, attrs: dict[str, Any], inputs: list[str], hint: str, output: str | None) -> list[str]:
    return b.node("Expand", [inputs[0], b.ints(attrs["shape"], f"{hint}_shape")], hint, output=output)


def _tile(b: OnnxBuilder, attrs: dict[str, Any], inputs: list[str], hint: str, output: str | None) -> list[str]:
    return b.node("Tile", [inputs[0], b.ints(attrs["repeats"], f"{hint}_repeats")], hint, output=output)


def _slice(b: OnnxBuilder, attrs: dict[str, Any], inputs: list[str], hint: str, output: str | None) -> list[str]:
    args = [inputs[0], b.ints(attrs["starts"], f"{hint}_starts"), b.ints(attrs["ends"], f"{hint}_ends"), b.ints(attrs["axes"], f"{hint}_axes")]
    if attrs.get("steps"):
        args.append(b.ints(attrs["steps"], f"{hint}_steps"))
    return b.node("Slice", args, hint, output=output)


def _split(b: OnnxBuilder, attrs: dict[str, Any], inputs: list[str], hint: str, output: str | None) -> list[str]:
    sizes = list(attrs["sizes"])
    return b.node("Split", [inputs[0], b.ints(sizes, f"{hint}_sizes")], hint, n_out=len(sizes), axis=attrs["axis"])


def _pad(b: OnnxBuilder, attrs: dict[str, Any], inputs: list[str], hint: str, output: str | None) -> list[str]:
    args = [inputs[0], b.ints(attrs["pads"], f"{hint}_pads")]
    if attrs.get("mode", "constant") == "constant":
        args.append(b.initializer(np.float32(attrs.get("value") or 0.0), f"{hint}_value"))
    return b.node("Pad", args, hint, output=output, mode=attrs.get("mode", "constant"))


def _reduce(onnx_op: str) -> Callable[..., list[str]]:
    def emit(b: OnnxBuilder, attrs: dict[str, Any], inputs: list[str], hint: str, output: str | None) -> list[str]:
        axes, keepdims = list(attrs["axes"]), int(attrs.get("keepdims", True))
        if b.opset >= 18 or onnx_op == "ReduceSum":
            return b.node(onnx_op, [inputs[0], b.ints(axes, f"{hint}_axes")], hint, output=output, keepdims=keepdims)
        return b.node(onnx_op, [inputs[0]], hint, output=output, axes=axes, keepdims=keepdims)

    return emit


def _resize(b: OnnxBuilder, attrs: dict[str, Any], inputs: list[str], hint: str, output: str | None) -> list[str]:
    onnx_attrs = {k: v for k, v in _attrs(attrs).items() if k in ("mode", "coordinate_transformation_mode", "nearest_mode", "cubic_coeff_a",
                                                                  "exclude_outside", "extrapolation_value")}
    roi = b.initializer(np.asarray(attrs["roi"], np.float32), f"{hint}_roi") if attrs.get("roi") else ""
    return b.node("Resize", [inputs[0], roi, "", b.ints(attrs["sizes"], f"{hint}_sizes")], hint, output=output, **onnx_attrs)


def _cast(b: OnnxBuilder, attrs: dict[str, Any], inputs: list[str], hint: str, output: str | None) -> list[str]:
    to = attrs["to"]
    return b.node("Cast", inputs, hint, output=output, to=onnx_dtype(to if isinstance(to, DType) else DType(to)))


def _layer_norm(b: OnnxBuilder, attrs: dict[str, Any], inputs: list[str], hint: str, output: str | None) -> list[str]:
    if b.opset < 17:
        raise ExportError(f"node '{hint}': LayerNormalization needs opset 17")
    return b.node("LayerNormalization", inputs, hint, output=output, axis=attrs["axis"], epsilon=attrs["epsilon"])


def _hard_swish(b: OnnxBuilder, attrs: dict[str, Any], inputs: list[str], hint: str, output: str | None) -> list[str]:
    if b.opset >= 14:
        return b.node("HardSwish", inputs, hint, output=output)
    gate = b.node("HardSigmoid", inputs, f"{hint}_gate", alpha=1.0 / 6.0, beta=0.5)[0]
    return b.node("Mul", [inputs[0], gate], hint, output=output)


def _gelu(b: OnnxBuilder, attrs: dict[str, Any], inputs: list[str], hint: str, output: str | None) -> list[str]:
    """GELU written with opset-13 ops: 0.5 x (1 + erf(x / sqrt 2)), or the tanh form."""
    x = inputs[0]
    half = b.initializer(np.float32(0.5), f"{hint}_half")
    one = b.initializer(np.float32(1.0), f"{hint}_one")
    if attrs.get("approximate", "none") == "tanh":
        cube = b.node("Mul", [x, b.node("Mul", [x, x], f"{hint}_sq")[0]], f"{hint}_cube")[0]
        inner = b.node("Add", [x, b.node("Mul", [cube, b.initializer(np.float32(0.044715), f"{hint}_c")], f"{hint}_kc")[0]], f"{hint}_inner")[0]
        core = b.node("Tanh", [b.node("Mul", [inner, b.initializer(np.float32(np.sqrt(2.0 / np.pi)), f"{hint}_k")], f"{hint}_scaled")[0]], f"{hint}_t")[0]
    else:
        core = b.node("Erf", [b.node("Mul", [x, b.initializer(np.float32(1.0 / np.sqrt(2.0)), f"{hint}_k")], f"{hint}_scaled")[0]], f"{hint}_t")[0]
    gate = b.node("Mul", [b.node("Add", [core, one], f"{hint}_1p")[0], half], f"{hint}_gate")[0]
    return b.node("Mul", [x, gate], hint, output=output)


def _mish(b: OnnxBuilder, attrs: dict[str, Any], inputs: list[str], hint: str, output: str | None) -> list[str]:
    soft = b.node("Softplus", inputs, f"{hint}_softplus")[0]
    return b.node("Mul", [inputs[0], b.node("Tanh", [soft], f"{hint}_tanh")[0]], hint, output=output)


def _pointwise(b: OnnxBuilder, attrs: dict[str, Any], inputs: list[str], hint: str, output: str | None) -> list[str]:
    return [emit_expr(b, parse_expr(attrs["expr"]), inputs[0], hint, output)]


_SPECIAL: dict[str, Callable[..., list[str]]] = {
    "clip": _clip, "reshape": _reshape, "expand": _expand, "tile": _tile, "slice": _slice, "split": _split, "pad": _pad,
    "reduce_mean": _reduce("ReduceMean"), "reduce_max": _reduce("ReduceMax"), "reduce_sum": _reduce("ReduceSum"),
    "resize": _resize, "cast": _cast, "layer_norm": _layer_norm, "hard_swish": _hard_swish, "gelu": _gelu, "mish": _mish,
    "pointwise": _pointwise,
}


def emit_expr(b: OnnxBuilder, expr: Expr, x: str, hint: str, output: str | None = None) -> str:
    """The ops of a ``pointwise`` expression (qcc.ops.pointwise) over tensor ``x``; the root's
    output is named ``output`` when given. Shared sub-expressions are emitted once."""
    done: dict[Expr, str] = {}

    def walk(e: Expr, root: bool) -> str:
        if isinstance(e, Operand):
            return x
        if isinstance(e, Literal):
            value = np.int64(e.value) if e.integer else np.float32(e.value)
            return b.initializer(value, f"{hint}_const")
        if not root and e in done:
            return done[e]
        assert isinstance(e, Apply)
        args = [walk(a, False) for a in e.args]
        name = emit_float_op(b, e.op, dict(e.attrs), args, hint if root else f"{hint}_{e.op}", output=output if root else None)[0]
        done[e] = name
        return name

    return walk(expr, True)
