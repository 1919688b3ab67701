"""The table of ONNX op converters and the context each converter works through.

A converter turns one ONNX node into IR nodes. It reads operands and attributes through
``NodeContext`` (which knows the opset and turns every problem into a one-line error naming the
node) and emits IR through ``NodeContext.emit``, which folds nodes whose operands are all constant
on the spot: that is how shape arithmetic (Shape -> Gather -> Concat -> Reshape) disappears once
input shapes are fixed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, SupportsInt, cast

import numpy as np
import onnx
from onnx import helper, numpy_helper

from qcc.errors import ModelImportError, UnsupportedOpError
from qcc.interp.interpreter import evaluate
from qcc.ir.core import Graph, Value
from qcc.ir.types import DType
from qcc.limits import check_shape
from qcc.registry import Registry

ConverterFn = Callable[["NodeContext"], Sequence[Value]]

CONVERTERS: Registry[ConverterFn] = Registry("converter")
converter = CONVERTERS.register  # @converter("OnnxOp", ...) for ops of the default domain


class NeedsConstant(UnsupportedOpError):
    """An operand that qcc needs as a constant (a shape, axes, pads, ...) is computed at run time.

    ``value_name`` is the ONNX name of that operand, so a caller that knows its value (e.g. the
    conformance harness, or a user fixing inputs) can bind it and import again."""

    def __init__(self, message: str, value_name: str) -> None:
        super().__init__(message)
        self.value_name = value_name


ONNX_TO_DTYPE: dict[int, DType] = {
    onnx.TensorProto.BOOL: DType.BOOL,
    onnx.TensorProto.INT8: DType.I8,
    onnx.TensorProto.INT16: DType.I16,
    onnx.TensorProto.INT32: DType.I32,
    onnx.TensorProto.INT64: DType.I64,
    onnx.TensorProto.UINT8: DType.U8,
    onnx.TensorProto.UINT16: DType.U16,
    onnx.TensorProto.UINT32: DType.U32,
    onnx.TensorProto.UINT64: DType.U64,
    onnx.TensorProto.FLOAT16: DType.F16,
    onnx.TensorProto.BFLOAT16: DType.BF16,
    onnx.TensorProto.FLOAT: DType.F32,
    onnx.TensorProto.DOUBLE: DType.F64,
}


def dtype_from_onnx(elem_type: int, where: str) -> DType:
    try:
        return ONNX_TO_DTYPE[elem_type]
    except KeyError:
        name = onnx.TensorProto.DataType.Name(elem_type) if elem_type in onnx.TensorProto.DataType.values() else str(elem_type)
        raise UnsupportedOpError(f"{where}: element type {name} is not supported") from None


def read_tensor(proto: onnx.TensorProto, where: str) -> np.ndarray:
    """A TensorProto's data as an array of an element type the IR holds; a damaged one (data that
    does not fill its dims, a raw buffer of the wrong length) is one error naming ``where``."""
    dtype_from_onnx(proto.data_type, where)
    try:
        return numpy_helper.to_array(proto)
    except (ValueError, TypeError) as e:
        raise ModelImportError(f"{where}: cannot read its data ({e})") from None


@functools.cache
def declared_attr_types(op_type: str, opset: int) -> Mapping[str, int]:
    """Attribute name -> ``AttributeProto`` type for a default-domain op at ``opset`` (empty for an
    op the installed onnx does not know)."""
    try:
        schema = onnx.defs.get_schema(op_type, opset, "")
    except onnx.defs.SchemaError:
        return {}
    # AttrType numbers are AttributeProto's type numbers; onnx's stubs do not declare its __int__
    return {name: int(cast(SupportsInt, attribute.type)) for name, attribute in schema.attributes.items()}


@functools.cache
def declared_output_counts(op_type: str, opset: int) -> tuple[int, int] | None:
    """(fewest, most) outputs a default-domain op at ``opset`` may have (None for an op the installed
    onnx does not know)."""
    try:
        schema = onnx.defs.get_schema(op_type, opset, "")
    except onnx.defs.SchemaError:
        return None
    return schema.min_output, schema.max_output


def node_label(proto: onnx.NodeProto) -> str:
    """How errors name a node: its name, else its first output, else its op type."""
    return proto.name or (proto.output[0] if proto.output else proto.op_type)


class NodeContext:
    """What a converter sees of one ONNX node and the graph being built."""

    def __init__(self, proto: onnx.NodeProto, opset: int, graph: Graph, values: Mapping[str, Value]) -> None:
        self.proto = proto
        self.opset = opset
        self.graph = graph
        self._values = values
        self.name = node_label(proto)
        self.where = f"node '{self.name}' ({proto.op_type})"

    # ---- operands ----------------------------------------------------------------------------

    @property
    def num_inputs(self) -> int:
        """Number of operands, not counting trailing omitted optional ones."""
        n = len(self.proto.input)
        while n and not self.proto.input[n - 1]:
            n -= 1
        return n

    @property
    def num_outputs(self) -> int:
        return len(self.proto.output)

    def has_input(self, i: int) -> bool:
        return i < len(self.proto.input) and bool(self.proto.input[i])

    def output_used(self, i: int) -> bool:
        return i < len(self.proto.output) and bool(self.proto.output[i])

    def input(self, i: int) -> Value:
        """Operand ``i``; an error if it is absent."""
        if not self.has_input(i):
            raise ModelImportError(f"{self.where}: missing required input #{i}")
        return self._values[self.proto.input[i]]

    def optional_input(self, i: int) -> Value | None:
        return self.input(i) if self.has_input(i) else None

    def inputs(self) -> list[Value]:
        return [self.input(i) for i in range(self.num_inputs)]

    def static(self, i: int, what: str) -> np.ndarray | None:
        """Operand ``i`` as a constant array (None if omitted). qcc needs shapes, axes, pads, ...
        at compile time; a value computed from run-time data is reported by name."""
        if not self.has_input(i):
            return None
        value = self.input(i)
        if value.data is None:
            raise NeedsConstant(
                f"{self.where}: input '{self.proto.input[i]}' ({what}) must be a constant, but it is computed at run time",
                self.proto.input[i],
            )
        return value.data

    # ---- attributes --------------------------------------------------------------------------

    def attr(self, name: str, default: Any = None) -> Any:
        """An attribute as a Python value (ints/floats lists as tuples, tensors as arrays)."""
        for a in self.proto.attribute:
            if a.name == name:
                self._check_attr_type(a)
                if a.type == onnx.AttributeProto.TENSOR:
                    return read_tensor(a.t, f"{self.where}: attribute '{name}'")
                if a.type == onnx.AttributeProto.GRAPH or a.type == onnx.AttributeProto.GRAPHS:
                    raise self.unsupported(f"attribute '{name}' holds a subgraph")
                value = helper.get_attribute_value(a)
                if isinstance(value, bytes):
                    return value.decode("utf-8", errors="replace")
                if isinstance(value, list):
                    return tuple(v.decode() if isinstance(v, bytes) else v for v in value)
                return value
        return default

    def _check_attr_type(self, attribute: onnx.AttributeProto) -> None:
        """Refuse an attribute whose type differs from the one the op's schema declares: a
        converter reading ``epsilon`` may then rely on getting a float, not a list or nothing."""
        declared = declared_attr_types(self.proto.op_type, self.opset).get(attribute.name)
        if declared is not None and attribute.type != declared:
            known = attribute.type in onnx.AttributeProto.AttributeType.values()
            got = onnx.AttributeProto.AttributeType.Name(attribute.type) if known else str(attribute.type)
            expected = onnx.AttributeProto.AttributeType.Name(declared)
            raise ModelImportError(f"{self.where}: attribute '{attribute.name}' has type {got}, but the op declares {expected}")

    def check_outputs(self) -> None:
        """Refuse a node with fewer or more outputs than its op declares, or a required output
        left unnamed: converters name their results after the node's outputs."""
        counts = declared_output_counts(self.proto.op_type, self.opset)
        if counts is None:
            return
        fewest, most = counts
        if not fewest <= len(self.proto.output) <= most:
            expected = str(fewest) if fewest == most else f"{fewest} to {most}"
            raise ModelImportError(f"{self.where}: has {len(self.proto.output)} outputs; the op has {expected}")
        for index in range(fewest):
            if not self.proto.output[index]:
                raise ModelImportError(f"{self.where}: output {index} is required but has no name")

    def require_attr(self, name: str) -> Any:
        value = self.attr(name)
        if value is None:
            raise ModelImportError(f"{self.where}: missing required attribute '{name}'")
        return value

    def attr_names(self) -> set[str]:
        return {a.name for a in self.proto.attribute}

    # ---- emitting IR -------------------------------------------------------------------------

    def emit(self, op: str, inputs: Sequence[Value], attrs: Mapping[str, Any] | None = None, *, name: str | None = None) -> Value:
        """Emit a single-result op (folded to a constant when every operand is constant)."""
        return self.emit_multi(op, inputs, attrs, names=[name or self.proto.output[0]])[0]

    def emit_multi(
        self, op: str, inputs: Sequence[Value], attrs: Mapping[str, Any] | None = None, *, names: Sequence[str]
    ) -> list[Value]:
        node = self.graph.create_node(op, inputs, attrs, names=list(names))
        if all(v.is_const for v in inputs):
            for result in node.results:  # before folding makes the array
                if result.type.is_static:
                    check_shape(result.type.static_shape, f"{self.where}: result '{result.name}'")
            try:
                arrays = evaluate(op, [v.const_array for v in inputs], node.attrs)
            except (ValueError, IndexError, TypeError, ZeroDivisionError) as e:
                raise ModelImportError(f"{self.where}: folding '{op}' on constant operands failed: {e}") from None
            self.graph.discard(node)  # the constants take over its result names
            consts = []
            for result, array in zip(node.results, arrays):
                consts.append(self.graph.add_const(np.asarray(array, dtype=result.type.dtype.numpy), result.name))
            return consts
        self.graph.insert(node)
        return list(node.results)

    def const(self, array: Any, name: str | None = None) -> Value:
        return self.graph.add_const(np.asarray(array), name or f"{self.name}_const")

    def unsupported(self, message: str) -> UnsupportedOpError:
        """An error for a variant of this op that qcc does not handle (raise it)."""
        return UnsupportedOpError(f"{self.where}: {message}")

    def check_attr_in(self, name: str, allowed: Sequence[Any], default: Any) -> Any:
        value = self.attr(name, default)
        if value not in allowed:
            raise self.unsupported(f"attribute {name}={value!r} is not supported (supported: {', '.join(map(repr, allowed))})")
        return value


from qcc.onnx.converters import elementwise, nn, recurrent, tensor  # noqa: E402,F401  (register converters)
