"""The settings of one QAT run, checked once before any work (one error line per mistake)."""

from __future__ import annotations

from dataclasses import dataclass

from qcc.errors import InputError

OPTIMIZERS = ("adam", "sgd")
METHODS = ("lsq", "dampen", "freeze")


@dataclass(frozen=True)
class TrainConfig:
    method: str = "lsq"
    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-4  # weights and biases
    step_lr: float = 1e-3  # LSQ step sizes, as a fraction of each starting step (trainer.relative_lr)
    optimizer: str = "adam"
    seed: int = 0
    dampen_weight: float = 1e-4  # lambda at the end of its cosine rise from 0 (method dampen)
    freeze_start: float = 0.04  # freezing threshold on the EMA oscillation frequency, cosine-annealed
    freeze_end: float = 0.01  # from freeze_start down to freeze_end (method freeze)
    ema_momentum: float = 0.01

    def check(self) -> None:
        if self.method not in METHODS:
            raise InputError(f"--method {self.method}: choose one of {', '.join(METHODS)}")
        if self.optimizer not in OPTIMIZERS:
            raise InputError(f"--optimizer {self.optimizer}: choose one of {', '.join(OPTIMIZERS)}")
        for name, count in (("--epochs", self.epochs), ("--batch-size", self.batch_size)):
            if count < 1:
                raise InputError(f"{name} {count} must be >= 1")
        for name, value in (("--lr", self.lr), ("--step-lr", self.step_lr), ("--dampen-weight", self.dampen_weight)):
            if not value >= 0:
                raise InputError(f"{name} {value} must be >= 0")
        if not 0 < self.ema_momentum <= 1:
            raise InputError(f"EMA momentum {self.ema_momentum} must be in (0, 1]")
