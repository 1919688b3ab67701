"""Tensor statistics and the INT8-versus-FP8 comparison: the published finding (Kuzmin et al. 2022,
arXiv:2208.09225) that integers win on uniform and Gaussian tensors and the exponent wins on
outlier-heavy ones."""

from __future__ import annotations

import numpy as np
import pytest

from qcc.analysis.tensor_stats import best_format, format_snrs, histogram, int_snr_db, tensor_stats

RNG = np.random.default_rng(7)


def test_uniform_and_gaussian_favour_int8_over_e4m3() -> None:
    for x in (RNG.uniform(-1, 1, 20000), RNG.standard_normal(20000)):
        snrs = format_snrs(x)
        assert snrs["INT8"]["snr_db"] > snrs["E4M3"]["snr_db"] + 3
    assert best_format(format_snrs(RNG.uniform(-1, 1, 20000))) == "INT8"


def test_injected_outliers_favour_e4m3() -> None:
    x = RNG.standard_normal(20000)
    x[RNG.choice(x.size, 20, replace=False)] *= 60  # 0.1% outliers, 60x the bulk
    snrs = format_snrs(x)
    assert snrs["E4M3"]["snr_db"] > snrs["INT8"]["snr_db"] + 3
    assert best_format(snrs) != "INT8"
    stats = tensor_stats(x, (-4.0, 4.0))
    assert stats.kurtosis > 30 and stats.max_over_std > 20
    assert 0 < stats.clipped < 0.01


def test_per_channel_int8_helps_channels_of_different_scales() -> None:
    w = RNG.standard_normal((8, 64)) * np.logspace(-3, 0, 8)[:, None]
    snrs = format_snrs(w, channel_axis=0)
    assert snrs["INT8-per-channel"]["snr_db"] > snrs["INT8"]["snr_db"] + 5  # the SNR is dominated by the largest channel


def test_statistics_of_a_known_tensor() -> None:
    x = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    s = tensor_stats(x, (-1.5, 1.5))
    assert (s.minimum, s.maximum) == (-2.0, 2.0)
    assert s.std == pytest.approx(np.sqrt(2.0))
    assert s.kurtosis == pytest.approx(np.mean(x**4) / 4.0)
    assert s.clipped == pytest.approx(0.4)
    h = histogram(x, (-3.0, 1.0), bins=4)
    assert h["edges"][0] == -3.0 and h["edges"][-1] == 2.0 and sum(h["counts"]) == 5


def test_sixteen_bit_weights_are_not_wrapped() -> None:
    x = RNG.standard_normal(1000)
    assert int_snr_db(x, 16) > int_snr_db(x, 8) + 40
