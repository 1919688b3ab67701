"""Oscillation tracking, iterative freezing and the dampening regularizer on constructed cases."""

from __future__ import annotations

import numpy as np

from qcc.arith.params import weight_params
from qcc.train.lsq import WeightQuantizer
from qcc.train.oscillation import OscillationTracker, dampening, freeze_oscillating


def test_tracker_counts_only_reversed_flips() -> None:
    # one weight's integers over 7 steps: +1, -1 (reverses), +1 (reverses), stays, +1 (same way), -1 (reverses)
    history = [0, 1, 0, 1, 1, 2, 1]
    tracker = OscillationTracker.start(np.array([history[0]]), momentum=0.5)
    counts = [tracker.update(np.array([k])) for k in history[1:]]
    assert counts == [0, 1, 1, 0, 0, 1]
    # the EMA with momentum 0.5 over events 0,1,1,0,0,1
    expected = 0.0
    for event in (0, 1, 1, 0, 0, 1):
        expected = 0.5 * event + 0.5 * expected
    assert tracker.frequency[0] == expected


def test_a_weight_moving_steadily_never_oscillates() -> None:
    tracker = OscillationTracker.start(np.zeros(3))
    assert sum(tracker.update(np.full(3, float(k))) for k in range(1, 6)) == 0


def quantizer_for(w: np.ndarray) -> WeightQuantizer:
    return WeightQuantizer.from_params(w, weight_params(w, 4, 0))


def test_freezing_fixes_oscillating_weights_at_their_most_frequent_integer() -> None:
    w = np.array([[0.7, 0.1], [-0.35, 0.0]])  # two channels; max-abs steps 0.1 and 0.05
    q = quantizer_for(w)
    tracker = OscillationTracker.start(q.ints(w), momentum=0.5)
    # weight [0, 1] flips 1 <-> 2 (mostly 1); the others hold still
    for step in range(6):
        w[0, 1] = 0.2 if step % 3 == 0 else 0.1
        tracker.update(q.ints(w))
    frozen = freeze_oscillating(tracker, q, w, threshold=0.3)
    assert frozen == 1 and q.frozen.tolist() == [[False, True], [False, False]]
    assert q.frozen_ints[0, 1] == 1
    assert np.isclose(w[0, 1], 0.1)  # the latent weight moved onto its frozen integer (1 * step)
    w[0, 1] = 0.6  # whatever the latent value does now, the weight stays on its integer
    assert q.ints(w)[0, 1] == 1
    d_weight, _ = q.backward(w, np.ones_like(w))
    assert d_weight[0, 1] == 0 and d_weight[0, 0] == 1
    assert freeze_oscillating(tracker, q, w, threshold=0.3) == 0  # frozen once


def test_dampening_pulls_to_bin_centres_and_matches_its_gradient() -> None:
    w = np.array([[0.7, 0.13, -0.26], [0.3, 0.02, -0.11]])
    q = quantizer_for(w)
    term, grad = dampening(q, w)
    scaled = w / q.scale
    assert np.isclose(term, np.sum((scaled - np.rint(scaled)) ** 2))
    eps = 1e-7
    for index in np.ndindex(w.shape):
        if abs(scaled[index]) >= 7:  # each channel's largest weight sits on the grid's end, a kink
            continue
        up, down = w.copy(), w.copy()
        up[index] += eps
        down[index] -= eps
        numeric = (dampening(q, up)[0] - dampening(q, down)[0]) / (2 * eps)
        assert np.isclose(grad[index], numeric, rtol=1e-5, atol=1e-6)
    assert grad[0, 1] > 0  # 0.13 / 0.1 = 1.3: pulled down towards 1.0
