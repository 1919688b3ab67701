"""The histogram observer bins every value at floor((x - lo) / width), computed in float64 and
clamped to the bins, whatever the order and spread of the samples (the ranges calibration chooses
are read off these counts, so a faster binning must give the same ones)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from qcc.calibration import observers
from qcc.calibration.observers import HistogramObserver

BINS = 64
_values = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, width=32)
_samples = st.lists(arrays(np.float32, st.integers(1, 300), elements=_values), min_size=1, max_size=6)


def _bins_by_definition(observer: HistogramObserver, x: np.ndarray) -> np.ndarray:
    lo, width = observer.lo, observer.width
    return np.array([min(max(int(np.floor((float(v) - lo) / width)), 0), observer.bins - 1) for v in x.reshape(-1)], np.int64)


@settings(max_examples=60, deadline=None)
@given(_samples)
def test_every_value_goes_to_the_bin_of_its_definition(samples: list[np.ndarray]) -> None:
    observer = HistogramObserver(bins=BINS)
    observer.update(samples[0])  # the first sample sets the bins: its counts are its binning
    np.testing.assert_array_equal(observer.counts, np.bincount(_bins_by_definition(observer, samples[0]), minlength=BINS))
    for x in samples[1:]:
        observer.update(x)  # may widen the histogram first (merging bin pairs, exact)
        np.testing.assert_array_equal(observer._bin_indices(x), _bins_by_definition(observer, x))
    assert observer.counts.sum() == sum(x.size for x in samples)
    assert observer.min == min(float(x.min()) for x in samples) and observer.max == max(float(x.max()) for x in samples)


def test_binning_in_chunks_counts_what_one_pass_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    samples = [np.maximum(rng.standard_normal(1000).astype(np.float32) * scale, 0) for scale in (1.0, 3.0, 0.5, 10.0)]
    whole = HistogramObserver(bins=BINS)
    for x in samples:
        whole.update(x)
    monkeypatch.setattr(observers, "BIN_CHUNK", 7)  # 143 chunks per sample, the last one short
    chunked = HistogramObserver(bins=BINS)
    for x in samples:
        chunked.update(x)
    np.testing.assert_array_equal(chunked.counts, whole.counts)
    assert (chunked.lo, chunked.width) == (whole.lo, whole.width)
