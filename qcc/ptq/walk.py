"""One walk over a graph's layers in topological order, for layer-by-layer PTQ methods.

Empirical bias correction and AdaRound change a layer from the input it sees with everything
upstream already quantized (and already corrected or re-rounded). Recomputing that input from the
graph input for every layer costs O(layers^2) node evaluations; on a 416x416 detector that was
twenty minutes. Here every needed node runs once per sample and per *path* (the fake-quantized
network; for AdaRound also the float network), in graph order, on all calibration samples:

    for each node in order:
        if it is a layer of interest: visit(layer, its inputs on every path)   # may change the layer
        run it on every sample on each path (in batches, qcc.interp.batching); keep results a later
            node or layer still reads
        free every value whose last reader this was

Because a layer is visited before it runs, the nodes after it already see its new bias or
weights, which is exactly what the per-layer definition asks for. Values are kept for all samples
in an ActivationStore, which spills to disk beyond its memory budget. Nodes that no visited layer
depends on are not run at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from qcc.calibration.source import CalibrationSet
from qcc.errors import InputError
from qcc.interp.batching import BatchPlan, batch_size, plan_batching
from qcc.interp.interpreter import NodeEvaluator, float_node, run_node
from qcc.interp.threads import limited_blas_threads
from qcc.ir.core import Graph, Node, Value
from qcc.pipeline import Progress
from qcc.ptq.activations import ActivationStore

Feeds = Mapping[str, np.ndarray]
BATCH_BYTES = 256 << 20  # temporaries of one batched node run (its operands and results)


def _unchanged(graph: Graph, feeds: Feeds) -> Feeds:
    return feeds


@dataclass(frozen=True)
class NetworkPath:
    """One way of running the network: how graph inputs are prepared (e.g. rounded to their
    grids) and how each node is computed."""

    name: str
    evaluate_node: NodeEvaluator = float_node
    prepare_inputs: Callable[[Graph, Feeds], Feeds] = field(default=_unchanged)


class LayerInputs:
    """What a visited layer may read: any live value on any path, for every sample."""

    def __init__(self, store: ActivationStore, count: int) -> None:
        self.store = store
        self.count = count

    def per_sample(self, path: str, value: Value) -> np.ndarray:
        """[samples, *value shape] (in RAM or a memmap)."""
        return self.store[(path, id(value))]

    def stacked(self, path: str, value: Value) -> np.ndarray:
        """The samples concatenated on the batch axis, [samples * batch, ...], as a batch-1
        model's samples are stacked in calibration files."""
        array = self.per_sample(path, value)
        return array.reshape(array.shape[0] * array.shape[1], *array.shape[2:]) if array.ndim > 1 else array

    def samples(self, path: str, value: Value) -> Iterator[np.ndarray]:
        """One array per sample, in sample order."""
        array = self.per_sample(path, value)
        for i in range(self.count):
            yield np.asarray(array[i])


Visit = Callable[[Node, LayerInputs], None]


def walk_layers(
    graph: Graph,
    data: CalibrationSet,
    paths: Sequence[NetworkPath],
    layers: Sequence[Node],
    visit: Visit,
    store: ActivationStore,
    progress: Progress | None = None,
    desc: str = "",
    batch_bytes: int = BATCH_BYTES,
) -> int:
    """Visit ``layers`` (nodes of ``graph``) in graph order with their inputs on every path, running
    each node the visits depend on once per sample and path, as many samples per call as fit in
    ``batch_bytes`` of temporaries. Returns the number of samples."""
    wanted = {id(n) for n in layers}
    needed = needed_values(layers)
    steps = [(i, n) for i, n in enumerate(graph.nodes) if id(n) in wanted or _produces(n, needed)]
    last_use = _last_uses(steps, needed, wanted)
    count = _store_inputs(graph, data, paths, needed, store)
    plan = plan_batching(graph)
    batching = _Batching(plan, batch_size(graph, plan, batch_bytes))
    inputs = LayerInputs(store, count)
    bar = progress.bar(steps, total=len(steps), desc=desc) if progress is not None else steps
    with limited_blas_threads():
        for index, node in bar:
            if id(node) in wanted:
                visit(node, inputs)
            if _produces(node, needed):
                for path in paths:
                    _run(node, path, store, count, needed, batching)
            for value in {id(v): v for v in node.inputs}.values():
                if last_use.get(id(value)) == index:
                    _release(store, paths, value)
    return count


def needed_values(layers: Sequence[Node]) -> set[int]:
    """Ids of the non-constant values the layers' data inputs are computed from (themselves included)."""
    needed: set[int] = set()
    stack = [layer.inputs[0] for layer in layers]
    while stack:
        value = stack.pop()
        if value.is_const or id(value) in needed:
            continue
        needed.add(id(value))
        if value.producer is not None:
            stack.extend(value.producer.inputs)
    return needed


def _produces(node: Node, needed: set[int]) -> bool:
    return any(id(r) in needed for r in node.results)


def _last_uses(steps: Sequence[tuple[int, Node]], needed: set[int], wanted: set[int]) -> dict[int, int]:
    """Value id -> position of the last node that reads it (a run, or a visit of its data input)."""
    last: dict[int, int] = {}
    for index, node in steps:
        readers = list(node.inputs) if _produces(node, needed) else []
        if id(node) in wanted:
            readers.append(node.inputs[0])
        for value in readers:
            if id(value) in needed:
                last[id(value)] = index
    return last


def _store_inputs(graph: Graph, data: CalibrationSet, paths: Sequence[NetworkPath], needed: set[int], store: ActivationStore) -> int:
    """Read every sample once; store each needed graph input as each path prepares it."""
    count = data.count()
    if count is None:
        count = sum(1 for _ in data)
    inputs = [v for v in graph.inputs if id(v) in needed]
    read = 0
    for index, feeds in enumerate(data):
        if index == count:
            break
        for path in paths:
            prepared = path.prepare_inputs(graph, feeds)
            for value in inputs:
                array = np.asarray(prepared[value.name])
                key = (path.name, id(value))
                if key not in store:
                    store.allocate(key, (count, *array.shape), array.dtype)
                store[key][index] = array
        read += 1
    if read != count:
        raise InputError(f"the calibration data yielded {read} samples the second time it was read, {count} the first")
    return count


@dataclass(frozen=True)
class _Batching:
    plan: BatchPlan
    size: int


def _run(node: Node, path: NetworkPath, store: ActivationStore, count: int, needed: set[int], batching: _Batching) -> None:
    """``node`` on every sample of ``path``, ``batching.size`` samples per call; its needed results
    go to the store ([samples, *value shape] each; a value the plan does not batch is the same
    for every sample and is computed once per call)."""
    plan = batching.plan
    for start in range(0, count, batching.size):
        n = min(batching.size, count - start)
        operands = [_operand(v, path, store, plan, start, n) for v in node.inputs]
        results = run_node(plan.evaluator(path.evaluate_node, n), node, operands)
        for value, array in zip(node.results, results):
            if id(value) not in needed:
                continue
            key = (path.name, id(value))
            array = np.asarray(array)
            per_sample = array.reshape(n, -1, *array.shape[1:]) if plan.is_batched(value) else array[None]
            if start == 0:
                store.allocate(key, (count, *per_sample.shape[1:]), array.dtype)
            store[key][start : start + n] = per_sample


def _operand(value: Value, path: NetworkPath, store: ActivationStore, plan: BatchPlan, start: int, n: int) -> np.ndarray:
    """A node operand for samples [start, start + n): batched values stacked on axis 0, shared
    ones (and everything when the plan cannot batch, n = 1) as one sample."""
    if value.is_const:
        return np.asarray(value.data)
    stored = store[(path.name, id(value))]
    if not plan.is_batched(value):
        return np.asarray(stored[start])
    block = np.asarray(stored[start : start + n])
    return block.reshape(n * block.shape[1], *block.shape[2:])


def _release(store: ActivationStore, paths: Sequence[NetworkPath], value: Value) -> None:
    for path in paths:
        store.release((path.name, id(value)))
