"""Choosing a weight width per layer to a budget, guided by sensitivity (the search of the
``mixed-precision`` pass).

Start with every weight layer at the widest width the target allows. Each possible narrowing (one
layer one width down, 8 -> 4) is priced by the output noise it adds when made alone, measured on the
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
from dataclasses import dataclass

from qcc.analysis.sensitivity import OnGrid, SensitivityRunner, SqnrMany, scheme_grid
from qcc.errors import PipelineError
from qcc.ir.core import Graph, Node
from qcc.quant.fakequant import is_weight_layer
from qcc.quant.lowering import Settings


@dataclass(frozen=True)
class Budget:
    """``size:F`` (weight bytes at most F times the all-8-bit weights') or ``sqnr:DB`` (output SQNR
    at least DB on the samples)."""

    kind: str
    limit: float

    @staticmethod
    def parse(text: str) -> Budget:
        kind, _, raw = text.partition(":")
        try:
            limit = float(raw)
        except ValueError:
            limit = float("nan")
        if kind not in ("size", "sqnr") or limit != limit or (kind == "size" and limit <= 0):
            raise PipelineError(f"mixed-precision: budget '{text}' must be size:FRACTION (of the 8-bit weight bytes, > 0) or sqnr:DB")
        return Budget(kind, limit)


@dataclass
class Decision:
    """A layer's chosen weight width and the output SQNR of narrowing it alone (the reason)."""

    node: str
    weight_bits: int
    alone_sqnr_db: float | None = None


@dataclass(frozen=True)
class CurvePoint:
    """One accepted step of an SQNR-budget search: the layer narrowed (None: the start) and the
    network's weight bytes (fraction of 8-bit) and measured output SQNR after it."""

    narrowed: str | None
    size_fraction: float
    sqnr_db: float


@dataclass
class SearchResult:
    decisions: dict[str, Decision]
    weight_bytes: float
    reference_bytes: float  # every weight at 8 bits
    sqnr_db: float
    curve: list[CurvePoint]  # the size/SQNR points an SQNR budget's search measured, in order

    @property
    def size_fraction(self) -> float:
        return self.weight_bytes / self.reference_bytes if self.reference_bytes else 0.0


def _noise(sqnr_db: float) -> float:
    """Noise power relative to the signal's."""
    return 10.0 ** (-sqnr_db / 10.0)


def weight_bytes(node: Node, bits: int) -> float:
    """Bytes of a layer's weights at ``bits`` (4-bit weights are packed two per byte)."""
    return node.inputs[1].type.size * bits / 8


def search_weight_widths(
    graph: Graph,
    runner: SensitivityRunner,
    settings: Settings,
    budget: Budget,
    fixed: frozenset[str] = frozenset(),
    log: Callable[[str], None] = lambda message: None,
    sqnr_many: SqnrMany | None = None,
) -> SearchResult:
    """Weight widths for every weight layer not in ``fixed`` (whose widths the scheme already sets).

    The prices (each layer alone at each width) are independent and measured together by
    ``sqnr_many`` (qcc.analysis.distribute); the search's own steps depend on each other and run here."""
    layers = [n for n in graph.nodes if is_weight_layer(n)]
    widths = sorted(settings.target.weight_bits, reverse=True)
    bits = {n.name: (settings.for_node(n).weight_bits if n.name in fixed else widths[0]) for n in layers}
    acts = scheme_grid(graph, settings).activations
    by_name = {n.name: n for n in layers}

    def measure(assignment: dict[str, int]) -> float:
        return runner.sqnr_db(OnGrid({n.name: (assignment[n.name], settings.for_node(n).per_channel) for n in layers}, acts))

    priced = [(n.name, b) for n in layers if n.name not in fixed for b in widths]
    grids = [OnGrid(weights={name: (b, settings.for_node(by_name[name]).per_channel)}) for name, b in priced]
    alone_sqnr = dict(zip(priced, (sqnr_many or _serial(runner))(grids)))

    def alone(node: Node, b: int) -> float:
        return alone_sqnr[node.name, b]

    decisions = {n.name: Decision(n.name, bits[n.name]) for n in layers}
    heap: list[tuple[float, int, str, int]] = []

    def push(node: Node, index: int) -> None:
        """Offer narrowing ``node`` from widths[index] to widths[index + 1]."""
        if index + 1 >= len(widths):
            return
        now, lower = widths[index], widths[index + 1]
        sqnr_lower = alone(node, lower)
        cost = (_noise(sqnr_lower) - _noise(alone(node, now))) / (weight_bytes(node, now) - weight_bytes(node, lower))
        heapq.heappush(heap, (cost, order[node.name], node.name, index))
        decisions[node.name].alone_sqnr_db = sqnr_lower

    order = {n.name: i for i, n in enumerate(layers)}
    for node in layers:
        if node.name not in fixed:
            push(node, 0)
    reference = sum(weight_bytes(n, 8) for n in layers)
    total = sum(weight_bytes(n, bits[n.name]) for n in layers)
    current = measure(bits)
    if budget.kind == "sqnr" and current < budget.limit:
        raise PipelineError(f"mixed-precision: budget sqnr:{budget.limit:g} is out of reach: the widest weights give {current:.2f} dB")
    curve = [CurvePoint(None, total / reference, current)]
    while heap and not (budget.kind == "size" and total <= budget.limit * reference):
        _, _, name, index = heapq.heappop(heap)
        node, lower = by_name[name], widths[index + 1]
        trial = {**bits, name: lower}
        if budget.kind == "sqnr":
            sqnr = measure(trial)
            if sqnr < budget.limit:
                log(f"mixed-precision: {name} stays at {bits[name]}-bit weights (at {lower}-bit the output SQNR would be {sqnr:.2f} dB)")
                continue
            current = sqnr
        total -= weight_bytes(node, bits[name]) - weight_bytes(node, lower)
        if budget.kind == "sqnr":
            curve.append(CurvePoint(name, total / reference, current))
        bits = trial
        decisions[name].weight_bits = lower
        log(f"mixed-precision: {name} weights {widths[index]} -> {lower} bits (alone: {decisions[name].alone_sqnr_db:.2f} dB output SQNR)")
        push(node, index + 1)
    if budget.kind == "size":
        if total > budget.limit * reference:
            raise PipelineError(f"mixed-precision: budget size:{budget.limit:g} is out of reach: the narrowest weights allowed take {total / reference:.3f}")
        current = measure(bits)
    return SearchResult(decisions, total, reference, current, curve)


def _serial(runner: SensitivityRunner) -> SqnrMany:
    return lambda grids: [runner.sqnr_db(grid) for grid in grids]


def narrowing_curve(graph: Graph, runner: SensitivityRunner, settings: Settings, sqnr_many: SqnrMany | None = None) -> list[CurvePoint]:
    """Output SQNR against weight bytes as layers are narrowed in the search's order, from the widest
    weights to the narrowest: the size/SQNR trade-off the mixed-precision pass chooses from."""
    return search_weight_widths(graph, runner, settings, Budget("sqnr", -math.inf), sqnr_many=sqnr_many).curve
