"""Batched float interpretation: run N samples through a batch-1 graph in one pass.

Why: the interpreter pays numpy dispatch and im2col set-up per node and per call; calibration and
the PTQ layer walk run the same graph on many samples, so evaluating them together amortizes that
cost. The IR's shapes are static with batch 1; here the batch-1 axis 0 of every value derived from
the graph inputs carries N samples instead. Most kernels do not care (conv, pools, element-wise,
matmul, concat on other axes). Ops whose attributes spell out the batch (reshape/expand target
shapes, resize sizes) get those attributes rewritten for N; ops that act *across* axis 0 (concat,
split, slice, gather, softmax or a reduction on axis 0, a transpose moving it...) cannot be
batched. ``plan_batching`` decides once per graph, before any sample is read: either a plan that
batches the whole graph, or the reason it cannot (callers then run one sample at a time).

Results equal the per-sample ones up to float rounding: BLAS may block a bigger matrix product
differently and change the last bits (the tests allow 1e-5 of the output's largest magnitude).
Batching only pays where per-node overhead dominates (small activations); ``batch_size`` keeps
large-activation models at one sample per call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qcc.errors import InputError
from qcc.interp.interpreter import NodeEvaluator, Observer, check_feeds, execute, float_node, split_samples
from qcc.interp.kernels.elementwise import BINARY, UNARY
from qcc.ir.core import Graph, Node, Value

AttrRewrite = Callable[[Mapping[str, Any], int], dict[str, Any]]
# Per-sample work a node may need besides its operands and results (im2col copies, pad buffers):
# the sample-size estimate counts each node's operands and results this many times over.
SCRATCH_FACTOR = 2
DEFAULT_BATCH_BYTES = 256 << 20
MAX_BATCH = 64  # beyond this the per-call overhead is already amortized; memory only grows
# A batch grows until its largest activation reaches this size. Batching pays for per-node call
# overhead; past a few MiB per array that overhead is small next to the work, while bigger arrays
# fall out of the cache (measured: 416x416 and 224x224 conv nets gain nothing, the 16x16 example 1.6x).
CALL_BYTES = 4 << 20


@dataclass(frozen=True)
class BatchPlan:
    """How a graph runs on N stacked samples. ``reason`` says why it cannot (then ``batched`` is
    empty and N must be 1); ``batched`` holds the ids of the values whose axis 0 carries the
    samples (the others are the same for every sample); ``rewrites`` give, per node id, its
    attributes for N samples."""

    batched: frozenset[int]
    rewrites: Mapping[int, AttrRewrite] = field(default_factory=dict)
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None

    def is_batched(self, value: Value) -> bool:
        return id(value) in self.batched

    def evaluator(self, inner: NodeEvaluator, n: int) -> NodeEvaluator:
        """``inner`` on N-sample operands: nodes with batch-bearing attributes see them rewritten
        (through a stand-in node with the same name, op, operands and results; nodes with
        weights never need a rewrite, so evaluators keyed by a weighted node's id still match)."""
        if n == 1 or not self.rewrites:
            return inner

        def evaluate_node(node: Node, operands: Sequence[np.ndarray]) -> Sequence[np.ndarray]:
            rewrite = self.rewrites.get(id(node))
            if rewrite is None:
                return inner(node, operands)
            return inner(BatchedNode(node, rewrite(node.attrs, n)), operands)  # type: ignore[arg-type]

        return evaluate_node


class BatchedNode:
    """A node with its attributes rewritten for a batch; everything else is the node's own."""

    __slots__ = ("node", "attrs")

    def __init__(self, node: Node, attrs: dict[str, Any]) -> None:
        self.node = node
        self.attrs = attrs

    def attr(self, key: str) -> Any:
        return self.attrs[key]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.node, name)


# ---- the rules --------------------------------------------------------------------------------

# A rule sees the node and which operands carry samples; it returns None when the node can run
# batched as it is, a rewrite when its attributes need the batch size, or raises _Unbatchable.


class _Unbatchable(Exception):
    pass


Rule = Callable[[Node, Sequence[bool]], "AttrRewrite | None"]

_ELEMENTWISE = frozenset(UNARY) | frozenset(BINARY) | {"where", "pointwise", "cast"}
# Ops that compute each sample from its own slice of the first operand (the others are weights or
# parameters shared by all samples) and never look across axis 0.
_PER_SAMPLE = frozenset({
    "conv", "conv_transpose", "max_pool", "avg_pool", "global_avg_pool", "global_max_pool", "batch_norm", "lrn",
})  # fmt: skip


def _rank(value: Value) -> int:
    return value.type.rank


def _axis(node: Node, key: str = "axis") -> int:
    return int(node.attr(key)) % max(_rank(node.inputs[0]), 1)


def _refuse(node: Node, why: str) -> _Unbatchable:
    return _Unbatchable(f"node '{node.name}' ({node.op}) {why}")


def _only_first_batched(node: Node, batched: Sequence[bool]) -> None:
    if any(batched[1:]):
        raise _refuse(node, "takes per-sample data in an operand other than its first")


def _elementwise(node: Node, batched: Sequence[bool]) -> None:
    rank = _rank(node.results[0])
    if any(b and _rank(v) != rank for v, b in zip(node.inputs, batched)):
        raise _refuse(node, "broadcasts per-sample data into a higher rank")


def _per_sample(node: Node, batched: Sequence[bool]) -> None:
    _only_first_batched(node, batched)


def _not_on_batch_axis(node: Node, batched: Sequence[bool]) -> None:
    """softmax, layer norms: the axis attribute must leave axis 0 alone."""
    _only_first_batched(node, batched)
    if _axis(node) == 0:
        raise _refuse(node, "works along the batch axis")


def _reduction(node: Node, batched: Sequence[bool]) -> None:
    rank = _rank(node.inputs[0])
    axes = node.attr("axes")
    if not axes or any(int(a) % rank == 0 for a in axes):
        raise _refuse(node, "reduces over the batch axis")


def _concat(node: Node, batched: Sequence[bool]) -> None:
    if not all(batched) or _axis(node) == 0:
        raise _refuse(node, "joins along the batch axis or joins per-sample data with shared data")


def _split(node: Node, batched: Sequence[bool]) -> None:
    if _axis(node) == 0:
        raise _refuse(node, "splits the batch axis")


def _slice(node: Node, batched: Sequence[bool]) -> None:
    rank = _rank(node.inputs[0])
    if any(int(a) % rank == 0 for a in node.attr("axes")):
        raise _refuse(node, "slices the batch axis")


def _transpose(node: Node, batched: Sequence[bool]) -> None:
    if tuple(node.attr("perm"))[:1] != (0,):
        raise _refuse(node, "moves the batch axis")


def _pad(node: Node, batched: Sequence[bool]) -> None:
    pads, rank = node.attr("pads"), _rank(node.inputs[0])
    if pads[0] or pads[rank]:
        raise _refuse(node, "pads the batch axis")


def _tile(node: Node, batched: Sequence[bool]) -> None:
    if node.attr("repeats")[0] != 1:
        raise _refuse(node, "tiles the batch axis")


def _gather(node: Node, batched: Sequence[bool]) -> None:
    if batched[1] or _axis(node) == 0:
        raise _refuse(node, "gathers along the batch axis or with per-sample indices")


def _gather_elements(node: Node, batched: Sequence[bool]) -> None:
    if not all(batched) or _axis(node) == 0:
        raise _refuse(node, "gathers along the batch axis or with indices shared by all samples")


def _gemm(node: Node, batched: Sequence[bool]) -> None:
    _only_first_batched(node, batched)
    if node.attr("trans_a"):
        raise _refuse(node, "transposes its batch operand")


def _matmul(node: Node, batched: Sequence[bool]) -> None:
    rank = _rank(node.results[0])
    a, b = node.inputs
    if batched[1] and (rank < 3 or _rank(b) != rank):
        raise _refuse(node, "multiplies by a per-sample matrix without a stack axis")
    if batched[0] and _rank(a) != rank:
        raise _refuse(node, "broadcasts per-sample data into a higher rank")


def _with_batch(key: str) -> Rule:
    """reshape, expand, resize: the attribute ``key`` is the full result shape; it becomes the
    result shape with N samples. Valid when the batch axis maps through (operand and result both
    have the batch-1 axis 0, and resize leaves that axis alone)."""

    def rule(node: Node, batched: Sequence[bool]) -> AttrRewrite:
        _only_first_batched(node, batched)
        operand, result = node.inputs[0].type.static_shape, node.results[0].type.static_shape
        if operand[:1] != (1,) or result[:1] != (1,):
            raise _refuse(node, "changes the batch axis")
        if node.op == "resize" and (node.attr("scales")[:1] not in ((), (1.0,)) or node.attr("roi")):
            raise _refuse(node, "resamples the batch axis")
        if node.op == "expand" and _rank(node.inputs[0]) != len(result):
            raise _refuse(node, "broadcasts per-sample data into a higher rank")
        rest = result[1:]

        def rewrite(attrs: Mapping[str, Any], n: int) -> dict[str, Any]:
            return {**attrs, key: (n, *rest)}

        return rewrite

    return rule


RULES: dict[str, Rule] = {
    **{op: _elementwise for op in _ELEMENTWISE},
    **{op: _per_sample for op in _PER_SAMPLE},
    **{op: _reduction for op in ("reduce_mean", "reduce_sum", "reduce_max")},
    **{op: _not_on_batch_axis for op in ("softmax", "layer_norm", "layer_norm_stats")},
    "concat": _concat,
    "split": _split,
    "slice": _slice,
    "transpose": _transpose,
    "pad": _pad,
    "tile": _tile,
    "gather": _gather,
    "gather_elements": _gather_elements,
    "gemm": _gemm,
    "matmul": _matmul,
    "reshape": _with_batch("shape"),
    "expand": _with_batch("shape"),
    "resize": _with_batch("sizes"),
}


def plan_batching(graph: Graph) -> BatchPlan:
    """The batch plan of ``graph``, or the first reason it has none."""
    try:
        return _plan(graph)
    except _Unbatchable as e:
        return BatchPlan(frozenset(), {}, str(e))


def _plan(graph: Graph) -> BatchPlan:
    batched: set[int] = set()
    for value in graph.inputs:
        if not value.type.is_static or value.type.shape[:1] != (1,):
            raise _Unbatchable(f"input '{value.name}' has no static batch-1 axis 0 ({value.type.shape_text()})")
        batched.add(id(value))
    rewrites: dict[int, AttrRewrite] = {}
    for node in graph.nodes:
        flags = [id(v) in batched for v in node.inputs]
        if not any(flags):
            continue  # computed from constants alone: the same for every sample
        rule = RULES.get(node.op)
        if rule is None:
            raise _refuse(node, "has no batching rule")
        rewrite = rule(node, flags)
        for result in node.results:
            if not result.type.is_static or result.type.shape[:1] != (1,):
                raise _refuse(node, f"has a result without a batch-1 axis 0 ({result.type.shape_text()})")
        if rewrite is not None:
            rewrites[id(node)] = rewrite
        batched.update(id(r) for r in node.results)
    return BatchPlan(frozenset(batched), rewrites)


# ---- batch size ---------------------------------------------------------------------------------


def sample_bytes(graph: Graph) -> int:
    """Peak bytes one sample holds while the interpreter runs (its live values at the fullest
    point, each node's operands and results counted ``SCRATCH_FACTOR`` times for kernel scratch)."""
    last: dict[int, int] = {}
    for index, node in enumerate(graph.nodes):
        for value in node.inputs:
            last[id(value)] = index
    outputs = {id(v) for v in graph.outputs}
    live = sum(_nbytes(v) for v in graph.inputs)
    peak = live
    for index, node in enumerate(graph.nodes):
        produced = sum(_nbytes(r) for r in node.results)
        operands = sum(_nbytes(v) for v in node.inputs if not v.is_const)
        live += produced
        peak = max(peak, live + (SCRATCH_FACTOR - 1) * (produced + operands))
        live -= sum(_nbytes(v) for v in {id(v): v for v in node.inputs}.values() if last.get(id(v)) == index and not v.is_const and id(v) not in outputs)
    return max(peak, 1)


def _nbytes(value: Value) -> int:
    t = value.type
    return t.size * np.dtype(t.dtype.numpy).itemsize if t.is_static else 0


def batch_size(graph: Graph, plan: BatchPlan, budget_bytes: int, limit: int = MAX_BATCH) -> int:
    """How many samples to run per call: as many as fit in ``budget_bytes`` and keep the largest
    activation within ``CALL_BYTES`` (at least 1, at most ``limit``); 1 when the graph cannot be
    batched."""
    if not plan.ok:
        return 1
    largest = max((_nbytes(v) for v in _activations(graph)), default=1)
    return max(1, min(limit, budget_bytes // sample_bytes(graph), CALL_BYTES // max(largest, 1)))


def _activations(graph: Graph) -> Iterator[Value]:
    yield from graph.inputs
    for node in graph.nodes:
        yield from node.results


# ---- running batches ------------------------------------------------------------------------------


def stack_samples(samples: Sequence[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Single-sample feed dicts (batch-1 arrays) stacked on axis 0."""
    return {name: np.concatenate([np.asarray(s[name]) for s in samples], axis=0) for name in samples[0]}


def batches(samples: Iterable[Mapping[str, np.ndarray]], size: int) -> Iterator[list[Mapping[str, np.ndarray]]]:
    """Groups of up to ``size`` consecutive samples."""
    group: list[Mapping[str, np.ndarray]] = []
    for sample in samples:
        group.append(sample)
        if len(group) == size:
            yield group
            group = []
    if group:
        yield group


def run_batch(
    graph: Graph,
    plan: BatchPlan,
    feeds: Mapping[str, np.ndarray],
    n: int,
    *,
    observer: Observer | None = None,
    evaluate_node: NodeEvaluator = float_node,
) -> dict[str, np.ndarray]:
    """Run ``n`` samples stacked on axis 0 of every input. The observer and the outputs see batched
    values with the samples on axis 0 and shared values (``plan.is_batched`` false) once."""
    if n == 1:
        return execute(graph, check_feeds(graph, feeds), observer=observer, evaluate_node=evaluate_node)
    if not plan.ok:
        raise InputError(f"the graph cannot run batched: {plan.reason}")
    arrays = []
    for value in graph.inputs:
        if value.name not in feeds:
            raise InputError(f"missing input '{value.name}' ({value.type})")
        array = np.asarray(feeds[value.name])
        want = (n, *value.type.static_shape[1:])
        if array.dtype != value.type.dtype.numpy or array.shape != want:
            raise InputError(f"input '{value.name}': expected {value.type.dtype}{list(want)} for {n} samples, got {array.dtype}{list(array.shape)}")
        arrays.append(array)
    return execute(graph, arrays, observer=observer, evaluate_node=plan.evaluator(evaluate_node, n))


def stacked_outputs(graph: Graph, plan: BatchPlan, outputs: Mapping[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
    """A batch run's outputs as a per-sample run would stack them (shared ones repeated)."""
    result = {}
    for value in graph.outputs:
        array = outputs[value.name]
        result[value.name] = array if plan.is_batched(value) or n == 1 else np.concatenate([array] * n, axis=0)
    return result


def run_samples_batched(graph: Graph, feeds: Mapping[str, np.ndarray], budget_bytes: int = DEFAULT_BATCH_BYTES) -> dict[str, np.ndarray]:
    """``run_samples`` (N samples stacked on the batch axis of a batch-1 model, outputs stacked the
    same way) with as many samples per interpreter call as the plan and ``budget_bytes`` allow."""
    plan = plan_batching(graph)
    size = batch_size(graph, plan, budget_bytes)
    outs: dict[str, list[np.ndarray]] = {}
    for group in batches(split_samples(graph, feeds), size):
        results = run_batch(graph, plan, stack_samples(group) if len(group) > 1 else group[0], len(group))
        for name, array in stacked_outputs(graph, plan, results, len(group)).items():
            outs.setdefault(name, []).append(array)
    return {k: v[0] if len(v) == 1 else np.concatenate(v, axis=0) for k, v in outs.items()}
