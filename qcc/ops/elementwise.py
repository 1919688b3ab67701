"""Element-wise float ops: unary activations and math, broadcasting binary ops, and ``where``.

Semantics follow the ONNX operators of the same name (snake_case here). The ops of a family differ
only in name, documentation, attributes and which element types they accept, so each family is a
table of specs fed through one result-type rule; that keeps the rules impossible to drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from qcc.ir.ops import FUSED_CLAMP, Attr, broadcast_shapes, define_op, fail, same_dtype
from qcc.ir.types import DType, TensorType

# ---- element-type classes ---------------------------------------------------------------------

@dataclass(frozen=True)
class TypeClass:
    """A named set of element types an operand may have (the ONNX type constraint, roughly)."""

    name: str
    accepts: Callable[[DType], bool]


FLOAT = TypeClass("a float type", lambda d: d.is_float)
_UNSIGNED = (DType.U8, DType.U16, DType.U32, DType.U64)
SIGNED = TypeClass("a signed integer or float type", lambda d: d is not DType.BOOL and d not in _UNSIGNED)
NUMERIC = TypeClass("a numeric type", lambda d: d is not DType.BOOL)
BOOL = TypeClass("bool", lambda d: d is DType.BOOL)
ANY = TypeClass("any type", lambda d: True)


def check_class(op: str, what: str, t: TensorType, cls: TypeClass) -> None:
    if not cls.accepts(t.dtype):
        raise fail(op, f"{what} has element type {t.dtype}, expected {cls.name}")


# ---- op specs ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class ElementwiseSpec:
    """What distinguishes one element-wise op from its siblings.

    ``operands`` is the type class every operand must belong to; ``bool_result`` marks
    comparisons (bool result whatever the operand type); ``mixed`` lets the second operand have
    another element type than the first (Pow's exponent); ``unidirectional`` requires the second
    operand to broadcast to the first one's shape (PRelu's slope).
    """

    doc: str
    operands: TypeClass = FLOAT
    attrs: tuple[Attr, ...] = ()
    bool_result: bool = False
    mixed: bool = False
    unidirectional: bool = False


def _alpha(default: float, doc: str = "") -> Attr:
    return Attr("alpha", "float", default, doc)


UNARY_OPS: dict[str, ElementwiseSpec] = {
    "relu": ElementwiseSpec("max(x, 0).", SIGNED),
    "leaky_relu": ElementwiseSpec("x if x >= 0 else alpha * x.", attrs=(_alpha(0.01, "slope for x < 0"),)),
    "clip": ElementwiseSpec(
        "min(max(x, min), max): when min > max every element becomes max (ONNX Clip). On integer "
        "tensors the bounds are rounded inward to integers of the element type. ReLU6 imports as "
        "clip{min=0, max=6}; fuse-activation folds it into the producer's act_min/act_max.",
        NUMERIC,
        (
            Attr("min", "float", float("-inf"), "lower bound"),
            Attr("max", "float", float("inf"), "upper bound"),
        ),
    ),
    "sigmoid": ElementwiseSpec("1 / (1 + exp(-x))."),
    "hard_sigmoid": ElementwiseSpec(
        "max(0, min(1, alpha * x + beta)).",
        attrs=(_alpha(0.2), Attr("beta", "float", 0.5)),
    ),
    "hard_swish": ElementwiseSpec("x * max(0, min(1, x / 6 + 1/2)) (MobileNetV3's h-swish)."),
    "tanh": ElementwiseSpec("Hyperbolic tangent."),
    "erf": ElementwiseSpec("The Gauss error function."),
    "gelu": ElementwiseSpec(
        "x/2 * (1 + erf(x / sqrt(2))), or with approximate='tanh' "
        "x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))).",
        attrs=(Attr("approximate", "str", "none", "'none' or 'tanh'"),),
    ),
    "elu": ElementwiseSpec("x if x >= 0 else alpha * (exp(x) - 1).", attrs=(_alpha(1.0),)),
    "selu": ElementwiseSpec(
        "gamma * x if x > 0 else gamma * alpha * (exp(x) - 1).",
        attrs=(_alpha(1.67326319217681884765625), Attr("gamma", "float", 1.05070102214813232421875)),
    ),
    "celu": ElementwiseSpec("max(0, x) + min(0, alpha * (exp(x / alpha) - 1)).", attrs=(_alpha(1.0),)),
    "thresholded_relu": ElementwiseSpec("x if x > alpha else 0.", attrs=(_alpha(1.0),)),
    "softplus": ElementwiseSpec("log(1 + exp(x))."),
    "softsign": ElementwiseSpec("x / (1 + |x|)."),
    "mish": ElementwiseSpec("x * tanh(softplus(x))."),
    "sqrt": ElementwiseSpec("Square root (NaN for negative x)."),
    "exp": ElementwiseSpec("e^x."),
    "log": ElementwiseSpec("Natural logarithm (NaN for x < 0, -inf for 0)."),
    "reciprocal": ElementwiseSpec("1 / x."),
    "neg": ElementwiseSpec("-x (integers wrap).", SIGNED),
    "abs": ElementwiseSpec("|x| (integers wrap).", NUMERIC),
    "sign": ElementwiseSpec("-1, 0 or 1 by the sign of x (NaN stays NaN).", NUMERIC),
    "floor": ElementwiseSpec("Largest integer <= x."),
    "ceil": ElementwiseSpec("Smallest integer >= x."),
    "round": ElementwiseSpec("Nearest integer, ties to even."),
    "not": ElementwiseSpec("Logical negation.", BOOL),
}

BINARY_OPS: dict[str, ElementwiseSpec] = {
    "add": ElementwiseSpec("a + b with ONNX broadcasting (integers wrap).", NUMERIC, FUSED_CLAMP),
    "sub": ElementwiseSpec("a - b with ONNX broadcasting (integers wrap).", NUMERIC, FUSED_CLAMP),
    "mul": ElementwiseSpec("a * b with ONNX broadcasting (integers wrap).", NUMERIC, FUSED_CLAMP),
    "div": ElementwiseSpec(
        "a / b with ONNX broadcasting; integer division truncates toward zero (C semantics).", NUMERIC
    ),
    "pow": ElementwiseSpec(
        "a ** b with ONNX broadcasting. The exponent may have another numeric element type; the "
        "result has the base's type (ONNX Pow-15). Integer results are truncated toward zero.",
        NUMERIC,
        mixed=True,
    ),
    "max": ElementwiseSpec("Element-wise maximum with ONNX broadcasting.", NUMERIC),
    "min": ElementwiseSpec("Element-wise minimum with ONNX broadcasting.", NUMERIC),
    "prelu": ElementwiseSpec(
        "x if x >= 0 else slope * x; the slope broadcasts to x's shape (unidirectional, e.g. one "
        "slope per channel as [C,1,1]).",
        NUMERIC,
        unidirectional=True,
    ),
    "equal": ElementwiseSpec("a == b with ONNX broadcasting; bool result.", ANY, bool_result=True),
    "greater": ElementwiseSpec("a > b with ONNX broadcasting; bool result.", NUMERIC, bool_result=True),
    "less": ElementwiseSpec("a < b with ONNX broadcasting; bool result.", NUMERIC, bool_result=True),
    "greater_or_equal": ElementwiseSpec("a >= b with ONNX broadcasting; bool result.", NUMERIC, bool_result=True),
    "less_or_equal": ElementwiseSpec("a <= b with ONNX broadcasting; bool result.", NUMERIC, bool_result=True),
    "and": ElementwiseSpec("Logical and with ONNX broadcasting.", BOOL),
    "or": ElementwiseSpec("Logical or with ONNX broadcasting.", BOOL),
    "xor": ElementwiseSpec("Logical exclusive or with ONNX broadcasting.", BOOL),
}

# Operand names of binary ops whose operands are not interchangeable.
_BINARY_OPERANDS: dict[str, tuple[str, str]] = {"pow": ("base", "exponent"), "prelu": ("x", "slope")}


# ---- the result-type rules --------------------------------------------------------------------

def unary_type(op: str, spec: ElementwiseSpec, types: Sequence[TensorType]) -> list[TensorType]:
    """The operand's type, once its element type is one the op accepts."""
    x = types[0]
    check_class(op, "operand", x, spec.operands)
    return [TensorType(x.dtype, x.shape)]


def binary_type(op: str, spec: ElementwiseSpec, types: Sequence[TensorType]) -> list[TensorType]:
    """The broadcast shape with the first operand's element type (bool for comparisons)."""
    a, b = types
    names = _BINARY_OPERANDS.get(op, ("a", "b"))
    check_class(op, f"operand '{names[0]}'", a, spec.operands)
    check_class(op, f"operand '{names[1]}'", b, spec.operands)
    if not spec.mixed:
        same_dtype(op, types)
    shape = broadcast_shapes(op, a.shape, b.shape)
    if spec.unidirectional and shape != tuple(a.shape):
        raise fail(op, f"{names[1]} shape {list(b.shape)} does not broadcast to {names[0]} shape {list(a.shape)}")
    return [TensorType(DType.BOOL if spec.bool_result else a.dtype, shape)]


def _register(table: Mapping[str, ElementwiseSpec], inputs: Sequence[str] | None, rule: Callable[..., list[TensorType]]) -> None:
    """Register every op of a table with ``rule`` as its result-type rule and the spec's doc."""
    for name, spec in table.items():
        def infer(types: Sequence[TensorType], attrs: Mapping[str, Any], _name: str = name, _spec: ElementwiseSpec = spec) -> list[TensorType]:
            return rule(_name, _spec, types)

        infer.__doc__ = spec.doc
        infer.__name__ = infer.__qualname__ = f"infer_{name}"
        operands = inputs or _BINARY_OPERANDS.get(name, ("a", "b"))
        define_op(name, operands, spec.attrs)(infer)


_register(UNARY_OPS, ("x",), unary_type)
_register(BINARY_OPS, None, binary_type)


@define_op("where", ["cond", "a", "b"])
def _where(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
    """a where cond is true, else b; all three operands broadcast together (ONNX Where)."""
    cond, a, b = types
    check_class("where", "condition", cond, BOOL)
    dtype = same_dtype("where", [a, b])
    return [TensorType(dtype, broadcast_shapes("where", cond.shape, a.shape, b.shape))]
