"""The accuracy/MAC curve of a compress run as a PNG (``compress{... plot=FILE}``): the measured score
of the model at points along the greedy frontier against the fraction of MACs left, with the
target and the final compressed model marked. matplotlib is the optional ``analyze`` extra; it
draws headless (Agg) into the file only."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from qcc.analysis.plots import NOISE_FREE_DB, PlotsUnavailable, headless_pyplot
from qcc.errors import PipelineError


@dataclass(frozen=True)
class CurvePoint:
    """The model with ``macs_fraction`` of its MACs left scores ``score``."""

    macs_fraction: float
    score: float


def _drawn(score: float) -> float:
    """An infinite SQNR (a lossless point) is drawn where the analysis plots draw it."""
    return NOISE_FREE_DB if math.isinf(score) and score > 0 else score


def write_curve_png(path: Path, points: Sequence[CurvePoint], final: CurvePoint, target: float, unit: str) -> None:
    """Draw the curve into ``path``; a one-line error when matplotlib is missing."""
    try:
        plt = headless_pyplot()
    except PlotsUnavailable:
        raise PipelineError(f"compress: plot={path} needs matplotlib: pip install \"qcc[analyze]\"") from None
    ordered = sorted(points, key=lambda p: p.macs_fraction)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot([100 * p.macs_fraction for p in ordered], [_drawn(p.score) for p in ordered], "o-", label="greedy frontier (layers fitted alone)")
    ax.plot([100 * final.macs_fraction], [_drawn(final.score)], "s", color="tab:red", markersize=9,
            label="compressed model (sequential reconstruction)")
    ax.axvline(100 * target, color="gray", linestyle="--", label=f"target {target:.0%}")
    ax.set_xlabel("MACs left (% of the uncompressed model)")
    ax.set_ylabel(f"{unit} on calibration samples")
    ax.set_title("compress: accuracy against MACs")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
