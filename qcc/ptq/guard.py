"""Keep a weight-changing PTQ step only where it helps the network.

Bias correction and AdaRound each optimize a per-layer proxy (the expected output shift, a layer's
reconstruction error). On some networks the layers' gains do not add up: the zoo measured AdaRound
lowering mtcnn-rnet's output SQNR from 29.1 to 25.6 dB. A recipe must never be worse than plain
rounding, so the step is judged where it matters, at the network's outputs: the fake-quantized
network (the integer reference's function, simulated in float) against the float network on a few
calibration samples, before and after; if after is worse, the weights and biases go back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from qcc.analysis.error import ErrorStats
from qcc.calibration.source import calibration_set
from qcc.interp.interpreter import run
from qcc.ir.core import Graph, Node
from qcc.ir.rewrite import set_const_operand
from qcc.quant.fakequant import FakeQuant
from qcc.quant.lowering import Settings

Feeds = dict[str, np.ndarray]


@dataclass
class OutputCheck:
    """The float network's outputs on a few samples, and the fake-quant SQNR against them."""

    samples: Sequence[Feeds]
    reference: list[dict[str, np.ndarray]]

    @staticmethod
    def of(graph: Graph, samples: Sequence[Feeds]) -> OutputCheck:
        return OutputCheck(samples, [run(graph, feeds) for feeds in samples])

    def sqnr_db(self, graph: Graph, settings: Settings) -> float:
        fq = FakeQuant(graph, settings)
        stats = ErrorStats()
        for feeds, ref in zip(self.samples, self.reference):
            got = fq.run(feeds)
            for name, r in ref.items():
                stats.add(np.asarray(r), np.asarray(got[name]))
        return stats.sqnr_db


GUARD_SAMPLES = 8
"""Calibration samples the output check runs (three runs each: float, before, after)."""


def guard_samples(graph: Graph, ctx: object, count: int = GUARD_SAMPLES) -> list[Feeds]:
    """The first ``count`` calibration samples, for the output check."""
    return [dict(feeds) for feeds in calibration_set(graph, ctx, count)]


def _constants(layers: Sequence[Node]) -> dict[int, list[np.ndarray | None]]:
    return {id(n): [np.asarray(v.data) if v.is_const else None for v in n.inputs[1:3]] for n in layers}


def keep_if_better(
    graph: Graph,
    layers: Sequence[Node],
    settings: Settings,
    samples: Sequence[Feeds],
    step: Callable[[], object],
    log: Callable[[str], None],
    name: str,
) -> bool:
    """Run ``step`` (which changes the layers' weights and biases in place) and keep its result only
    if the network's fake-quant output SQNR on ``samples`` does not drop; returns whether it was kept."""
    check = OutputCheck.of(graph, samples)
    before = check.sqnr_db(graph, settings)
    saved = _constants(layers)
    step()
    after = check.sqnr_db(graph, settings)
    if after >= before:
        log(f"{name}: output SQNR on {len(samples)} calibration samples {before:.2f} -> {after:.2f} dB: kept")
        return True
    for node in layers:
        weight, bias = saved[id(node)]
        if weight is not None:
            set_const_operand(graph, node, 1, weight)
        if len(node.inputs) > 2 and node.inputs[2].is_const:
            set_const_operand(graph, node, 2, bias if bias is not None else np.zeros_like(np.asarray(node.inputs[2].data)))
    log(f"{name}: output SQNR on {len(samples)} calibration samples {before:.2f} -> {after:.2f} dB: reverted (worse than nearest rounding)")
    return False
