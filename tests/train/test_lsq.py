"""LSQ quantizers: the forward is qcc's grid, the backward is STE plus LSQ's step gradient."""

from __future__ import annotations

import math

import numpy as np

from qcc.arith.params import activation_params, quantize_weight_ints, weight_params
from qcc.quant.fakequant import fake_quantize
from qcc.train.lsq import ActivationQuantizer, WeightQuantizer


def test_activation_forward_is_the_fake_quant_grid() -> None:
    q = activation_params(-1.0, 3.0, 8)
    x = np.linspace(-2, 4, 101, dtype=np.float32)
    lsq = ActivationQuantizer.from_params(q, elements=101)
    np.testing.assert_array_equal(lsq.forward(x), fake_quantize(x, q))


def test_activation_step_gradient() -> None:
    lsq = ActivationQuantizer(np.array(0.5), zero_point=-128, bits=8, elements=4)
    # x/s = 1.3 inside; -70 (level -198) below the grid; 200 (level 72) inside; 200/0.5... above needs > 255 - 128
    x = np.array([0.65, -35.0, 100.0, 130.0], dtype=np.float32)
    dx, ds = lsq.backward(x, np.ones(4, dtype=np.float32))
    assert dx.tolist() == [1, 0, 1, 0]
    inside = (1.0 - 1.3) + (200.0 - 200.0)
    clipped = (-128 - (-128)) + (127 - (-128))
    assert math.isclose(ds, (inside + clipped) / math.sqrt(4 * 255), rel_tol=1e-5)


def test_weight_quantizer_starts_on_qccs_grid() -> None:
    w = np.random.default_rng(0).standard_normal((3, 2, 3, 3))
    lsq = WeightQuantizer.from_params(w, weight_params(w, 4, 0))
    ints, _, scale = quantize_weight_ints(w, 4, 0)
    np.testing.assert_array_equal(lsq.ints(w), ints)
    np.testing.assert_allclose(lsq.forward(w), ints * scale)


def test_learned_steps_stay_representable_by_quantize() -> None:
    """After any step change, quantize (max-abs scales) must see the same grid."""
    w = np.random.default_rng(1).standard_normal((4, 8))
    lsq = WeightQuantizer.from_params(w, weight_params(w, 4, 0))
    lsq.scale *= np.array([[0.5], [1.3], [1.0], [2.0]])  # some steps grew past max|w|/7
    lsq.keep_representable(w)
    exported = lsq.export(w)
    ints, _, _ = quantize_weight_ints(exported, 4, 0)
    np.testing.assert_array_equal(ints, lsq.ints(w))
    assert (np.abs(lsq.ints(w)).max(axis=1) == 7).all()
