"""The integer reference executor: runs a quantized graph exactly as docs/arithmetic.md defines it.

This is the semantics every other executor (the generated C) must match byte for byte. Integer
ops run their kernels from ``kernels.INT_KERNELS``; pure data-movement ops (reshape, transpose,
concat, slice, pad, max-pool, ...) run the float interpreter's kernels, which are exact on
integers; anything else on an integer graph is an error, never a silent float computation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from qcc.backends.numpy_int import (
    kernels_accumulator,  # noqa: F401  (registers q.conv_acc, q.gemm_acc)
    kernels_binary,  # noqa: F401  (registers q.div, q.max, q.min, q.lut2)
)
from qcc.backends.numpy_int.kernels import INT_KERNELS
from qcc.errors import IRError
from qcc.interp.interpreter import Observer, evaluate, run, run_samples
from qcc.ir.core import Graph, Node
from qcc.ops.integer import integer_op, ops_of_kind

# Ops whose float kernels are exact on integer tensors (pure data movement, comparisons, logic):
# both executors share them. The integer op table (qcc.ops.integer) says which they are.
DATA_MOVEMENT_OPS = ops_of_kind("movement")
PLAIN_INTEGER_OPS = ops_of_kind("plain")


def is_plain_integer(node: Node) -> bool:
    """Every operand and result is integer or bool data without quantization parameters."""
    values = [*node.inputs, *node.results]
    return all(not v.type.dtype.is_float and v.type.quant is None for v in values)


def integer_node(node: Node, operands: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Evaluate one node of a quantized graph."""
    kernel = INT_KERNELS.get(node.op)
    if kernel is not None:
        return kernel(node, operands)
    spec = integer_op(node.op)
    if spec is not None and (spec.kind == "movement" or (spec.kind == "plain" and is_plain_integer(node))):
        reason = spec.unsupported(node)
        if reason is not None:
            raise IRError(f"node '{node.name}' ({node.op}): {reason}")
        return evaluate(node.op, operands, node.attrs)
    raise IRError(f"node '{node.name}' ({node.op}) has no integer semantics; the graph is not fully quantized")


def run_integer(graph: Graph, feeds: Mapping[str, np.ndarray], *, observer: Observer | None = None) -> dict[str, np.ndarray]:
    """Run a quantized graph on one set of inputs."""
    return run(graph, feeds, observer=observer, evaluate_node=integer_node)


def run_integer_samples(graph: Graph, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run N stacked samples of a batch-1 quantized graph one by one."""
    return run_samples(graph, feeds, evaluate_node=integer_node)
