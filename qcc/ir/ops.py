"""The closed, documented op set: each op's operands, typed attributes and result-type rule.

An ``OpDef`` is the single source of truth about an op. The verifier checks nodes against it, the
parser uses its attribute kinds to read attribute text, the printer leaves out attributes that equal
their defaults, and graph builders call its ``infer`` to type new results. Op families register
their definitions from modules under ``qcc/ops/``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qcc.errors import IRError
from qcc.ir.types import Dim, DType, TensorType

ATTR_KINDS = ("int", "float", "str", "bool", "ints", "floats", "dtype", "tensor")

REQUIRED: Any = object()  # sentinel default: the attribute must be given


@dataclass(frozen=True, eq=False)
class Tensor:
    """An immutable array attribute (LUT tables, per-channel multipliers), compared by value."""

    array: np.ndarray

    def __post_init__(self) -> None:
        arr = np.array(self.array, copy=True)
        arr.setflags(write=False)
        object.__setattr__(self, "array", arr)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Tensor)
            and self.array.dtype == other.array.dtype
            and self.array.shape == other.array.shape
            and self.array.tobytes() == other.array.tobytes()
        )

    def __hash__(self) -> int:
        return hash((self.array.dtype.str, self.array.shape, self.array.tobytes()))


@dataclass(frozen=True)
class Attr:
    """One attribute of an op: its name, kind (one of ATTR_KINDS) and default."""

    name: str
    kind: str
    default: Any = REQUIRED
    doc: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ATTR_KINDS:
            raise ValueError(f"attribute kind {self.kind!r} is not one of {ATTR_KINDS}")
        if self.default is not REQUIRED:
            object.__setattr__(self, "default", coerce_attr(self.kind, self.default, self.name))

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


InferFn = Callable[[Sequence[TensorType], Mapping[str, Any]], list[TensorType]]


@dataclass(frozen=True)
class OpDef:
    """Definition of an op.

    ``inputs`` names the operands in order; the last ``optional`` of them may be left out.
    ``variadic`` ops take one or more operands of the same role (concat, sum).
    ``infer`` maps operand types and attributes to result types and raises IRError when they do
    not fit together; it is how every builder and the verifier learn result types.
    """

    name: str
    inputs: tuple[str, ...]
    attrs: tuple[Attr, ...]
    infer: InferFn
    doc: str
    optional: int = 0
    variadic: bool = False
    attr_index: Mapping[str, Attr] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "attr_index", {a.name: a for a in self.attrs})

    @property
    def min_inputs(self) -> int:
        return 1 if self.variadic else len(self.inputs) - self.optional

    @property
    def max_inputs(self) -> int | None:
        return None if self.variadic else len(self.inputs)

    def normalize_attrs(self, attrs: Mapping[str, Any], where: str) -> dict[str, Any]:
        """Validate attributes against the schema and fill in defaults (raises IRError)."""
        out: dict[str, Any] = {}
        for key in attrs:
            if key not in self.attr_index:
                known = ", ".join(a.name for a in self.attrs) or "none"
                raise IRError(f"{where}: op '{self.name}' has no attribute '{key}' (known: {known})")
        for spec in self.attrs:
            if spec.name in attrs:
                out[spec.name] = coerce_attr(spec.kind, attrs[spec.name], f"{where}: attribute '{spec.name}'")
            elif spec.required:
                raise IRError(f"{where}: op '{self.name}' requires attribute '{spec.name}'")
            else:
                out[spec.name] = spec.default
        return out

    def check_arity(self, n: int, where: str) -> None:
        hi = self.max_inputs
        if n < self.min_inputs or (hi is not None and n > hi):
            want = f"{self.min_inputs}" if hi == self.min_inputs else f"{self.min_inputs}..{hi if hi is not None else 'n'}"
            raise IRError(f"{where}: op '{self.name}' takes {want} operands, got {n}")


def coerce_attr(kind: str, value: Any, where: str) -> Any:
    """Convert a Python value to the canonical form of an attribute kind, or raise IRError."""
    try:
        if kind == "int":
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError
            return int(value)
        if kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise TypeError
            return float(value)
        if kind == "bool":
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError
            return bool(value)
        if kind == "str":
            if not isinstance(value, str):
                raise TypeError
            return value
        if kind == "ints":
            items = tuple(value)
            if any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in items):
                raise TypeError
            return tuple(int(v) for v in items)
        if kind == "floats":
            items = tuple(value)
            if any(isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) for v in items):
                raise TypeError
            return tuple(float(v) for v in items)
        if kind == "dtype":
            if isinstance(value, DType):
                return value
            return DType.parse(str(value))
        if kind == "tensor":
            return value if isinstance(value, Tensor) else Tensor(np.asarray(value))
    except (TypeError, ValueError):
        pass
    raise IRError(f"{where}: expected {kind}, got {value!r}")


# Optional clamp that fuse-activation folds into a producer: y = clamp(op(...), act_min, act_max).
# Producers that accept it: conv, conv_transpose, gemm, matmul, add.
FUSED_CLAMP = (
    Attr("act_min", "float", float("-inf"), "lower bound of a fused ReLU/ReLU6/Clip"),
    Attr("act_max", "float", float("inf"), "upper bound of a fused ReLU/ReLU6/Clip"),
)

_REGISTRY: dict[str, OpDef] = {}


def register_op(opdef: OpDef) -> OpDef:
    """Add an op to the op set. Names are unique; re-registering one is a bug."""
    if opdef.name in _REGISTRY:
        raise ValueError(f"op '{opdef.name}' is already registered")
    _REGISTRY[opdef.name] = opdef
    return opdef


def define_op(
    name: str,
    inputs: Sequence[str],
    attrs: Sequence[Attr] = (),
    *,
    optional: int = 0,
    variadic: bool = False,
) -> Callable[[InferFn], InferFn]:
    """Decorator form of register_op: the decorated function is the op's result-type rule and its
    docstring the op's documentation."""

    def wrap(fn: InferFn) -> InferFn:
        register_op(
            OpDef(name, tuple(inputs), tuple(attrs), fn, (fn.__doc__ or "").strip(), optional, variadic)
        )
        return fn

    return wrap


def get_op(name: str) -> OpDef:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise IRError(f"unknown op '{name}'") from None


def all_ops() -> dict[str, OpDef]:
    """Every op defined so far (the package ``qcc`` loads ``qcc.ops``, which defines them all)."""
    return dict(sorted(_REGISTRY.items()))


# ---- helpers shared by the op families' result-type rules -------------------------------------


def fail(op: str, message: str) -> IRError:
    return IRError(f"{op}: {message}")


def same_as_input(types: Sequence[TensorType], _attrs: Mapping[str, Any]) -> list[TensorType]:
    """Result has the first operand's type (unary element-wise ops)."""
    return [TensorType(types[0].dtype, types[0].shape)]


def broadcast_shapes(op: str, *shapes: Sequence[Dim]) -> tuple[int, ...]:
    """Numpy/ONNX multidirectional broadcasting of static shapes (a symbolic dim has no size to
    broadcast, so it is refused rather than guessed)."""
    static = [tuple(d for d in s if isinstance(d, int)) for s in shapes]
    for shape, ints in zip(shapes, static):
        if len(ints) != len(shape):
            raise fail(op, f"operand shape [{','.join(map(str, shape))}] must be static to broadcast")
    try:
        return tuple(int(d) for d in np.broadcast_shapes(*static))
    except ValueError:
        raise fail(op, "operand shapes " + " and ".join(str(list(s)) for s in shapes) + " do not broadcast") from None


def normalize_axis(op: str, axis: int, rank: int) -> int:
    """Map a possibly negative axis into [0, rank)."""
    if not -rank <= axis < max(rank, 1):
        raise fail(op, f"axis {axis} is out of range for rank {rank}")
    return axis % rank if rank else 0


def same_dtype(op: str, types: Sequence[TensorType]) -> DType:
    dtypes = {t.dtype for t in types}
    if len(dtypes) != 1:
        raise fail(op, "operands have different element types: " + ", ".join(sorted(str(d) for d in dtypes)))
    return types[0].dtype

