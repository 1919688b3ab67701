"""Value objects of the IR type system: element types, tensor types and quantization parameters.

They are frozen and compared by value so that passes can share them freely and the printer can
print them without caring where they came from.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from qcc.errors import IRError

Dim = int | str  # str = symbolic dimension, allowed only on graph inputs


class DType(enum.Enum):
    """Element types the IR knows, by their printed name."""

    BOOL = "bool"
    I4 = "i4"
    I8 = "i8"
    I16 = "i16"
    I32 = "i32"
    I64 = "i64"
    U8 = "u8"
    U16 = "u16"
    U32 = "u32"
    U64 = "u64"
    F16 = "f16"
    BF16 = "bf16"
    F32 = "f32"
    F64 = "f64"

    @property
    def numpy(self) -> np.dtype:
        """The numpy dtype that holds values of this type (i4 is held in int8)."""
        return _TO_NUMPY[self]

    @property
    def is_float(self) -> bool:
        return self in (DType.F16, DType.BF16, DType.F32, DType.F64)

    @property
    def is_integer(self) -> bool:
        return not self.is_float and self is not DType.BOOL

    @property
    def bits(self) -> int:
        return _BITS[self]

    @classmethod
    def from_numpy(cls, dtype: np.dtype | type) -> DType:
        dt = np.dtype(dtype)
        for member, np_dtype in _TO_NUMPY.items():
            if np_dtype == dt and member is not DType.I4:
                return member
        raise IRError(f"numpy dtype {dt} has no IR element type")

    @classmethod
    def parse(cls, text: str) -> DType:
        try:
            return cls(text)
        except ValueError:
            names = ", ".join(m.value for m in cls)
            raise IRError(f"unknown element type '{text}' (known: {names})") from None

    def __str__(self) -> str:
        return self.value


def _bf16() -> np.dtype:
    import ml_dtypes  # shipped with onnx; only needed for bf16 tensors

    return np.dtype(ml_dtypes.bfloat16)


_TO_NUMPY: dict[DType, np.dtype] = {
    DType.BOOL: np.dtype(np.bool_),
    DType.I4: np.dtype(np.int8),
    DType.I8: np.dtype(np.int8),
    DType.I16: np.dtype(np.int16),
    DType.I32: np.dtype(np.int32),
    DType.I64: np.dtype(np.int64),
    DType.U8: np.dtype(np.uint8),
    DType.U16: np.dtype(np.uint16),
    DType.U32: np.dtype(np.uint32),
    DType.U64: np.dtype(np.uint64),
    DType.F16: np.dtype(np.float16),
    DType.BF16: _bf16(),
    DType.F32: np.dtype(np.float32),
    DType.F64: np.dtype(np.float64),
}

_BITS = {
    DType.BOOL: 1, DType.I4: 4, DType.I8: 8, DType.I16: 16, DType.I32: 32, DType.I64: 64,
    DType.U8: 8, DType.U16: 16, DType.U32: 32, DType.U64: 64,
    DType.F16: 16, DType.BF16: 16, DType.F32: 32, DType.F64: 64,
}


QUANT_BITS = (2, 3, 4, 5, 6, 7, 8, 16, 32)
"""Grid widths a QuantParams may have; below 8 the values are stored in int8 (docs/arithmetic.md §3.19)."""
SCHEME_BITS = (2, 3, 4, 5, 6, 7, 8, 16)
"""Weight and activation widths a QuantScheme may ask for; the target decides which it runs."""


@dataclass(frozen=True)
class QuantParams:
    """How integers map to reals: ``r = scale * (q - zero_point)``.

    Per-tensor when ``axis`` is None (scale and zero_point are scalars), per-channel along ``axis``
    otherwise (scale and zero_point are tuples, one entry per channel).
    """

    scale: float | tuple[float, ...]
    zero_point: int | tuple[int, ...]
    axis: int | None = None
    bits: int = 8

    def __post_init__(self) -> None:
        if self.axis is None:
            if isinstance(self.scale, tuple) or isinstance(self.zero_point, tuple):
                raise IRError("per-tensor QuantParams needs scalar scale and zero_point")
            scales: tuple[float, ...] = (float(self.scale),)
        else:
            if not isinstance(self.scale, tuple):
                raise IRError("per-channel QuantParams needs a tuple of scales")
            if isinstance(self.zero_point, tuple) and len(self.zero_point) != len(self.scale):
                raise IRError("per-channel QuantParams: scale and zero_point lengths differ")
            scales = self.scale
        for s in scales:
            if not (math.isfinite(s) and s > 0):
                raise IRError(f"quantization scale must be finite and > 0, got {s}")
        if self.bits not in QUANT_BITS:
            raise IRError(f"quantization bit width must be 2..8, 16 or 32, got {self.bits}")

    @property
    def per_channel(self) -> bool:
        return self.axis is not None

    # Typed views of ``scale`` / ``zero_point``: the fields hold a scalar or a tuple depending on ``axis``,
    # so code that knows which kind it has asks for that kind and gets an IRError, not a wrong number.

    def scale_value(self) -> float:
        """The scale of per-tensor parameters."""
        if isinstance(self.scale, tuple):
            raise IRError(f"expected per-tensor quantization, got per-axis parameters along axis {self.axis}")
        return float(self.scale)

    def zero_point_value(self) -> int:
        """The zero point of per-tensor parameters."""
        if isinstance(self.zero_point, tuple):
            raise IRError(f"expected per-tensor quantization, got per-axis zero points along axis {self.axis}")
        return int(self.zero_point)

    def scales(self) -> tuple[float, ...]:
        """Every scale: one per channel when per-axis, a single one when per-tensor."""
        if isinstance(self.scale, tuple):
            return tuple(float(s) for s in self.scale)
        return (float(self.scale),)

    def zero_points(self) -> tuple[int, ...]:
        """Every zero point, as many as ``scales()`` (a scalar zero point of per-axis parameters repeated)."""
        if isinstance(self.zero_point, tuple):
            return tuple(int(z) for z in self.zero_point)
        return (int(self.zero_point),) * len(self.scales())

    def channel_zero_points(self) -> tuple[int, ...]:
        """One zero point per channel of per-channel parameters (a scalar zero point repeated)."""
        if self.axis is None:
            raise IRError("per-tensor QuantParams have no channels")
        return self.zero_points()


@dataclass(frozen=True)
class TensorType:
    """A tensor's element type and static shape, plus quantization parameters when quantized."""

    dtype: DType
    shape: tuple[Dim, ...]
    quant: QuantParams | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(self.shape))
        for d in self.shape:
            if isinstance(d, bool) or not isinstance(d, (int, str)):
                raise IRError(f"shape dims must be ints or symbols, got {d!r}")
            if isinstance(d, int) and d < 0:
                raise IRError(f"shape dims must be >= 0, got {d}")

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def is_static(self) -> bool:
        return all(isinstance(d, int) for d in self.shape)

    @property
    def static_shape(self) -> tuple[int, ...]:
        dims = tuple(d for d in self.shape if isinstance(d, int))
        if len(dims) != len(self.shape):
            raise IRError(f"shape {self.shape_text()} is not static")
        return dims

    def static_dim(self, axis: int) -> int:
        """One dim a shape rule computes with; symbolic dims may only pass through unchanged."""
        d = self.shape[axis]
        if not isinstance(d, int):
            raise IRError(f"dim {axis} of shape {self.shape_text()} must be static, got symbol '{d}'")
        return d

    @property
    def size(self) -> int:
        return math.prod(self.static_shape)

    def with_shape(self, shape: tuple[Dim, ...]) -> TensorType:
        return TensorType(self.dtype, tuple(shape), self.quant)

    def with_dtype(self, dtype: DType) -> TensorType:
        return TensorType(dtype, self.shape, None)

    def shape_text(self) -> str:
        return "[" + ",".join(str(d) for d in self.shape) + "]"

    def __str__(self) -> str:
        return f"{self.dtype}{self.shape_text()}"


def tensor_type_of(array: np.ndarray) -> TensorType:
    """The TensorType describing a numpy array."""
    return TensorType(DType.from_numpy(array.dtype), tuple(int(d) for d in array.shape))


# ---- quantization scheme ----------------------------------------------------------------------

CALIBRATION_METHODS = ("auto", "minmax", "percentile", "mse", "entropy", "search")
"""How calibrate picks an activation's range; ``auto`` (the default) is ``percentile`` at 8 bits and
below and ``minmax`` above, ``search`` tries several and keeps the one the network's outputs prefer
(passes/calibrate.py says why)."""
ROUNDINGS = ("double", "single")
OUTPUT_MODES = ("int8", "accumulator")
"""How graph outputs made by conv/gemm leave the integer graph (QuantScheme.outputs)."""


@dataclass(frozen=True)
class NodeOverride:
    """Per-node exceptions to a scheme's widths: ``conv_3:weights=4:acts=16`` in text."""

    node: str
    weight_bits: int | None = None
    activation_bits: int | None = None
    per_channel: bool | None = None

    def __str__(self) -> str:
        parts = [self.node]
        if self.weight_bits is not None:
            parts.append(f"weights={self.weight_bits}")
        if self.activation_bits is not None:
            parts.append(f"acts={self.activation_bits}")
        if self.per_channel is not None:
            parts.append(f"per-channel={'true' if self.per_channel else 'false'}")
        return ":".join(parts)

    @staticmethod
    def parse(text: str) -> NodeOverride:
        """``NODE:key=value[:key=value]`` with keys weights, acts, per-channel."""
        node, *pairs = text.split(":")
        if not node or not pairs:
            raise IRError(f"override '{text}': expected NODE:weights=4[:acts=16][:per-channel=false]")
        fields: dict[str, Any] = {}
        for pair in pairs:
            key, _, raw = pair.partition("=")
            try:
                if key in ("weights", "acts"):
                    fields["weight_bits" if key == "weights" else "activation_bits"] = int(raw)
                elif key == "per-channel":
                    fields["per_channel"] = {"true": True, "false": False}[raw]
                else:
                    raise KeyError(key)
            except (KeyError, ValueError):
                raise IRError(f"override '{text}': bad setting '{pair}' (keys: weights=N, acts=N, per-channel=true|false)") from None
        return NodeOverride(node, **fields)


@dataclass(frozen=True)
class QuantScheme:
    """What a graph is quantized for, written once into the graph and read by every pass that needs
    it (calibrate, correct-bias, adaround, fake-quant, quantize) and by the C backend, so no two
    steps can disagree about the grid. ``target`` names a target of ``qcc.targets``; the rounding
    mode is the target's, recorded so a quantized graph says how its multipliers are meant."""

    target: str
    weight_bits: int
    activation_bits: int
    per_channel: bool
    rounding: str
    calibration: str = "auto"
    overrides: tuple[NodeOverride, ...] = ()
    outputs: str = "int8"
    """How conv/gemm graph outputs leave the integer graph: ``int8`` (requantized to the activation
    grid) or ``accumulator`` (the int32 accumulator itself, docs/arithmetic.md §3.20)."""

    def __post_init__(self) -> None:
        if self.outputs not in OUTPUT_MODES:
            raise IRError(f"scheme: outputs '{self.outputs}' must be one of {', '.join(OUTPUT_MODES)}")
        if self.rounding not in ROUNDINGS:
            raise IRError(f"scheme: rounding '{self.rounding}' must be one of {', '.join(ROUNDINGS)}")
        if self.calibration not in CALIBRATION_METHODS:
            raise IRError(f"scheme: calibration '{self.calibration}' must be one of {', '.join(CALIBRATION_METHODS)}")
        for what, bits in (("weights", self.weight_bits), ("acts", self.activation_bits)):
            if bits not in SCHEME_BITS:
                raise IRError(f"scheme: {what}={bits} must be 2..8 or 16")
        names = [o.node for o in self.overrides]
        if len(set(names)) != len(names):
            raise IRError("scheme: a node is overridden twice")

    def override(self, node: str) -> NodeOverride | None:
        return next((o for o in self.overrides if o.node == node), None)

    def attrs(self) -> dict[str, Any]:
        """The scheme as ordered text-form attributes (printer and parser use these names)."""
        return {
            "target": self.target, "weights": self.weight_bits, "acts": self.activation_bits,
            "per_channel": self.per_channel, "rounding": self.rounding, "calibration": self.calibration,
            "overrides": ",".join(str(o) for o in self.overrides),
        } | ({} if self.outputs == "int8" else {"outputs": self.outputs})  # the default is not printed

    @staticmethod
    def from_attrs(attrs: Mapping[str, Any]) -> QuantScheme:
        want = {"target", "weights", "acts", "per_channel", "rounding", "calibration", "overrides"}
        optional = {"outputs"}
        if not want <= set(attrs) <= want | optional:
            missing, extra = sorted(want - set(attrs)), sorted(set(attrs) - want - optional)
            problems = ([f"missing {missing}"] if missing else []) + ([f"unknown {extra}"] if extra else [])
            raise IRError("scheme: " + " / ".join(problems))
        return QuantScheme(
            str(attrs["target"]), int(attrs["weights"]), int(attrs["acts"]), bool(attrs["per_channel"]),
            str(attrs["rounding"]), str(attrs["calibration"]),
            tuple(NodeOverride.parse(t) for t in str(attrs["overrides"]).split(",") if t),
            str(attrs.get("outputs", "int8")),
        )
