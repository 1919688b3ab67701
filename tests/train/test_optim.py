"""The optimizers' update rules on hand-computable cases."""

from __future__ import annotations

import numpy as np

from qcc.train.optim import Optimizer
from qcc.train.schedule import cosine


def test_adam_first_step_moves_each_parameter_by_the_learning_rate() -> None:
    # bias-corrected first and second moments of one gradient g are g and g^2: the step is lr * sign(g)
    p = np.array([1.0, 2.0, 3.0])
    Optimizer([p], "adam").step([np.array([0.5, -4.0, 1e-3])], [0.1])
    np.testing.assert_allclose(p, [0.9, 2.1, 2.9], rtol=1e-6)


def test_sgd_momentum_accumulates_the_velocity() -> None:
    p = np.array([0.0])
    opt = Optimizer([p], "sgd", momentum=0.5)
    opt.step([np.array([1.0])], [0.1])  # v = 1, p = -0.1
    opt.step([np.array([1.0])], [0.1])  # v = 1.5, p = -0.25
    np.testing.assert_allclose(p, [-0.25])


def test_cosine_schedule_ends() -> None:
    assert cosine(0.0, 1e-4, 0.0) == 0.0 and np.isclose(cosine(0.0, 1e-4, 1.0), 1e-4)
    assert np.isclose(cosine(0.04, 0.01, 0.5), 0.025)
