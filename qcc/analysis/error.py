"""Signal-to-quantization-noise sums, kept running so a report over many samples needs no memory:
one definition of SQNR for qcc eval, the PTQ output guard and the benchmarks."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass
class ErrorStats:
    """Running signal/noise sums of one tensor."""

    signal: float = 0.0
    noise: float = 0.0
    max_abs: float = 0.0

    def add(self, reference: np.ndarray, value: np.ndarray) -> None:
        ref = reference.astype(np.float64)
        diff = value.astype(np.float64) - ref
        self.signal += float(np.sum(ref * ref))
        self.noise += float(np.sum(diff * diff))
        self.max_abs = max(self.max_abs, float(np.max(np.abs(diff))) if diff.size else 0.0)

    @property
    def sqnr_db(self) -> float:
        if self.noise == 0.0:
            return math.inf
        if self.signal == 0.0:
            return -math.inf
        return 10.0 * math.log10(self.signal / self.noise)
