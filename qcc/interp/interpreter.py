"""The float interpreter: runs a graph node by node with the numpy kernels.

It frees every intermediate after its last use so that memory follows the live set, not the whole
graph, and it can hand each computed value to an observer (calibration uses that to collect
statistics without keeping activations).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from qcc.errors import InputError, IRError
from qcc.interp.kernels import KERNELS
from qcc.ir.core import Graph, Node, Value

Observer = Callable[[Value, np.ndarray], None]
# How one node is computed from its operand arrays; the float interpreter's is `float_node`, the
# integer reference executor (qcc.backends.numpy_int) passes its own.
NodeEvaluator = Callable[[Node, Sequence[np.ndarray]], Sequence[np.ndarray]]


def evaluate(op: str, operands: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> list[np.ndarray]:
    """Run one op's float kernel on arrays (used by the interpreter and by constant folding)."""
    try:
        fn = KERNELS[op]
    except KeyError:
        raise IRError(f"op '{op}' has no float kernel") from None
    return fn(operands, attrs)


def float_node(node: Node, operands: Sequence[np.ndarray]) -> list[np.ndarray]:
    return evaluate(node.op, operands, node.attrs)


def run_node(evaluate_node: NodeEvaluator, node: Node, operands: Sequence[np.ndarray]) -> Sequence[np.ndarray]:
    """One node on its operand arrays; a kernel's failure becomes an error naming the node."""
    try:
        return evaluate_node(node, operands)
    except (ValueError, FloatingPointError, IndexError) as e:
        raise IRError(f"node '{node.name}' ({node.op}) failed: {e}") from None


def check_feeds(graph: Graph, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """Match feeds to graph inputs by name; one clear error for a missing, unknown or ill-typed one."""
    names = [v.name for v in graph.inputs]
    unknown = sorted(set(feeds) - set(names))
    if unknown:
        raise InputError(f"unknown input '{unknown[0]}' (the model's inputs: {', '.join(names)})")
    arrays = []
    for value in graph.inputs:
        if value.name not in feeds:
            raise InputError(f"missing input '{value.name}' ({value.type})")
        arrays.append(check_array(value, feeds[value.name], f"input '{value.name}'"))
    return arrays


def check_array(value: Value, array: Any, where: str) -> np.ndarray:
    """An array for graph input ``value``, with a one-line error if its element type or shape is
    not the input's (``where`` names it in the message)."""
    arr = np.asarray(array)
    want = value.type
    if arr.dtype != want.dtype.numpy:
        raise InputError(f"{where}: expected element type {want.dtype}, got {arr.dtype}")
    if tuple(arr.shape) != tuple(want.shape):
        raise InputError(f"{where}: expected shape {list(want.shape)}, got {list(arr.shape)}")
    return arr


def run(
    graph: Graph,
    feeds: Mapping[str, np.ndarray],
    *,
    observer: Observer | None = None,
    evaluate_node: NodeEvaluator = float_node,
) -> dict[str, np.ndarray]:
    """Run the graph on one set of inputs; returns the outputs keyed by output value name.
    ``evaluate_node`` computes each node (the float kernels by default)."""
    return execute(graph, check_feeds(graph, feeds), observer=observer, evaluate_node=evaluate_node)


def execute(
    graph: Graph,
    inputs: Sequence[np.ndarray],
    *,
    observer: Observer | None = None,
    evaluate_node: NodeEvaluator = float_node,
) -> dict[str, np.ndarray]:
    """Run the graph on arrays already checked against its inputs (in input order)."""
    env: dict[int, np.ndarray] = {}
    for value, arr in zip(graph.inputs, inputs):
        env[id(value)] = arr
        if observer:
            observer(value, arr)
    for const in graph.constants:
        env[id(const)] = const.const_array
    last_use = _last_uses(graph)
    keep = {id(v) for v in graph.outputs}
    for index, node in enumerate(graph.nodes):
        results = run_node(evaluate_node, node, [env[id(v)] for v in node.inputs])
        for value, arr in zip(node.results, results):
            env[id(value)] = arr
            if observer:
                observer(value, arr)
        for value in node.inputs:
            if last_use.get(id(value)) == index and id(value) not in keep and not value.is_const:
                env.pop(id(value), None)
    return {v.name: env[id(v)] for v in graph.outputs}


def _last_uses(graph: Graph) -> dict[int, int]:
    last: dict[int, int] = {}
    for index, node in enumerate(graph.nodes):
        for value in node.inputs:
            last[id(value)] = index
    return last


def sample_count(graph: Graph, feeds: Mapping[str, np.ndarray]) -> int:
    """How many samples the feeds hold: N when N samples are stacked on the batch axis of a batch-1
    model (how users pass a data set), 1 when every feed already fits (shape errors raise here)."""
    counts = set()
    for value in graph.inputs:
        arr = feeds.get(value.name)
        if arr is None or not value.type.shape:
            continue
        arr = np.asarray(arr)
        fits = tuple(arr.shape) == tuple(value.type.shape)
        stacked = value.type.shape[0] == 1 and arr.ndim == value.type.rank and tuple(arr.shape[1:]) == tuple(value.type.shape[1:])
        if stacked and not fits:
            counts.add(arr.shape[0])
        elif fits:
            counts.add(1)
        else:
            check_feeds(graph, {k: np.asarray(v) for k, v in feeds.items()})  # raises the shape error
    if len(counts) > 1:
        raise InputError(f"inputs hold different numbers of samples: {sorted(counts)}")
    return counts.pop() if counts else 1


def split_samples(graph: Graph, feeds: Mapping[str, np.ndarray]) -> Iterator[dict[str, np.ndarray]]:
    """Yield one feed dict per sample (see ``sample_count``); a feed that already fits is yielded as is."""
    n = sample_count(graph, feeds)
    if n == 1:
        yield {k: np.asarray(v) for k, v in feeds.items()}
        return
    for i in range(n):
        yield {k: np.asarray(v)[i : i + 1] for k, v in feeds.items()}


def run_samples(graph: Graph, feeds: Mapping[str, np.ndarray], evaluate_node: NodeEvaluator = float_node) -> dict[str, np.ndarray]:
    """Run every stacked sample and stack the outputs on the batch axis the same way."""
    outs: dict[str, list[np.ndarray]] = {}
    for sample in split_samples(graph, feeds):
        for name, arr in run(graph, sample, evaluate_node=evaluate_node).items():
            outs.setdefault(name, []).append(arr)
    return {k: (v[0] if len(v) == 1 else np.concatenate(v, axis=0)) for k, v in outs.items()}
