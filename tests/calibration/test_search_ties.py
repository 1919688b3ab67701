"""``method=search`` keeps the observer whose integer network is closest to the float one at the
outputs; methods within TIE_DB of the best on the held-out samples are judged again on more samples,
instead of the first in order winning by default."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qcc import PassContext, parse
from qcc.ir.core import Graph
from qcc.ptq.guard import OutputCheck
from qcc.ptq.ranges import TIE_DB, observe, search_method

GRAPH = """graph @g(%x: f32[1,64]) -> (%y: f32[1,64]) {
  %y = sigmoid(%x) : f32[1,64]
  return %y
}"""


@dataclass
class Scripted(OutputCheck):
    """An output check that answers a fixed SQNR per call, in order (what each method scored)."""

    answers: list[float] = field(default_factory=list)

    def sqnr_db(self, graph: Graph, settings: object) -> float:  # type: ignore[override]
        return self.answers.pop(0)


def _search(scores: list[float], tie_scores: list[float] | None) -> str:
    rng = np.random.default_rng(0)
    ctx = PassContext(calibration=[{"x": rng.normal(size=(1, 64)).astype(np.float32)} for _ in range(2)])
    graph = parse(GRAPH)
    observed = observe(graph, ctx, None, 16, histogram=True)
    tie = Scripted([], [], tie_scores) if tie_scores is not None else None
    chosen, _ = search_method(graph, ctx, observed, 8, 99.99, Scripted([], [], scores), "test", tie)
    return chosen


def test_a_clear_winner_is_kept() -> None:  # percentile, mse, minmax in that order
    assert _search([10.0, 12.0, 9.0], [0.0, 0.0]) == "mse"


def test_without_more_samples_the_first_of_a_tie_is_kept() -> None:
    assert _search([10.0 + TIE_DB / 2, 10.0, 9.0], None) == "percentile"


def test_a_tie_is_broken_on_more_samples() -> None:
    # percentile and mse tie on the held-out samples; the tie-breaking samples prefer mse
    assert _search([10.0 + TIE_DB / 2, 10.0, 9.0], [5.0, 6.0]) == "mse"


def test_only_the_tied_methods_are_judged_again() -> None:
    # minmax is 1 dB behind: not tied, so it is not run again (two tie answers suffice)
    assert _search([10.0, 10.0, 9.0], [4.0, 3.0]) == "percentile"
