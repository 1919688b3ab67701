"""The machinery of the quantize pass: per-node settings, the value map from float to integer values,
and the table of lowering rules (one per float op, registered from ``qcc/quant/rules_*.py``).

A rule reads a float node of the calibrated graph and emits integer nodes into the new graph
through a ``Lowerer``, which knows every value's quantization parameters, converts operands to the
widths a rule asks for, and computes the integers (weights, biases, multipliers, clamp bounds) with
the shared helpers of ``qcc.backends.numpy_int``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qcc.arith.fixedpoint import (
    INT32_MAX,
    INT32_MIN,
    accumulator_bound,
    accumulator_fits_int32,
    accumulator_fits_int64_rule,
    left_shift_fits,
    quantize_multiplier,
    quantize_multipliers,
    quantize_real,
    weight_range,
)
from qcc.arith.params import activation_params, activation_range, params_range, quantize_weight_ints
from qcc.errors import PipelineError, QccError
from qcc.ir.core import Graph, Node, Value
from qcc.ir.ops import Tensor
from qcc.ir.types import DType, NodeOverride, QuantParams, QuantScheme, TensorType
from qcc.quant.accumulator_outputs import accumulator_output_nodes
from qcc.quant.output_joins import output_bound_values
from qcc.quant.scheme import scheme_target
from qcc.registry import Registry
from qcc.targets import Target

LowerFn = Callable[["Lowerer", Node], None]
RULES: Registry[LowerFn] = Registry("lowering")
lowering = RULES.register  # @lowering("op", ...) registers the integer lowering of float ops

DataPathFn = Callable[["Lowerer", Node], bool]
DATA_PATHS: list[DataPathFn] = []
"""Lowerings that claim a node by what its operands are rather than by its op (integer data is
kept exact whatever the op, ``rules_integer``); asked before ``RULES``, each returns whether it
lowered the node."""


class NoLowering(PipelineError):
    """A node the integer op set cannot express, whatever the calibration: an op with no lowering,
    attributes outside what the integer op supports, or a feature the target lacks. These are what
    the pre-flight check reports, before any data is read."""


@dataclass(frozen=True)
class NodeSettings:
    """Bit widths and weight granularity for one node."""

    weight_bits: int
    activation_bits: int
    per_channel: bool


@dataclass
class Settings:
    """A scheme's defaults plus its per-node overrides, resolved against one target."""

    weight_bits: int
    activation_bits: int
    per_channel: bool
    target: Target
    overrides: Mapping[str, NodeOverride] = field(default_factory=dict)

    @staticmethod
    def from_scheme(scheme: QuantScheme, graph: Graph) -> Settings:
        """The settings a graph's scheme stands for; every overridden node must exist."""
        names = {n.name for n in graph.nodes}
        for o in scheme.overrides:
            if o.node not in names:
                raise PipelineError(f"override '{o}': the graph has no node '{o.node}'")
        target = scheme_target(scheme)
        return Settings(scheme.weight_bits, scheme.activation_bits, scheme.per_channel, target, {o.node: o for o in scheme.overrides})

    def for_node(self, node: Node) -> NodeSettings:
        o = self.overrides.get(node.name)
        s = NodeSettings(self.weight_bits, self.activation_bits, self.per_channel)
        if o is not None:
            s = NodeSettings(
                o.weight_bits or s.weight_bits, o.activation_bits or s.activation_bits,
                s.per_channel if o.per_channel is None else o.per_channel,
            )
        self.target.check_widths(s.weight_bits, s.activation_bits, f"node '{node.name}'")
        self.target.check_per_channel(s.per_channel)
        return s


class Lowerer:
    """Builds the integer graph from a calibrated float graph."""

    def __init__(self, src: Graph, settings: Settings, *, preflight: bool = False) -> None:
        self.src = src
        self.settings = settings
        self.dst = Graph(src.name)
        self.dst.scheme = src.scheme
        self.rounding = settings.target.rounding
        # float value -> {bits: integer value}
        self._map: dict[int, dict[int, Value]] = {}
        # integer data (an integer graph input and what is computed from it) -> its copy, unchanged
        self._plain: dict[int, Value] = {}
        self.node: Node | None = None
        # values that reach a graph output only through data movement (docs/arithmetic.md §3.17)
        self.output_bound = output_bound_values(src)
        # conv/gemm nodes whose graph output is their int32 accumulator (outputs=accumulator, §3.20)
        wants_accumulators = src.scheme is not None and src.scheme.outputs == "accumulator"
        self.accumulator_nodes = accumulator_output_nodes(src) if wants_accumulators else frozenset()
        self.notes: list[str] = []  # decisions worth a log line, for the pass to report
        # pre-flight: uncalibrated values get placeholder ranges, and every NoLowering is collected
        # (node, reason) instead of raised, so one run names every node that cannot be lowered
        self.preflight = preflight
        self.refusals: list[tuple[Node, str]] = []
        # quantized weights by (name, bits, axis): nodes sharing a weight (the steps of an
        # unrolled recurrent layer) share one integer constant
        self._weights: dict[tuple[str, int, int | None], tuple[np.ndarray, np.ndarray, Value]] = {}

    # ---- driving -----------------------------------------------------------------------------

    def run(self) -> Graph:
        for value in self.src.inputs:
            if not value.type.dtype.is_float:  # integer data (bytes, token ids) stays exact
                self.record_plain(value, self.dst.add_input(value.name, value.type))
                continue
            x = self.dst.add_input(value.name, TensorType(value.type.dtype, value.type.shape))
            bits = self.settings.activation_bits
            q = self.add("quantize", [x], {"dtype": int_dtype(bits)}, name=f"{value.name}_q", quant=self.qparams(value, bits))
            self._record(value, q)
        for node in self.src.nodes:
            self.node = node
            try:
                self._lower(node)
            except QccError as e:
                if not self.preflight:
                    raise
                if isinstance(e, NoLowering):  # other errors depend on the real ranges: not for pre-flight
                    self.refusals.append((node, str(e)))
                self._stand_in(node)
        outputs = []
        for value in self.src.outputs:
            if self.is_plain(value):
                outputs.append(self._plain[id(value)])
                continue
            q = self.operand(value)
            self.dst.rename(q, f"{value.name}_q")
            outputs.append(self.add("dequantize", [q], {}, name=value.name))
        self.dst.outputs = outputs
        return self.dst

    def _lower(self, node: Node) -> None:
        if any(path(self, node) for path in DATA_PATHS):
            return
        rule = RULES.get(node.op)
        if rule is None:
            raise NoLowering(f"node '{node.name}' ({node.op}) has no integer lowering")
        rule(self, node)

    def _stand_in(self, node: Node) -> None:
        """Pre-flight only: give a node that could not be lowered placeholder integer results, so
        the nodes after it are still checked."""
        bits = self.settings.activation_bits
        for r in node.results:
            if id(r) in self._map or not r.type.dtype.is_float:
                continue
            placeholder = self.dst.add_input(f"{r.name}_unlowered", TensorType(int_dtype(bits), r.type.shape, self.qparams(r, bits)))
            self._record(r, placeholder)

    # ---- settings and parameters -------------------------------------------------------------

    def settings_of(self, node: Node) -> NodeSettings:
        return self.settings.for_node(node)

    def qparams(self, value: Value, bits: int) -> QuantParams:
        """The activation parameters of a float value at ``bits``, from its calibration."""
        q = value.type.quant
        if q is None and self.preflight:
            return activation_params(-1.0, 1.0, bits)  # a placeholder: pre-flight checks structure, not ranges
        if q is None:
            raise PipelineError(f"value '{value.name}' has no calibrated range: run calibrate before quantize")
        if q.bits == bits:
            return q
        lo, hi = params_range(q)
        return activation_params(lo, hi, bits)

    # ---- values ------------------------------------------------------------------------------

    def is_plain(self, value: Value) -> bool:
        """Whether a float-graph value is integer data kept exact (see ``rules_integer``)."""
        return id(value) in self._plain

    def record_plain(self, value: Value, copy: Value) -> None:
        self._plain[id(value)] = copy

    def _record(self, value: Value, q: Value) -> None:
        self._map.setdefault(id(value), {})[q.type.quant.bits if q.type.quant else q.type.dtype.bits] = q

    def operand(self, value: Value, bits: int | None = None) -> Value:
        """The integer version of a float value, converted to ``bits`` if asked (q.requantize),
        or quantized from its data if it is a constant."""
        plain = self._plain.get(id(value))
        if plain is not None:  # integer data (indices, byte values) is used as it is
            return plain
        versions = self._map.get(id(value))
        if versions is None:
            if value.is_const:
                return self._const_operand(value, bits or self.settings.activation_bits)
            raise PipelineError(f"value '{value.name}' is used before it is quantized")
        if bits is None or bits in versions:
            return versions[bits] if bits is not None else next(iter(versions.values()))
        source = next(iter(versions.values()))
        target = activation_params(*params_range(source.quant), bits)
        converted = self.requantize(source, target, int_dtype(bits), name=f"{value.name}_i{bits}")
        versions[bits] = converted
        return converted

    def _const_operand(self, value: Value, bits: int) -> Value:
        data = np.asarray(value.data, dtype=np.float64)
        if not value.type.dtype.is_float:
            return self.dst.add_const(value.data, value.name)  # indices and shapes stay as they are
        given = value.type.quant  # an encodings file's grid (load-encodings)
        q = given if given is not None and given.bits == bits and given.axis is None else \
            activation_params(float(data.min(initial=0.0)), float(data.max(initial=0.0)), bits)
        qmin, qmax = activation_range(bits)
        ints = quantize_real(data, q.scale_value(), q.zero_point_value(), qmin, qmax, dtype=np.float64).astype(int_dtype(bits).numpy)
        const = self.dst.add_const(ints, value.name)
        const.type = TensorType(int_dtype(bits), const.type.shape, q)
        self._record(value, const)
        return const

    def result(self, value: Value, q: Value) -> Value:
        """Record ``q`` as the integer version of the float result ``value``."""
        self._record(value, q)
        return q

    # ---- emitting ----------------------------------------------------------------------------

    def add(self, op: str, inputs: Sequence[Value], attrs: Mapping[str, Any], *, name: str, quant: QuantParams | None = None, shape: Any = None) -> Value:
        """Emit a single-result node whose result carries ``quant``."""
        node = self.dst.create_node(op, inputs, attrs, names=name)
        t = node.result.type
        node.result.type = TensorType(t.dtype, t.shape if shape is None else shape, quant)
        self.dst.insert(node)
        return node.result

    def requantize(self, x: Value, out: QuantParams, dtype: DType, *, name: str, clamp: tuple[float, float] | None = None) -> Value:
        """q.requantize x to new parameters (and an optional real clamp)."""
        qin = x.quant
        m, s = self.multiplier(qin.scale_value() / out.scale_value(), bound=max(abs(v) for v in activation_range(qin.bits)) * 2)
        qmin, qmax = self.clamp_bounds(out, clamp)
        attrs = dict(in_zp=qin.zero_point_value(), multiplier=m, shift=s, out_zp=out.zero_point_value(),
                     qmin=qmin, qmax=qmax, rounding=self.rounding, dtype=dtype)
        return self.add("q.requantize", [x], attrs, name=name, quant=out)

    def multiplier(self, real: float, bound: int) -> tuple[int, int]:
        """Per-tensor (multiplier, shift) for a real rescale, checking the double-rounding
        left-shift precondition for an accumulator bounded by ``bound``."""
        m, s = quantize_multiplier(real)
        self.check_left_shift(bound, s)
        return m, s

    def multipliers(self, reals: np.ndarray, bound: int) -> tuple[Tensor, Tensor]:
        """Per-channel (multiplier, shift) tensors."""
        m, s = quantize_multipliers(np.asarray(reals, dtype=np.float64))
        self.check_left_shift(bound, int(s.max(initial=0)))
        return Tensor(m.astype(np.int32)), Tensor(s.astype(np.int32))

    def check_left_shift(self, bound: int, shift: int) -> None:
        if self.rounding == "double" and shift > 0 and not left_shift_fits(bound, shift):
            raise PipelineError(f"node '{self.where}': a rescale >= 1 would overflow the int32 left shift of double rounding")

    @property
    def where(self) -> str:
        return self.node.name if self.node is not None else "?"

    def clamp_bounds(self, out: QuantParams, clamp: tuple[float, float] | None) -> tuple[int, int]:
        """Integer clamp bounds: the type's range narrowed by a real [lo, hi] (a fused ReLU/Clip)."""
        qmin, qmax = activation_range(out.bits)
        if clamp is not None:
            scale, zp = out.scale_value(), out.zero_point_value()
            lo, hi = clamp
            if lo != -math.inf:
                qmin = max(qmin, int(quantize_real(np.float64(lo), scale, zp, qmin, qmax, dtype=np.float64)))
            if hi != math.inf:
                qmax = min(qmax, int(quantize_real(np.float64(hi), scale, zp, qmin, qmax, dtype=np.float64)))
            qmax = max(qmax, qmin)
        return qmin, qmax

    @staticmethod
    def max_centered(x: Value) -> int:
        """The largest |q - zp| an activation can hold."""
        q = x.quant
        qmin, qmax = activation_range(q.bits)
        return max(q.zero_point_value() - qmin, qmax - q.zero_point_value())

    def accumulator_bits(self, x: Value, max_abs_weight: int, reduction: int, bias_max_abs: int = 0) -> int:
        """32 when the int32 accumulator provably cannot overflow, else 64 (if the target has
        int64 accumulators); int16 activations always use 64 (docs/arithmetic.md §1.3)."""
        q = x.type.quant
        assert q is not None
        if q.bits <= 8 and accumulator_fits_int32(self.max_centered(x), max_abs_weight, reduction, bias_max_abs):
            return 32
        if not self.settings.target.wide_accumulator:
            raise PipelineError(
                f"node '{self.where}': the int32 accumulator could overflow (reduction of {reduction}) and target "
                f"'{self.settings.target.name}' has no int64 accumulators"
            )
        bound = accumulator_bound(self.max_centered(x), max_abs_weight, reduction, bias_max_abs)
        if not accumulator_fits_int64_rule(bound):  # the int64 requantization rule needs |acc| < 2^47
            raise PipelineError(f"node '{self.where}': the accumulator can reach {bound}, beyond the 2^47 the int64 requantization rule allows")
        return 64

    # ---- weights -----------------------------------------------------------------------------

    def quantize_weight(self, weight: Value, bits: int, axis: int | None, min_scale: np.ndarray | float = 0.0) -> Value:
        """Symmetric weight constant (int8 storage for 4 and 8 bits) with per-channel or per-tensor
        parameters, no scale below ``min_scale``; or, when the float constant carries parameters
        (an encodings file's grid, ``load-encodings``), on exactly that grid. Nodes that use the
        same weight with the same grid (the steps of an unrolled recurrent layer) share one
        integer constant."""
        data = weight.const_array
        floor = np.asarray(min_scale, dtype=np.float64)
        cached = self._weights.get((weight.name, bits, axis))
        if cached is not None and np.array_equal(cached[0], data) and np.array_equal(cached[1], floor):
            return cached[2]
        given = weight.type.quant
        if given is None:
            ints, q, _ = quantize_weight_ints(data, bits, axis, min_scale)
        else:
            ints, q = self._weight_on_grid(weight, given, bits, axis)
        const = self.dst.add_const(ints, weight.name)
        const.type = TensorType(DType.I8, const.type.shape, q)
        self._weights[(weight.name, bits, axis)] = (np.asarray(data), floor, const)
        return const

    def _weight_on_grid(self, weight: Value, q: QuantParams, bits: int, axis: int | None) -> tuple[np.ndarray, QuantParams]:
        """A weight's integers on a given grid (round half to even, as ``quantize_weight_ints``),
        which must be the node's width and granularity and must hold every weight."""
        if q.bits != bits or q.axis != axis:
            have = f"{q.bits}-bit " + ("per-tensor" if q.axis is None else f"per-channel (axis {q.axis})")
            want = f"{bits}-bit " + ("per-tensor" if axis is None else f"per-channel (axis {axis})")
            raise PipelineError(f"node '{self.where}': weight '{weight.name}' has a {have} encoding but the node quantizes it {want}")
        scale = np.asarray(q.scale, dtype=np.float64)
        if axis is not None:
            shape = [1] * weight.type.rank
            shape[axis] = -1
            scale = scale.reshape(shape)
        ints = np.rint(np.asarray(weight.const_array, np.float64) / scale)
        lo, hi = weight_range(bits)
        if ints.size and (ints.min() < lo or ints.max() > hi):
            worst = float(np.abs(ints).max())
            raise PipelineError(f"node '{self.where}': weight '{weight.name}' reaches {worst:.0f} steps of its encoding's scale, "
                                f"beyond the {bits}-bit weight range [{lo}, {hi}]")
        return ints.astype(np.int8 if bits <= 8 else np.int16), q

    def quantize_bias(self, bias: np.ndarray, scales: np.ndarray, name: str) -> Value:
        """int32 bias at scale s_x * s_w[c] (float64 division, docs/arithmetic.md §1.2)."""
        exact = np.rint(np.asarray(bias, np.float64) / scales)
        if np.any(exact < INT32_MIN) or np.any(exact > INT32_MAX):
            raise PipelineError(f"node '{self.where}': bias does not fit int32 at scale s_in*s_w; the weights' range is too small for it")
        const = self.dst.add_const(exact.astype(np.int32), name)
        return const


def int_dtype(bits: int) -> DType:
    return DType.I8 if bits <= 8 else DType.I16


def scales_of(q: QuantParams, channels: int) -> np.ndarray:
    """Per-channel scales as an array (a per-tensor scale repeated)."""
    if q.axis is None:
        return np.full(channels, q.scale_value())
    return np.asarray(q.scale, dtype=np.float64)
