"""Weight oscillations in QAT and the two cures of Nagel et al., "Overcoming Oscillations in
Quantization-Aware Training" (ICML 2022, arXiv:2203.11086).

With the straight-through estimator a latent weight near a rounding boundary can flip its integer
back and forth between two adjacent levels. An *oscillation* is counted at a step where a weight's
integer changes in the direction opposite to its previous change; its frequency is an exponential
moving average of those events. *Dampening* adds a regularizer pulling latent weights to the centre
of their bin; *iterative freezing* fixes a weight whose frequency exceeds a threshold at the integer
it spent most time on (the rounded EMA of its integer values).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qcc.train.lsq import WeightQuantizer


@dataclass
class OscillationTracker:
    """Per-weight oscillation state of one weight tensor."""

    previous: np.ndarray  # last step's integers
    direction: np.ndarray  # sign of the last change (0: none yet)
    frequency: np.ndarray  # EMA of oscillation events
    mean_int: np.ndarray  # EMA of the integer values (the state a frozen weight keeps)
    momentum: float = 0.01

    @classmethod
    def start(cls, ints: np.ndarray, momentum: float = 0.01) -> OscillationTracker:
        ints = np.asarray(ints, dtype=np.float64)
        return cls(ints.copy(), np.zeros_like(ints), np.zeros_like(ints), ints.copy(), momentum)

    def update(self, ints: np.ndarray) -> int:
        """Record one step's integers; return how many weights oscillated in it."""
        change = np.sign(ints - self.previous)
        moved = change != 0
        oscillated = moved & (self.direction != 0) & (change != self.direction)
        self.direction = np.where(moved, change, self.direction)
        self.previous = np.array(ints, dtype=np.float64)
        m = self.momentum
        self.frequency = m * oscillated + (1 - m) * self.frequency
        self.mean_int = m * self.previous + (1 - m) * self.mean_int
        return int(oscillated.sum())


def freeze_oscillating(tracker: OscillationTracker, quantizer: WeightQuantizer, latent: np.ndarray, threshold: float) -> int:
    """Freeze every not yet frozen weight whose oscillation frequency exceeds ``threshold`` at its
    most frequent integer; its latent value moves there too. Returns how many were frozen now."""
    lo, hi = quantizer.levels
    new = (tracker.frequency > threshold) & ~quantizer.frozen
    if new.any():
        quantizer.frozen_ints[new] = np.clip(np.rint(tracker.mean_int[new]), lo, hi)
        quantizer.frozen |= new
        target = quantizer.frozen_ints * quantizer.scale
        latent[new] = np.broadcast_to(target, latent.shape)[new]
    return int(new.sum())


def dampening(quantizer: WeightQuantizer, latent: np.ndarray) -> tuple[float, np.ndarray]:
    """The dampening regularizer ``sum((w/s - round(w/s))^2)`` over weights inside the grid and its
    gradient with respect to the latent weights (the step is held constant: the term should move
    weights to their bin centres, not stretch the grid)."""
    lo, hi = quantizer.levels
    scaled = quantizer.scaled(latent)
    inside = (scaled >= lo) & (scaled <= hi) & ~quantizer.frozen
    distance = np.where(inside, scaled - np.rint(scaled), 0.0)
    return float(np.sum(distance**2)), 2.0 * distance / quantizer.scale
