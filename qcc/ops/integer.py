"""The integer op table: every op a quantized graph may hold, and what each executor needs of it.

A quantized graph runs in two executors (the numpy integer reference and the generated C) and is
produced by the quantize pass. Each needs a piece per op: a lowering rule from float ops
(``qcc.quant``), a reference kernel (``qcc.backends.numpy_int``) and a C lowering
(``qcc.backends.c``). Those pieces live in their own layers; this table is where an op is
declared once, with the facts all three share:

* which float ops lower to it (so a float op with no entry is refused before any work),
* whether its result keeps its input's quantization parameters (pure data movement),
* which of its attribute values every executor supports (one predicate, asked by the quantize
  pass, the pre-flight check, the reference and the C lowering alike),
* whether its constant operands are compiled into the C step's parameters (weights, tables),
* whether the C backend has it, or why not.

``tests/ops/test_integer_table.py`` walks the table and fails on any op missing a piece, or any
piece registered for an op the table does not declare.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from qcc.ir.core import Node
from qcc.registry import Registry

Kind = Literal["compute", "movement", "boundary", "plain"]
"""compute: a ``q.*`` op with its own kernels; movement: a float op run unchanged on integers (its
float kernel is exact on them) whose result shares the input's parameters; boundary: quantize /
dequantize at the graph's float inputs and outputs; plain: an op on integer data that carries no
quantization parameters (indices, bytes, masks)."""

Supports = Callable[[Node], "str | None"]


def _always(node: Node) -> str | None:
    return None


@dataclass(frozen=True)
class IntegerOp:
    """One op of the integer op set and the facts its three implementations share."""

    name: str
    kind: Kind
    doc: str
    lowered_from: tuple[str, ...] = ()
    shares_parameters: bool = False
    weights: bool = False
    supports: Supports = _always
    c_refusal: str | None = None  # why the C backend has no kernel for it (None: it has one)

    def unsupported(self, node: Node) -> str | None:
        """Why this node's attributes are outside what every executor runs, or None."""
        return self.supports(node)


INTEGER_OPS: Registry[IntegerOp] = Registry("integer op")


def declare(op: IntegerOp) -> IntegerOp:
    """Add an op to the table (once: a second declaration of a name is a bug)."""
    INTEGER_OPS.register(op.name)(op)
    return op


def integer_op(name: str) -> IntegerOp | None:
    return INTEGER_OPS.get(name)


def lowered_float_ops() -> dict[str, list[IntegerOp]]:
    """Float op -> the integer ops its lowering may emit."""
    out: dict[str, list[IntegerOp]] = {}
    for op in INTEGER_OPS.values():
        for float_op in op.lowered_from:
            out.setdefault(float_op, []).append(op)
    return out


def ops_of_kind(kind: Kind) -> frozenset[str]:
    return frozenset(name for name, op in INTEGER_OPS.items() if op.kind == kind)


# ---- attribute predicates ---------------------------------------------------------------------


# Each predicate is asked about the float node being lowered and about the integer node in the
# quantized graph (which, for ops it keeps, has the same attributes); absent attributes pass.


def _nearest_resize(node: Node) -> str | None:
    if node.attrs.get("mode", "nearest") != "nearest":
        return f"mode={node.attrs['mode']} is not data movement (linear resize is q.resize)"
    if node.attrs.get("coordinate_transformation_mode") == "tf_crop_and_resize":
        return "coordinate_transformation_mode=tf_crop_and_resize has no integer lowering"
    return None


def _linear_resize(node: Node) -> str | None:
    if node.attrs.get("coordinate_transformation_mode") == "tf_crop_and_resize":
        return "coordinate_transformation_mode=tf_crop_and_resize has no integer lowering"
    if node.attrs.get("antialias"):
        return "linear resize with antialias has no integer lowering"
    return None


# ---- the table --------------------------------------------------------------------------------

_LUT_SOURCES = (
    "sigmoid", "tanh", "hard_sigmoid", "hard_swish", "erf", "gelu", "leaky_relu", "elu", "selu",
    "celu", "softplus", "softsign", "mish", "exp", "thresholded_relu", "pointwise",
)

for _op in (
    IntegerOp("quantize", "boundary", "float input -> activation (the graph's float inputs)"),
    IntegerOp("dequantize", "boundary", "activation -> float (the graph's float outputs)"),
    IntegerOp("q.conv", "compute", "convolution (incl. depthwise, grouped; standalone batch norm)", ("conv", "batch_norm"), weights=True),
    IntegerOp("q.conv_transpose", "compute", "transposed convolution", ("conv_transpose",), weights=True),
    IntegerOp("q.gemm", "compute", "fully connected layer", ("gemm", "matmul"), weights=True),
    IntegerOp("q.conv_acc", "compute", "convolution returning its int32 accumulator (a graph output, outputs=accumulator)", ("conv",), weights=True),
    IntegerOp("q.gemm_acc", "compute", "fully connected layer returning its int32 accumulator (outputs=accumulator)", ("gemm", "matmul"), weights=True),
    IntegerOp("q.matmul", "compute", "matrix product of two activations", ("matmul",)),
    IntegerOp("q.add", "compute", "add / sub of two activations", ("add", "sub")),
    IntegerOp("q.mul", "compute", "product of two activations", ("mul",)),
    IntegerOp("q.div", "compute", "quotient of two activations", ("div",)),
    IntegerOp("q.max", "compute", "element-wise max of two activations", ("max",)),
    IntegerOp("q.min", "compute", "element-wise min of two activations", ("min",)),
    IntegerOp("q.lut2", "compute", "any two-input function of int8 activations by a 256x256 table", ("pow",), weights=True),
    IntegerOp("q.lut", "compute", "any one-input function by a table", _LUT_SOURCES, weights=True),
    IntegerOp("q.requantize", "compute", "change of quantization parameters", ("concat", "relu", "clip", "resize", "reshape", "transpose")),
    IntegerOp("q.requantize_axis", "compute", "per-index change of parameters along an axis (joined graph outputs)", ("concat",)),
    IntegerOp("q.avg_pool", "compute", "average pooling", ("avg_pool", "global_avg_pool")),
    IntegerOp("q.mean", "compute", "mean over axes", ("reduce_mean", "global_avg_pool")),
    IntegerOp("q.softmax", "compute", "softmax (int8)", ("softmax",)),
    IntegerOp("q.layer_norm", "compute", "layer normalization (int8)", ("layer_norm",), weights=False),
    IntegerOp("q.lrn", "compute", "local response normalization (int8)", ("lrn",)),
    IntegerOp("q.prelu", "compute", "PReLU with a constant slope", ("prelu",), weights=True),
    IntegerOp("q.resize", "compute", "bilinear resize (int8)", ("resize",), supports=_linear_resize),
    IntegerOp("q.from_int", "compute", "integer data (bytes, ids) -> activation, for a float Cast of integer data", ("cast",)),
    IntegerOp("reshape", "movement", "reshape", ("reshape",), shares_parameters=True),
    IntegerOp("transpose", "movement", "transpose", ("transpose",), shares_parameters=True),
    IntegerOp("slice", "movement", "slice", ("slice",), shares_parameters=True),
    IntegerOp("gather", "movement", "gather (constant or run-time indices)", ("gather",), shares_parameters=True, weights=True),
    IntegerOp("expand", "movement", "broadcast to a shape", ("expand",), shares_parameters=True),
    IntegerOp("tile", "movement", "tile", ("tile",), shares_parameters=True),
    IntegerOp("max_pool", "movement", "max pooling (order-preserving)", ("max_pool",), shares_parameters=True),
    IntegerOp("global_max_pool", "movement", "global max pooling", ("global_max_pool",), shares_parameters=True),
    IntegerOp("reduce_max", "movement", "max over axes", ("reduce_max",), shares_parameters=True),
    IntegerOp("resize", "movement", "nearest resize", ("resize",), shares_parameters=True, supports=_nearest_resize),
    IntegerOp("split", "movement", "split", ("split",), shares_parameters=True),
    IntegerOp("pad", "movement", "pad (the constant is quantized to the input's parameters)", ("pad",), shares_parameters=True),
    IntegerOp("concat", "movement", "concat (operands requantized to the result's parameters where they differ)", ("concat",)),
    IntegerOp("clip", "movement", "clamp in the integer domain (a ReLU/Clip not fused into its producer)", ("relu", "clip"), shares_parameters=True),
    *(
        IntegerOp(name, "plain", f"{name} on integer data", (name,), c_refusal="no C kernel for this op on integer data yet")
        for name in ("equal", "greater", "less", "greater_or_equal", "less_or_equal", "not", "and", "or", "xor", "where")
    ),
    IntegerOp("cast", "plain", "integer-to-integer cast of integer data", ("cast",), c_refusal="no C kernel for integer casts yet"),
):
    declare(_op)
