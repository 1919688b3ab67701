"""Lowering a quantized graph to kernel calls: the driver.

``lower_graph`` walks the graph and hands each node to its rule (one per op, registered from
``rules_compute``, ``rules_movement``, ``rules_binary`` and ``rules_integer`` into ``steps.RULES``),
which emits the C it needs: ``static const`` parameter structs and arrays, and calls into ``csrc/``
with symbolic tensor arguments (read/write a value, the step's scratch) that the emitter later turns
into pointers from the memory plan. The graph's float boundary (its ``quantize``/``dequantize``
nodes) becomes the integer inputs and outputs of ``run`` plus the optional float helpers; then
``planner`` assigns memory. What the integer op table (``qcc.ops.integer``) says an op does not
support, or has no C kernel for, is refused here with the table's reason.
"""

from __future__ import annotations

from qcc.backends.c import rules_accumulator, rules_binary, rules_compute, rules_integer, rules_movement  # noqa: F401  (register the rules)
from qcc.backends.c.cnames import c_identifier, model_identifier
from qcc.backends.c.planner import plan_memory
from qcc.backends.c.rules_movement import copy_call, identity_copy
from qcc.backends.c.steps import (
    ACTIVATION_TYPES,
    RULES,
    BoundaryIO,
    CBackendError,
    CProgram,
    Step,
    StepBuilder,
    element_info,
    is_accumulator_type,
    shape_of,
)
from qcc.ir.core import Graph, Node, Value
from qcc.ir.types import QuantParams, TensorType
from qcc.ir.verify import verify
from qcc.ops.integer import INTEGER_OPS, integer_op


def _boundary_params(q: QuantParams) -> tuple[float | tuple[float, ...], int | tuple[int, ...], int | None]:
    """(scale, zero point, axis) of a dequantized output: scalars, or one per index along axis."""
    if q.axis is None:
        return q.scale_value(), q.zero_point_value(), None
    return q.scales(), q.channel_zero_points(), q.axis


def _boundary(graph: Graph) -> tuple[list[BoundaryIO], list[BoundaryIO], set[int]]:
    """The integer inputs/outputs of run() and the ids of the boundary nodes that become the
    optional float helpers instead of kernel calls."""
    boundary_nodes: set[int] = set()
    inputs: list[BoundaryIO] = []
    used_names: set[str] = set()

    def io_name(name: str, kind: str, index: int) -> str:
        ident = c_identifier(name, 32)
        if ident in used_names:
            ident = f"{ident}_{kind}{index}"
        used_names.add(ident)
        return ident

    for k, value in enumerate(graph.inputs):
        if not value.type.dtype.is_float:  # an activation, or integer data taken as it is (its own C type)
            element_info(value, f"graph input '{value.name}'")
            q = value.type.quant
            inputs.append(BoundaryIO(io_name(value.name, "in", k), value.name, value, value.type.dtype, shape_of(value), None,
                                     q.zero_point_value() if q is not None else 0))
            continue
        users = value.users
        if len(users) != 1 or users[0].op != "quantize":
            raise CBackendError(f"graph input '{value.name}' ({value.type}) must feed exactly one quantize node")
        qnode = users[0]
        qv = qnode.result
        q = qv.type.quant
        if q is None or q.axis is not None or qv.type.dtype not in ACTIVATION_TYPES:
            raise CBackendError(f"node '{qnode.name}': the input quantization must be per tensor to i8 or i16")
        boundary_nodes.add(id(qnode))
        inputs.append(BoundaryIO(io_name(value.name, "in", k), value.name, qv, qv.type.dtype, shape_of(qv), q.scale_value(), q.zero_point_value()))
    outputs: list[BoundaryIO] = []
    for k, value in enumerate(graph.outputs):
        if not value.type.dtype.is_float:
            element_info(value, f"graph output '{value.name}'")
            q = value.type.quant
            outputs.append(BoundaryIO(io_name(value.name, "out", k), value.name, value, value.type.dtype, shape_of(value), None,
                                      q.zero_point_value() if q is not None else 0))
            continue
        node = value.producer
        if node is None or node.op != "dequantize":
            raise CBackendError(f"graph output '{value.name}' ({value.type}) must be the result of a dequantize node or an i8/i16 value")
        qv = node.inputs[0]
        q = qv.type.quant
        if q is None or not (qv.type.dtype in ACTIVATION_TYPES or is_accumulator_type(qv.type)):
            raise CBackendError(f"node '{node.name}': the output must be dequantized from i8 or i16 (or an i32 accumulator)")
        boundary_nodes.add(id(node))
        outputs.append(BoundaryIO(io_name(value.name, "out", k), value.name, qv, qv.type.dtype, shape_of(qv), *_boundary_params(q)))
    return inputs, outputs, boundary_nodes


def lower_graph(graph: Graph, name: str | None = None, *, force_generic: bool = False) -> CProgram:
    """Lower a quantized graph to kernel calls and plan its memory.

    ``name`` gives the C prefix ``qcc_<name>_`` (default: the graph's name).
    ``force_generic`` picks the generic convolution / fully connected kernels even where a
    faster one applies (tests use it to cover every kernel variant)."""
    verify(graph)
    inputs, outputs, boundary_nodes = _boundary(graph)
    steps: list[Step] = []
    shared_arrays: dict[tuple[str, bytes], str] = {}
    for node in graph.nodes:
        if id(node) in boundary_nodes:
            continue
        if node.op in ("quantize", "dequantize"):
            raise CBackendError(
                f"node '{node.name}' ({node.op}): float conversions inside the graph have no C kernel; only the graph's inputs and outputs may be float"
            )
        lower = RULES.get(node.op)
        refusal = c_refusal(node)
        if refusal is not None:
            raise CBackendError(f"node '{node.name}' ({node.op}): {refusal}")
        assert lower is not None  # c_refusal checked it
        # constant weights, biases and indices are compiled into the step's parameters; other
        # constant operands (an add or concat of a constant tensor) are read as data
        reads = [v for i, v in enumerate(node.inputs) if not (i > 0 and v.is_const and node.op in _WEIGHT_OPS)]
        step = Step(len(steps), node, f"{node.op} {node.name}", reads, list(node.results))
        lower(StepBuilder(step, force_generic, shared_arrays), node)
        steps.append(step)
    # every output must be written by a step of its own: copy inputs, views and duplicates into it
    seen: set[int] = set()
    producers = {id(r): s for s in steps for r in s.writes}
    for io in outputs:
        source = io.value
        producer = producers.get(id(source))
        if producer is not None and not producer.alias and id(source) not in seen:
            seen.add(id(source))
            continue
        copy_value = Value(f"{io.name}_copy", TensorType(source.type.dtype, source.type.shape, source.type.quant))
        step = Step(len(steps), None, f"copy to output {io.name}", [source], [copy_value])
        copy_call(StepBuilder(step, force_generic), source, copy_value, *identity_copy(shape_of(source)))
        steps.append(step)
        io.value = copy_value
        seen.add(id(copy_value))
    program = CProgram(model_identifier(name or graph.name), graph, steps, inputs, outputs)
    program.plan = plan_memory(program)
    return program


def c_refusal(node: Node) -> str | None:
    """Why the C backend cannot run this node of a quantized graph (None: it can), from the integer
    op table and the rule table; the pre-flight check asks the same question."""
    spec = integer_op(node.op)
    if spec is None:
        return "not an op of the integer op set (qcc.ops.integer)"
    if spec.c_refusal is not None:
        return spec.c_refusal
    if node.op not in RULES:
        return "has no C kernel"
    return spec.unsupported(node)


_WEIGHT_OPS = frozenset(name for name, op in INTEGER_OPS.items() if op.weights)
"""Ops whose constant operands after the first are parameters compiled into their structs."""


__all__ = ["CBackendError", "CProgram", "Step", "BoundaryIO", "c_refusal", "lower_graph"]
