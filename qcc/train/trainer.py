"""The QAT loop: start from a PTQ recipe's calibrated float graph, fine-tune weights, biases and
LSQ step sizes on labelled data with the integer grids simulated, optionally dampen or freeze
oscillating weights, validate every epoch, and hand back the graph with what was learned.

Batch norm is trained folded (``fold-batchnorm`` runs before training, as in every qcc recipe): the
folded weights are what the integer model holds, so there are no batch statistics that oscillating
weights could corrupt and none to re-estimate afterwards (the failure Nagel et al. describe needs
an unfolded BN during training).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from qcc.errors import InputError, PipelineError
from qcc.ir.core import Graph
from qcc.pipeline import PassContext, PassManager, Progress, format_pipeline, parse_pipeline
from qcc.recipes import recipe_pipeline
from qcc.targets import TARGETS, Target, get_target
from qcc.train.backward import softmax_cross_entropy
from qcc.train.batches import LabelledSet
from qcc.train.config import TrainConfig
from qcc.train.model import TrainableGraph
from qcc.train.optim import Optimizer
from qcc.train.oscillation import OscillationTracker, dampening, freeze_oscillating
from qcc.train.schedule import cosine


@dataclass
class EpochReport:
    epoch: int
    loss: float
    train_top1: float
    val_top1: float | None
    oscillations: int  # integer flips that reversed the previous flip, summed over the epoch's steps
    frozen: int  # weights frozen so far
    regularizer: float  # dampening term at the epoch's last step (0 without dampening)

    def line(self) -> str:
        val = f"  val top-1 {100 * self.val_top1:.2f}%" if self.val_top1 is not None else ""
        extra = f"  frozen {self.frozen}" if self.frozen else ""
        extra += f"  dampening {self.regularizer:.4g}" if self.regularizer else ""
        return f"epoch {self.epoch}: loss {self.loss:.4f}  train top-1 {100 * self.train_top1:.2f}%{val}  oscillations {self.oscillations}{extra}"


def choose_target(weight_bits: int, activation_bits: int, name: str | None) -> Target:
    """The named target, else the first that runs these widths with per-channel weights."""
    if name:
        target = get_target(name)
        target.check_widths(weight_bits, activation_bits)
        return target
    for target in TARGETS.values():
        if weight_bits in target.weight_bits and activation_bits in target.activation_bits and target.per_channel:
            return target
    raise InputError(f"no target runs {weight_bits}-bit weights with {activation_bits}-bit activations (see qcc targets)")


def start_pipeline(recipe: str, weight_bits: int, activation_bits: int, per_channel: bool = True) -> str:
    """A PTQ recipe's pipeline up to (not including) ``quantize``: the calibrated float graph QAT
    starts from (``fast``: round to nearest; ``adaround``: where AdaRound ends)."""
    name = recipe.strip()
    if "{" in name:
        raise PipelineError(f"--init '{recipe}': give a recipe name only; widths come from --weights/--acts")
    options = f"weights={weight_bits} acts={activation_bits} per-channel={'true' if per_channel else 'false'}"
    passes = parse_pipeline(recipe_pipeline(f"{name}{{{options}}}"))
    return format_pipeline([p for p in passes if getattr(p, "name", "") != "quantize"])


def prepare(graph: Graph, pipeline: str, ctx: PassContext) -> Graph:
    """The graph run through ``pipeline`` (calibration data and target from ``ctx``)."""
    return PassManager(parse_pipeline(pipeline)).run(graph, ctx)


def top1(model: TrainableGraph, data: LabelledSet, batch_size: int = 256) -> float:
    hits = 0
    for x, y in data.in_order(batch_size):
        hits += int((model.forward(x).reshape(len(y), -1).argmax(axis=1) == y).sum())
    return hits / len(data)


def relative_lr(rate: float, scale: np.ndarray) -> float:
    """A step size's learning rate in its own units: Adam moves a parameter by about ``lr`` a step
    whatever its gradient, and step sizes span orders of magnitude (1e-3 for an activation, 1e-1
    for a per-tensor weight grid), so ``rate`` is a fraction of the starting step."""
    return rate * float(np.mean(scale))


@dataclass
class Trainer:
    model: TrainableGraph
    config: TrainConfig
    log: Callable[[str], None] = lambda message: None
    progress: Progress = field(default_factory=lambda: Progress(enabled=False))
    trackers: dict[int, OscillationTracker] = field(default_factory=dict)

    def __post_init__(self) -> None:
        c = self.config
        layers = list(self.model.layers.values())
        self.params: list[np.ndarray] = []
        self.lrs: list[float] = []
        for layer in layers:
            self.params += [layer.weight, layer.quantizer.scale]
            self.lrs += [c.lr, relative_lr(c.step_lr, layer.quantizer.scale)]
            if layer.bias is not None:
                self.params.append(layer.bias)
                self.lrs.append(c.lr)
            self.trackers[id(layer.node)] = OscillationTracker.start(layer.quantizer.ints(layer.weight), c.ema_momentum)
        self.act_ids = list(self.model.acts)
        self.params += [self.model.acts[i].scale for i in self.act_ids]
        self.lrs += [relative_lr(c.step_lr, self.model.acts[i].scale) for i in self.act_ids]
        self.optimizer = Optimizer(self.params, c.optimizer)

    def fit(self, data: LabelledSet, val: LabelledSet | None) -> list[EpochReport]:
        c = self.config
        rng = np.random.default_rng(c.seed)
        steps_per_epoch = -(-len(data) // c.batch_size)
        total = steps_per_epoch * c.epochs
        reports = []
        step = 0
        for epoch in range(1, c.epochs + 1):
            losses, hits, oscillations, regularizer = [], 0, 0, 0.0
            for x, y in self.progress.bar(data.shuffled(c.batch_size, rng), total=steps_per_epoch, desc=f"epoch {epoch}"):
                progress = step / max(total - 1, 1)
                loss, correct, regularizer = self._step(x, y, progress)
                oscillations += self._track(progress)
                losses.append(loss * len(y))
                hits += correct
                step += 1
            frozen = sum(int(layer.quantizer.frozen.sum()) for layer in self.model.layers.values())
            report = EpochReport(epoch, sum(losses) / len(data), hits / len(data), top1(self.model, val) if val is not None else None,
                                 oscillations, frozen, regularizer)
            self.log(report.line())
            reports.append(report)
        return reports

    def _step(self, x: np.ndarray, y: np.ndarray, progress: float) -> tuple[float, int, float]:
        tape: list = []
        logits = self.model.forward(x, tape)
        loss, d_logits = softmax_cross_entropy(logits.astype(np.float64), y)
        grads = self.model.backward(tape, d_logits)
        regularizer = 0.0
        weight = cosine(0.0, self.config.dampen_weight, progress) if self.config.method == "dampen" else 0.0
        flat: list[np.ndarray] = []
        for layer in self.model.layers.values():
            key = id(layer.node)
            d_weight = grads.weights[key]
            if weight:
                term, d_term = dampening(layer.quantizer, layer.weight)
                regularizer += weight * term
                d_weight = d_weight + weight * d_term
            flat += [d_weight, grads.steps[key]]
            if layer.bias is not None:
                flat.append(grads.biases[key])
        flat += [np.asarray(grads.act_scales.get(i, 0.0)) for i in self.act_ids]
        self.optimizer.step(flat, self.lrs)
        for layer in self.model.layers.values():
            q = layer.quantizer
            q.keep_representable(layer.weight)
            if q.frozen.any():  # momentum must not drag a frozen weight off its integer
                layer.weight[q.frozen] = np.broadcast_to(q.frozen_ints * q.scale, layer.weight.shape)[q.frozen]
        for i in self.act_ids:
            np.maximum(self.model.acts[i].scale, 1e-8, out=self.model.acts[i].scale)
        correct = int((logits.reshape(len(y), -1).argmax(axis=1) == y).sum())
        return loss, correct, regularizer

    def _track(self, progress: float) -> int:
        count = 0
        threshold = cosine(self.config.freeze_start, self.config.freeze_end, progress)
        for layer in self.model.layers.values():
            tracker = self.trackers[id(layer.node)]
            count += tracker.update(layer.quantizer.ints(layer.weight))
            if self.config.method == "freeze":
                freeze_oscillating(tracker, layer.quantizer, layer.weight, threshold)
        return count
