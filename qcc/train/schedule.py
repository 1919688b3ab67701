"""Schedules over training progress (0 at the first step, 1 at the last)."""

from __future__ import annotations

import math


def cosine(start: float, end: float, progress: float) -> float:
    """Half a cosine from ``start`` to ``end``: the dampening weight rises this way and the freezing
    threshold falls this way (Nagel et al. 2022 anneal both)."""
    progress = min(max(progress, 0.0), 1.0)
    return end + (start - end) * 0.5 * (1.0 + math.cos(math.pi * progress))
