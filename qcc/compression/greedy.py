"""Greedy per-layer compression-ratio selection, as AIMET describes it
(https://quic.github.io/aimet-pages/AimetDocs/user_guide/greedy_compression_ratio_selection.html):
first every candidate of every layer is scored with only that layer compressed, then one score
threshold is chosen: each layer takes its cheapest candidate scoring at least the threshold (or
stays as it is), and the highest threshold whose choices fit the MAC budget wins. A high threshold
means every layer is compressed only as far as it hurts little on its own; lowering it buys MACs
where they cost the least score.

One threshold moves every layer at once, so the selection it gives can land well under the budget
(the next threshold up overshoots it). ``fill`` then spends the slack: it gives the layer whose
choice scores worst the best-scoring less compressed candidate (or its original) that still fits,
and repeats until nothing fits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from qcc.compression.candidates import Candidate
from qcc.errors import PipelineError


@dataclass(frozen=True)
class Selection:
    """The candidates chosen (one per compressed layer, in graph order) at ``threshold``."""

    chosen: tuple[Candidate, ...]
    threshold: float
    macs: int


# MACs of the model with a set of candidates applied (qcc.compression.mac_budget.selection_macs)
MacCount = Callable[[Sequence[Candidate]], int]


def choose_at(columns: list[list[Candidate]], threshold: float, macs_of: MacCount) -> Selection:
    """Per layer the candidate saving the most MACs among those scoring >= ``threshold``."""
    chosen = []
    for column in columns:
        good = [c for c in column if c.score >= threshold]
        if good:
            chosen.append(max(good, key=lambda c: (c.macs_saved, c.score)))
    return Selection(tuple(chosen), threshold, macs_of(chosen))


def frontier(columns: list[list[Candidate]], macs_of: MacCount) -> list[Selection]:
    """The selection at every distinct candidate score, highest threshold first (MACs fall as it
    drops): the score/MAC curve the search walks."""
    thresholds = sorted({c.score for column in columns for c in column}, reverse=True)
    return [choose_at(columns, t, macs_of) for t in thresholds]


def select(columns: list[list[Candidate]], macs_of: MacCount, total_macs: int, budget: int) -> Selection:
    """The highest-threshold selection within ``budget`` MACs, or a one-line error giving the
    fewest MACs the candidates can reach."""
    for selection in frontier(columns, macs_of):
        if selection.macs <= budget:
            return selection
    floor = choose_at(columns, float("-inf"), macs_of).macs
    raise PipelineError(f"compress: the budget of {budget:,} MACs is out of reach: the candidates reach {floor:,} of {total_macs:,} at most "
                        f"({floor / total_macs:.1%}); allow smaller ratios or more methods")


def _upgrades(column: list[Candidate], current: Candidate) -> list[Candidate | None]:
    """Less compressed choices for a layer that score better than ``current``, best first; None
    (leave the layer as it is) first of all."""
    better = [c for c in column if c.macs_saved < current.macs_saved and c.score > current.score]
    return [None, *sorted(better, key=lambda c: -c.score)]


def fill(selection: Selection, columns: list[list[Candidate]], macs_of: MacCount, budget: int) -> Selection:
    """``selection`` with the MACs it left under ``budget`` given back, worst-scoring layer first."""
    chosen: dict[int, Candidate | None] = {id(c.layer): c for c in selection.chosen}

    def picks(replacing: int | None = None, by: Candidate | None = None) -> list[Candidate]:
        out = [by if id(col[0].layer) == replacing else chosen.get(id(col[0].layer)) for col in columns]
        return [c for c in out if c is not None]

    improved = True
    while improved:
        improved = False
        for current in sorted((c for c in chosen.values() if c is not None), key=lambda c: c.score):
            column = next(col for col in columns if col[0].layer is current.layer)
            option = next((o for o in _upgrades(column, current) if macs_of(picks(id(current.layer), o)) <= budget), current)
            if option is not current:
                chosen[id(current.layer)] = option
                improved = True
                break
    final = picks()
    return Selection(tuple(final), selection.threshold, macs_of(final))
