"""Optimizers updating numpy parameter arrays in place (the training loop owns no framework)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Optimizer:
    """SGD with momentum (``kind='sgd'``) or Adam (Kingma & Ba, arXiv:1412.6980). The state of
    each parameter is keyed by its position in ``params``, so a run is a pure function of the
    gradients it is given."""

    params: list[np.ndarray]
    kind: str = "adam"
    momentum: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    steps: int = 0
    _first: list[np.ndarray] = field(default_factory=list)
    _second: list[np.ndarray] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._first = [np.zeros_like(p) for p in self.params]
        self._second = [np.zeros_like(p) for p in self.params] if self.kind == "adam" else []

    def step(self, grads: list[np.ndarray], lrs: list[float]) -> None:
        self.steps += 1
        for i, (p, g, lr) in enumerate(zip(self.params, grads, lrs)):
            g = np.asarray(g, dtype=p.dtype).reshape(p.shape)
            m = self._first[i]
            if self.kind == "sgd":
                m *= self.momentum
                m += g
                p -= lr * m
                continue
            v = self._second[i]
            m *= self.momentum
            m += (1 - self.momentum) * g
            v *= self.beta2
            v += (1 - self.beta2) * g * g
            m_hat = m / (1 - self.momentum**self.steps)
            v_hat = v / (1 - self.beta2**self.steps)
            p -= lr * m_hat / (np.sqrt(v_hat) + self.eps)
