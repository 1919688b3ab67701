"""Choosing a weight width per layer, and optionally an activation width per node, to a budget,
guided by sensitivity (the search of the ``mixed-precision`` pass).

Start with every weight layer (and, with activations searched, every node's output activations) at
the widest width the target allows. Each possible narrowing (one layer's weights one width down,
8 -> 4, or one node's outputs 16 -> 8) is priced by the output noise it adds when made alone, measured on the
fake-quant network (qcc.analysis.sensitivity), per weight byte it saves; noise powers of independent
rounding errors add, so the cheapest narrowings are taken first, greedily, in the spirit of AIMET's
automatic mixed precision (Qualcomm AIMET docs, "AMP"). A size budget takes narrowings until the
weights fit; an SQNR budget measures the whole network after each narrowing and undoes one that
would drop below the budget (that layer then stays where it is).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass, replace

from qcc.analysis.macs import node_macs
from qcc.analysis.sensitivity import OnGrid, SensitivityRunner, SqnrMany, quantized_results, scheme_grid
from qcc.errors import PipelineError
from qcc.ir.core import Graph, Node
from qcc.quant.fakequant import is_weight_layer
from qcc.quant.lowering import Lowerer, Settings


@dataclass(frozen=True)
class Budget:
    """``size:F`` (counted bytes at most F times those at 8 bits: the weights', plus, when activation
    widths are searched, the quantized activation tensors'), ``bops:F`` (bit operations, MACs x
    weight bits x activation bits summed over the weight layers, at most F times W8A8's) or
    ``sqnr:DB`` (output SQNR at least DB on the samples)."""

    kind: str
    limit: float

    @staticmethod
    def parse(text: str) -> Budget:
        kind, _, raw = text.partition(":")
        try:
            limit = float(raw)
        except ValueError:
            limit = float("nan")
        if kind not in ("size", "bops", "sqnr") or limit != limit or (kind != "sqnr" and limit <= 0):
            raise PipelineError(f"mixed-precision: budget '{text}' must be size:FRACTION (of the 8-bit bytes, > 0), "
                                "bops:FRACTION (of W8A8's bit operations, > 0) or sqnr:DB")
        return Budget(kind, limit)

    @property
    def text(self) -> str:
        return f"{self.kind}:{self.limit:g}"

    @property
    def caps_cost(self) -> bool:
        """Whether the budget is a cap on a cost (size, bops) rather than a floor on the SQNR."""
        return self.kind != "sqnr"


@dataclass
class Decision:
    """A layer's chosen widths and the output SQNR of its last narrowing made alone (the reason):
    ``activation_bits`` is None when activation widths are not searched or the node has none."""

    node: str
    weight_bits: int | None
    alone_sqnr_db: float | None = None
    activation_bits: int | None = None


@dataclass(frozen=True)
class CurvePoint:
    """One accepted step of an SQNR-budget search: what was narrowed (None: the start; a node name,
    with ``:acts`` for its activations), the counted bytes and bit operations after it (fractions of
    W8A8's) and its measured output SQNR."""

    narrowed: str | None
    size_fraction: float
    bops_fraction: float
    sqnr_db: float


@dataclass
class SearchResult:
    decisions: dict[str, Decision]
    size_fraction: float  # weights, plus activations when searched, against all at 8 bits
    bops_fraction: float  # MACs x weight bits x activation bits against W8A8's
    sqnr_db: float
    curve: list[CurvePoint]  # the size/SQNR points an SQNR budget's search measured, in order


def _noise(sqnr_db: float) -> float:
    """Noise power relative to the signal's."""
    return 10.0 ** (-sqnr_db / 10.0)


def weight_bytes(node: Node, bits: int) -> float:
    """Bytes of a layer's weights at ``bits`` (4-bit weights are packed two per byte)."""
    return node.inputs[1].type.size * bits / 8


def activation_bytes(node: Node, bits: int) -> float:
    """Bytes of a node's quantized output tensors at ``bits``: what widening them costs in
    activation memory, counted per tensor (not the peak of the live tensors, which depends on the
    schedule: a sum is what a per-node choice can be charged with)."""
    return sum(r.type.size for r in quantized_results(node)) * bits / 8


@dataclass(frozen=True)
class _Knob:
    """One thing the search sets: a layer's weight width or a node's activation width."""

    node: Node
    kind: str  # "weights" | "acts"
    widths: tuple[int, ...]  # widest first

    @property
    def label(self) -> str:
        return self.node.name if self.kind == "weights" else f"{self.node.name}:acts"

    def bytes(self, bits: int) -> float:
        return weight_bytes(self.node, bits) if self.kind == "weights" else activation_bytes(self.node, bits)


def search_weight_widths(
    graph: Graph,
    runner: SensitivityRunner,
    settings: Settings,
    budget: Budget,
    fixed: frozenset[str] = frozenset(),
    log: Callable[[str], None] = lambda message: None,
    sqnr_many: SqnrMany | None = None,
    activations: bool = False,
    fixed_activations: frozenset[str] = frozenset(),
) -> SearchResult:
    """Weight widths for every weight layer not in ``fixed`` (whose widths the scheme already sets),
    and with ``activations`` an activation width for every node with quantized outputs not in
    ``fixed_activations``.

    The prices (each knob alone at each width) are independent and measured together by
    ``sqnr_many`` (qcc.analysis.distribute); the search's own steps depend on each other and run here."""
    layers = [n for n in graph.nodes if is_weight_layer(n)]
    knobs = [_Knob(n, "weights", tuple(sorted(settings.target.weight_bits, reverse=True))) for n in layers]
    if activations:
        act_widths = tuple(sorted(settings.target.activation_bits, reverse=True))
        knobs += [_Knob(n, "acts", act_widths) for n in graph.nodes if quantized_results(n)]
    pinned = {k.label for k in knobs if (k.node.name in fixed if k.kind == "weights" else k.node.name in fixed_activations)}
    bits = {k.label: _scheme_bits(k, settings) if k.label in pinned else k.widths[0] for k in knobs}
    base = scheme_grid(graph, settings)
    order = {k.label: i for i, k in enumerate(knobs)}
    macs = {n.name: node_macs(n) for n in layers}
    scheme_acts = {n.name: settings.for_node(n).activation_bits for n in layers}

    def size(assignment: dict[str, int]) -> float:
        return sum(k.bytes(assignment[k.label]) for k in knobs)

    def bops(assignment: dict[str, int]) -> float:
        """Bit operations: a layer multiplies its weights by its operand read at its own width."""
        return float(sum(m * assignment[n] * assignment.get(f"{n}:acts", scheme_acts[n]) for n, m in macs.items()))

    size_reference = sum(k.bytes(8) for k in knobs)
    bops_reference = float(sum(macs.values()) * 64)
    # what a narrowing saves, and what a capped budget caps: bit operations for bops, else bytes
    cost, cost_reference = (bops, bops_reference) if budget.kind == "bops" else (size, size_reference)

    def fractions(assignment: dict[str, int]) -> tuple[float, float]:
        return size(assignment) / size_reference if size_reference else 0.0, bops(assignment) / bops_reference if bops_reference else 0.0

    def fits(assignment: dict[str, int]) -> bool:
        return cost(assignment) <= budget.limit * cost_reference

    def grid(assignment: dict[str, int], only: _Knob | None = None) -> OnGrid:
        """The network with ``assignment``'s widths (or only ``only`` quantized, at its width there)."""
        weights: dict[str, tuple[int, bool]] = {} if only is not None else {n.name: base.weights[n.name] for n in layers}
        acts: dict[str, int] = {} if only is not None else dict(base.activations)
        operands: dict[str, int] = {} if only is not None else dict(base.operands)
        for knob in knobs if only is None else [only]:
            if knob.kind == "weights":
                weights[knob.node.name] = (assignment[knob.label], settings.for_node(knob.node).per_channel)
            else:
                acts.update(dict.fromkeys((r.name for r in quantized_results(knob.node)), assignment[knob.label]))
                operands[knob.node.name] = assignment[knob.label]
        return OnGrid(weights, acts, operands)

    priced = [(k, b) for k in knobs if k.label not in pinned for b in k.widths]
    alone_sqnr = dict(zip(((k.label, b) for k, b in priced), (sqnr_many or _serial(runner))([grid({k.label: b}, k) for k, b in priced])))
    decisions = {n.name: Decision(n.name, bits[n.name] if is_weight_layer(n) else None) for n in graph.nodes
                 if is_weight_layer(n) or (activations and quantized_results(n))}
    for knob in knobs:
        if knob.kind == "acts":
            decisions[knob.node.name].activation_bits = bits[knob.label]
    heap: list[tuple[float, int, str, int]] = []
    by_label = {k.label: k for k in knobs}

    def push(knob: _Knob, index: int) -> None:
        """Offer narrowing ``knob`` from widths[index] to widths[index + 1], priced by the noise it
        adds alone per unit of cost (byte, or bit operation) it saves at the widths chosen so far; a
        narrowing that saves nothing (an activation outside any layer, under bops) is not offered."""
        if index + 1 >= len(knob.widths):
            return
        now, lower = knob.widths[index], knob.widths[index + 1]
        saved = cost(bits) - cost({**bits, knob.label: lower})
        if saved <= 0:
            return
        added = _noise(alone_sqnr[knob.label, lower]) - _noise(alone_sqnr[knob.label, now])
        heapq.heappush(heap, (added / saved, order[knob.label], knob.label, index))

    for knob in knobs:
        if knob.label not in pinned:
            push(knob, 0)
    what = "weights and activations" if activations else "weights"
    current = runner.sqnr_db(grid(bits))
    if budget.kind == "sqnr" and current < budget.limit:
        raise PipelineError(f"mixed-precision: budget sqnr:{budget.limit:g} is out of reach: the widest {what} give {current:.2f} dB")
    curve = [CurvePoint(None, *fractions(bits), current)]
    while heap and not (budget.caps_cost and fits(bits)):
        _, _, label, index = heapq.heappop(heap)
        knob = by_label[label]
        now, lower = knob.widths[index], knob.widths[index + 1]
        trial = {**bits, label: lower}
        if budget.kind == "sqnr":
            sqnr = runner.sqnr_db(grid(trial))
            if sqnr < budget.limit:
                log(f"mixed-precision: {knob.node.name} {knob.kind} stay at {now} bits (at {lower} bits the output SQNR would be {sqnr:.2f} dB)")
                continue
            current = sqnr
            curve.append(CurvePoint(label, *fractions(trial), current))
        bits = trial
        decision = decisions[knob.node.name]
        decision.alone_sqnr_db = alone_sqnr[label, lower]
        if knob.kind == "weights":
            decision.weight_bits = lower
        else:
            decision.activation_bits = lower
        log(f"mixed-precision: {knob.node.name} {knob.kind} {now} -> {lower} bits (alone: {decision.alone_sqnr_db:.2f} dB output SQNR)")
        push(knob, index + 1)
    if budget.caps_cost:
        if not fits(bits):
            raise PipelineError(f"mixed-precision: budget {budget.kind}:{budget.limit:g} is out of reach: "
                                f"the narrowest {what} allowed take {cost(bits) / cost_reference:.3f}")
        current = runner.sqnr_db(grid(bits))
    return SearchResult(decisions, *fractions(bits), current, curve)


def nodes_refusing_activation_width(graph: Graph, bits: int) -> frozenset[str]:
    """Nodes the integer lowering cannot run at ``bits``-bit activations (softmax, layer norm... are
    defined on int8 only, docs/arithmetic.md §3.8-§3.12): found by the lowering rules themselves in
    their pre-flight mode, on the graph's scheme with every node at ``bits``, so the search never
    offers a width that quantize would refuse."""
    assert graph.scheme is not None
    overrides = tuple(replace(o, activation_bits=None) for o in graph.scheme.overrides)
    wide = replace(graph.scheme, activation_bits=bits, overrides=overrides)
    lowerer = Lowerer(graph, Settings.from_scheme(wide, graph), preflight=True)
    lowerer.run()
    return frozenset(node.name for node, _ in lowerer.refusals)


def _scheme_bits(knob: _Knob, settings: Settings) -> int:
    s = settings.for_node(knob.node)
    return s.weight_bits if knob.kind == "weights" else s.activation_bits


def _serial(runner: SensitivityRunner) -> SqnrMany:
    return lambda grids: [runner.sqnr_db(grid) for grid in grids]


def narrowing_curve(graph: Graph, runner: SensitivityRunner, settings: Settings, sqnr_many: SqnrMany | None = None) -> list[CurvePoint]:
    """Output SQNR against weight bytes as layers are narrowed in the search's order, from the widest
    weights to the narrowest: the size/SQNR trade-off the mixed-precision pass chooses from."""
    return search_weight_widths(graph, runner, settings, Budget("sqnr", -math.inf), sqnr_many=sqnr_many).curve
