"""How good a compressed float model is on calibration samples: output SQNR against the
uncompressed model, or top-1 (%) when the calibration file carries labels."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from qcc.analysis.error import ErrorStats


def output_sqnr(reference: Mapping[str, np.ndarray], outputs: Mapping[str, np.ndarray]) -> float:
    """SQNR (dB) of all outputs together against the reference outputs."""
    stats = ErrorStats()
    for name, ref in reference.items():
        stats.add(ref, outputs[name])
    return stats.sqnr_db


def top1(outputs: Mapping[str, np.ndarray], labels: np.ndarray) -> float:
    """Top-1 (%) of the first output's argmax over its non-batch axes."""
    logits = next(iter(outputs.values()))
    predictions = logits.reshape(len(logits), -1).argmax(axis=1)
    return 100.0 * float(np.mean(predictions == labels[: len(predictions)]))


class Scorer:
    """Scores a set of model outputs: top-1 when labels are given, else SQNR vs ``reference``."""

    def __init__(self, reference: Mapping[str, np.ndarray], labels: np.ndarray | None) -> None:
        self.reference = reference
        self.labels = labels

    @property
    def unit(self) -> str:
        return "top-1 %" if self.labels is not None else "SQNR dB"

    def __call__(self, outputs: Mapping[str, np.ndarray]) -> float:
        return top1(outputs, self.labels) if self.labels is not None else output_sqnr(self.reference, outputs)
