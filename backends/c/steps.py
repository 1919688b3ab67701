"""The program model of the C backend and what lowering rules build with: steps, their symbolic
tensor arguments (read/write a value, the step's scratch), the parameter-struct builder, and the
rule table (one rule per integer op, registered from ``rules_*``). ``lowering.lower_graph`` drives
them; keeping them here lets the rule modules and the driver import one way.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qcc.backends.c.carrays import ByteArray, Raw, array_definition, struct_definition
from qcc.backends.c.cnames import c_identifier
from qcc.errors import QccError
from qcc.ir.core import Graph, Node, Value
from qcc.ir.types import DType, TensorType
from qcc.registry import Registry

MAX_DIMS = 8
ROUNDING = {"double": 0, "single": 1}
ACTIVATION_TYPES = {DType.I8: ("int8_t", "s8", 1), DType.I16: ("int16_t", "s16", 2)}
PLAIN_INTEGER_TYPES = {
    DType.BOOL: ("uint8_t", "u8", 1), DType.U8: ("uint8_t", "u8", 1), DType.I8: ("int8_t", "s8", 1),
    DType.I16: ("int16_t", "s16", 2), DType.I32: ("int32_t", "s32", 4), DType.I64: ("int64_t", "s64", 8),
}
"""C types of integer data the model takes as it is (docs/arithmetic.md §3.18): (ctype, suffix, size)."""
PANEL_BYTES = 65536
"""Target size in int16 elements of the GEMM convolution's packed panel (128 KB: fits L2 caches)."""
MAX_PANEL = 64


class CBackendError(QccError):
    """A graph the C backend cannot lower (an op without a C kernel, an unsupported variant)."""


# ---- the program model ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Arg:
    """A pointer or scalar argument of a kernel call: ``read``/``write`` of a tensor value,
    this step's ``scratch`` area, or a ``raw`` C expression."""

    kind: str
    value: Value | None = None
    text: str = ""


@dataclass
class Call:
    function: str
    params: str | None
    args: list[Arg]


@dataclass
class Step:
    """The C of one IR node (or a synthetic output copy)."""

    index: int
    node: Node | None
    label: str
    reads: list[Value]
    writes: list[Value]
    kernel: str = ""
    calls: list[Call] = field(default_factory=list)
    definitions: list[str | ByteArray] = field(default_factory=list)
    files: set[str] = field(default_factory=set)
    scratch: int = 0
    inplace: tuple[int, ...] = ()
    """Positions in ``reads`` whose memory the (single) result may take over."""
    alias: bool = False
    """The result is a view of ``reads[0]`` (reshape): no calls, same memory."""


@dataclass
class BoundaryIO:
    """One integer input or output of ``run`` and its float boundary, if any."""

    name: str              # sanitized, for C identifiers
    float_name: str        # the graph's input/output name
    value: Value           # the integer value run() reads or writes
    dtype: DType
    shape: tuple[int, ...]
    scale: float | tuple[float, ...] | None    # None when the graph boundary is already integer
    zero_point: int | tuple[int, ...]
    axis: int | None = None                     # per-axis parameters (a joined output, arithmetic.md §3.17)

    @property
    def ctype(self) -> str:
        return PLAIN_INTEGER_TYPES[self.dtype][0]

    @property
    def suffix(self) -> str:
        return PLAIN_INTEGER_TYPES[self.dtype][1]

    def per_tensor_scale(self) -> float:
        """The one scale of a float boundary that is per tensor (every input; outputs without ``axis``)."""
        if not isinstance(self.scale, float):
            raise CBackendError(f"boundary '{self.float_name}' has no single scale (scale {self.scale!r})")
        return self.scale

    def per_axis_scales(self) -> tuple[float, ...]:
        """The scales of a joined output dequantized per index along ``axis``."""
        if not isinstance(self.scale, tuple):
            raise CBackendError(f"boundary '{self.float_name}' has no per-axis scales (scale {self.scale!r})")
        return self.scale

    @property
    def count(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.count * PLAIN_INTEGER_TYPES[self.dtype][2]


@dataclass
class CProgram:
    """A quantized graph lowered to kernel calls, plus its memory plan once planned."""

    name: str
    graph: Graph
    steps: list[Step]
    inputs: list[BoundaryIO]
    outputs: list[BoundaryIO]
    plan: Any = None  # planner.MemoryPlan
    constant_form: str = "strings"  # how model.c writes int8 weights (carrays.CONSTANT_FORMS)

    @property
    def files(self) -> list[str]:
        """The kernel library sources the program calls into."""
        needed = {"qcc_arith.h", "qcc_kernels.h"}
        for step in self.steps:
            needed |= step.files
        if any(io.scale is not None for io in self.inputs + self.outputs):
            needed.add("qcc_boundary.c")
        return sorted(needed)

    @property
    def prefix(self) -> str:
        return f"qcc_{self.name}"


# ---- helpers -------------------------------------------------------------------------------------


def shape_of(v: Value) -> tuple[int, ...]:
    return tuple(int(d) for d in v.type.static_shape)


def activation_info(v: Value, where: str) -> tuple[str, str, int]:
    info = ACTIVATION_TYPES.get(v.type.dtype)
    if info is None:
        raise CBackendError(f"{where}: value '{v.name}' has element type {v.type.dtype}; the C kernels take i8 or i16 activations")
    return info


def is_accumulator_type(t: TensorType) -> bool:
    """An int32 accumulator on its way to a graph output (docs/arithmetic.md §3.20)."""
    return t.dtype is DType.I32 and t.quant is not None and t.quant.bits == 32


def element_info(v: Value, where: str) -> tuple[str, str, int]:
    """(ctype, suffix, size) of an activation, an int32 accumulator output or plain integer data
    (views and copies only)."""
    quantized = v.type.quant is not None and not is_accumulator_type(v.type)
    info = ACTIVATION_TYPES.get(v.type.dtype) if quantized else PLAIN_INTEGER_TYPES.get(v.type.dtype)
    if info is None:
        raise CBackendError(f"{where}: value '{v.name}' has element type {v.type.dtype}; the C code takes i8/i16 activations "
                            "and bool, u8, i8, i16, i32 or i64 integer data")
    return info


def contiguous_strides(shape: Sequence[int]) -> list[int]:
    strides, acc = [], 1
    for d in reversed(shape):
        strides.append(acc)
        acc *= int(d)
    return strides[::-1]


def broadcast_strides(shape: Sequence[int], out_shape: Sequence[int]) -> list[int]:
    """Element strides of an operand of ``shape`` read at every index of ``out_shape``
    (numpy broadcasting: right-aligned, 0 along broadcast axes)."""
    own = contiguous_strides(shape)
    lead = len(out_shape) - len(shape)
    out = []
    for i, d in enumerate(out_shape):
        j = i - lead
        out.append(0 if j < 0 or shape[j] == 1 and d != 1 else (own[j] if j >= 0 else 0))
    return out


def collapse(dims: Sequence[int], *strides: Sequence[int]) -> tuple[list[int], ...]:
    """Drop size-1 axes and merge neighbours that every stride list walks contiguously:
    the same iteration in fewer, longer loops. Always returns at least one axis."""
    keep = [i for i, d in enumerate(dims) if d != 1]
    new_dims = [int(dims[i]) for i in keep]
    new_strides = [[int(s[i]) for i in keep] for s in strides]
    i = len(new_dims) - 2
    while i >= 0:
        if all(s[i] == s[i + 1] * new_dims[i + 1] for s in new_strides):
            new_dims[i] *= new_dims[i + 1]
            del new_dims[i + 1]
            for s in new_strides:
                s[i] = s[i + 1]  # the merged axis walks with the inner stride
                del s[i + 1]
        i -= 1
    if not new_dims:
        new_dims = [1]
        new_strides = [[0] for _ in strides]
    return (new_dims, *new_strides)


def pad3(values: Sequence[int], fill: int) -> list[int]:
    return [fill] * (3 - len(values)) + [int(v) for v in values]


def round_up(v: int, m: int) -> int:
    return -(-v // m) * m


def int_array(attr: Any) -> np.ndarray:
    """An int or Tensor attribute as a flat int64 array."""
    if isinstance(attr, (int, np.integer)):
        return np.array([int(attr)], dtype=np.int64)
    return np.asarray(attr.array).astype(np.int64).reshape(-1)


SHARED_ARRAY_MIN = 256
"""Arrays of at least this many elements are defined once per model when steps repeat them."""


class StepBuilder:
    """Collects the definitions and calls of one step; names are ``k<index>_<tag>``."""

    def __init__(self, step: Step, force_generic: bool, shared_arrays: dict[tuple[str, bytes], str] | None = None) -> None:
        self.step = step
        self.force_generic = force_generic
        # large arrays already defined by an earlier step, by content: a weight that several
        # nodes share (an unrolled recurrent layer's R) is compiled in once
        self.shared_arrays = shared_arrays if shared_arrays is not None else {}
        self.prefix = f"k{step.index}"
        self._count = 0

    def name(self, tag: str) -> str:
        self._count += 1
        return f"{self.prefix}_{c_identifier(tag, 24)}{self._count}"

    def array(self, tag: str, array: np.ndarray, dtype: Any) -> Raw:
        data = np.asarray(array)
        target = np.dtype(dtype)
        info = np.iinfo(target)
        if data.size and (int(data.min()) < info.min or int(data.max()) > info.max):
            raise CBackendError(f"node '{self.node_name}': {tag} values do not fit {target}")
        data = np.ascontiguousarray(data.astype(target))
        key = (target.str, hashlib.sha256(data.tobytes()).digest() + str(data.size).encode())
        if data.size >= SHARED_ARRAY_MIN and key in self.shared_arrays:
            return Raw(self.shared_arrays[key])
        definition, pointer = array_definition(self.name(tag), data)
        self.step.definitions.append(definition)
        if data.size >= SHARED_ARRAY_MIN:
            self.shared_arrays[key] = pointer
        return Raw(pointer)

    def struct(self, ctype: str, tag: str, fields: dict[str, Any]) -> str:
        name = self.name(tag)
        self.step.definitions.append(struct_definition(ctype, name, fields))
        return name

    def call(self, function: str, params: str | None, *args: Arg) -> None:
        self.step.calls.append(Call(function, params, list(args)))
        if not self.step.kernel:
            self.step.kernel = function

    def files(self, *names: str) -> None:
        self.step.files.update(names)

    @property
    def node_name(self) -> str:
        return self.step.node.name if self.step.node is not None else self.step.label


def read(v: Value) -> Arg:
    return Arg("read", v)


def write(v: Value) -> Arg:
    return Arg("write", v)


def raw(text: Any) -> Arg:
    return Arg("raw", text=str(text))


SCRATCH = Arg("scratch", text="int16_t")

Rule = Callable[[StepBuilder, Node], None]
RULES: Registry[Rule] = Registry("C lowering")
rule = RULES.register  # @rule("q.op", ...) registers the C lowering of integer ops


def requant_fields(b: StepBuilder, node: Node, channels: int) -> dict[str, Any]:
    a = node.attrs
    mult, shift = int_array(a["multiplier"]), int_array(a["shift"])
    per_channel = mult.size > 1
    if per_channel and mult.size != channels:
        raise CBackendError(f"node '{node.name}': {mult.size} multipliers for {channels} output channels")
    return {
        "multiplier": b.array("mult", mult, np.int32),
        "shift": b.array("shift", shift, np.int32),
        "per_channel": int(per_channel),
        "rounding": ROUNDING[a["rounding"]],
        "acc64": int(a.get("acc_bits", 32) == 64),
        "out_zp": int(a["out_zp"]),
        "qmin": int(a["qmin"]),
        "qmax": int(a["qmax"]),
    }


def same_type(node: Node, x: Value, y: Value) -> tuple[str, str, int]:
    info = activation_info(x, f"node '{node.name}'")
    if activation_info(y, f"node '{node.name}'") != info:
        raise CBackendError(f"node '{node.name}' ({node.op}): operand {x.type.dtype} and result {y.type.dtype} differ; no C kernel converts here")
    return info


def const_data(node: Node, v: Value, what: str) -> np.ndarray:
    if not v.is_const:
        raise CBackendError(f"node '{node.name}' ({node.op}): the {what} must be a constant")
    return np.asarray(v.data)


# ---- the graph -----------------------------------------------------------------------------------
