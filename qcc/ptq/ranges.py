"""Activation ranges from calibration data: observe every float activation once, then give it the
range an observer method chooses.

The calibrate pass is the main user; the guarded steps that change activation ranges before
calibration (cross-layer equalization) calibrate a trial copy of the graph the same way, so the
copy is judged on exactly the ranges calibrate would choose.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qcc.arith.params import activation_params
from qcc.calibration.activations import observed_values, whole_range_values
from qcc.calibration.observers import HistogramObserver
from qcc.calibration.source import calibration_set
from qcc.interp.batching import batch_size, batches, plan_batching, run_batch, stack_samples
from qcc.interp.threads import limited_blas_threads
from qcc.ir.core import Graph, Value
from qcc.ir.printer import value_ref
from qcc.ir.serialize import copy_graph
from qcc.ir.types import TensorType
from qcc.pipeline import PassContext
from qcc.ptq.guard import GUARD_SAMPLES, OutputCheck, SampleSplit, split_samples
from qcc.ptq.settings import quant_settings
from qcc.quant.scheme import scheme_of

SEARCHED_METHODS = ("percentile", "mse", "minmax")
"""What ``search`` tries, in this order (a tie that more samples cannot break keeps the earlier one)."""

TIE_DB = 0.05
"""Methods whose output SQNR on the judging samples is within this of the best are tied: a few held-out
samples cannot tell them apart, and the tie is broken on more samples (``tie_breaking_check``)."""


def resolved_method(method: str, bits: int) -> str:
    """The observer choice ``method`` stands for at an activation width (``auto`` depends on it)."""
    if method != "auto":
        return method
    return "percentile" if bits <= 8 else "minmax"


@dataclass
class Observed:
    """Every float activation of a graph with its observer, after the calibration samples ran."""

    values: list[Value]
    observers: dict[int, HistogramObserver]
    samples: int
    batch: int  # samples per interpreter call
    blas_threads: int | None
    unbatched_reason: str  # why samples ran one at a time ("" when batched)
    whole_range: set[int]  # ids of the values that keep min-max under every method

    def annotate(self, method: str, bits: int, percentile: float) -> None:
        """Give every observed activation the quantization parameters of ``method``'s range (min-max
        for the values qcc.calibration.activations.whole_range_values names)."""
        for value in self.values:
            chosen = "minmax" if id(value) in self.whole_range else method
            lo, hi = observer_range(self.observers[id(value)], chosen, bits, percentile)
            value.type = TensorType(value.type.dtype, value.type.shape, activation_params(lo, hi, bits))


def observe(graph: Graph, ctx: PassContext, limit: int | None, memory_mb: int, histogram: bool) -> Observed:
    """Stream up to ``limit`` calibration samples through the float graph, in batches of as many as
    fit in ``memory_mb`` MiB of activations; each observer sees the samples in order, so the ranges
    do not depend on the batch size. Memory is flat in the number of samples."""
    data = calibration_set(graph, ctx, limit)
    values = observed_values(graph)
    observers = {id(v): HistogramObserver(histogram=histogram, what=f"activation {value_ref(v.name)}") for v in values}
    plan = plan_batching(graph)
    size = batch_size(graph, plan, memory_mb << 20)
    n = 0
    with limited_blas_threads() as threads:
        for group in batches(ctx.progress.bar(data, total=data.count(), desc="calibrate"), size):
            count = len(group)

            def keep(value: Value, array: np.ndarray, count: int = count) -> None:
                obs = observers.get(id(value))
                if obs is None:
                    return
                if plan.is_batched(value):
                    obs.update_batch(array, count)
                else:  # the same for every sample
                    for _ in range(count):
                        obs.update(array)

            run_batch(graph, plan, stack_samples(group), count, observer=keep)
            n += count
    return Observed(values, observers, n, size, threads, "" if plan.ok else plan.reason or "", whole_range_values(graph))


def observer_range(obs: HistogramObserver, method: str, bits: int, percentile: float) -> tuple[float, float]:
    if method == "minmax":
        return obs.minmax()
    if method == "percentile":
        return obs.percentile(percentile)
    if method == "mse":
        return obs.mse(bits, symmetric=bits > 8)
    return obs.entropy(bits)


def search_method(graph: Graph, ctx: PassContext, observed: Observed, bits: int, percentile: float, check: OutputCheck,
                  judged_on: str, tie_check: OutputCheck | None = None) -> tuple[str, float]:
    """Annotate with each of SEARCHED_METHODS in turn and keep the one whose integer network is closest
    to the float one at the outputs on ``check``'s samples; returns the method kept and its SQNR.
    Methods within TIE_DB of the best are judged again on ``tie_check``'s samples when given.

    No one observer wins everywhere: on docs/zoo.md's trained models percentile beat mse by 1 to 3 dB
    on the MTCNN nets while mse beat it by 6 dB on the Paddle classifier; the outputs are what the
    user measures, so they decide."""
    scores: dict[str, float] = {}
    for method in SEARCHED_METHODS:
        observed.annotate(method, bits, percentile)
        scores[method] = check.sqnr_db(graph, quant_settings(graph, ctx))
        ctx.log(f"calibrate: search: {method} gives {scores[method]:.2f} dB output SQNR on {judged_on}")
    best = max(SEARCHED_METHODS, key=lambda m: scores[m])  # max keeps the first of equals
    tied = [m for m in SEARCHED_METHODS if scores[m] >= scores[best] - TIE_DB]
    if len(tied) > 1 and tie_check is not None:
        again: dict[str, float] = {}
        for method in tied:
            observed.annotate(method, bits, percentile)
            again[method] = tie_check.sqnr_db(graph, quant_settings(graph, ctx))
        best = max(tied, key=lambda m: again[m])
        shown = ", ".join(f"{m} {again[m]:.2f}" for m in tied)
        ctx.log(f"calibrate: search: tie within {TIE_DB} dB broken on {len(tie_check.samples)} more samples: {shown} dB")
    observed.annotate(best, bits, percentile)
    return best, scores[best]


def tie_breaking_check(graph: Graph, ctx: PassContext, split: SampleSplit) -> OutputCheck | None:
    """The samples a tie between searched methods is judged on: the first GUARD_SAMPLES calibration
    samples, which the held-out judges are not among (None when the judges already are them).

    Where the held-out samples barely exercise the tensors the methods differ on, every method scores
    about the same on them, and keeping the first in SEARCHED_METHODS order is a guess; more samples
    turn it into a measurement."""
    if not split.held_out:
        return None
    return OutputCheck.of(graph, [dict(feeds) for feeds in calibration_set(graph, ctx, GUARD_SAMPLES)])


@dataclass
class CalibratedCheck:
    """Judges a graph that is not calibrated yet by what it will become: a copy is calibrated the way
    the calibrate pass will do it (the scheme's method, default options, on the learning samples),
    lowered, and run by the integer reference on the held-out samples against the float model."""

    split: SampleSplit
    check: OutputCheck

    @staticmethod
    def of(graph: Graph, ctx: PassContext) -> CalibratedCheck:
        split = split_samples(graph, ctx)
        return CalibratedCheck(split, OutputCheck.of(graph, split.judge))

    @property
    def judged_on(self) -> str:
        return f"{len(self.split.judge)} {'held-out ' if self.split.held_out else ''}calibration samples"

    def sqnr_db(self, graph: Graph, ctx: PassContext, percentile: float = 99.99, memory_mb: int = 256) -> float:
        trial = copy_graph(graph)
        bits = scheme_of(trial, ctx).activation_bits
        method = resolved_method(scheme_of(trial, ctx).calibration, bits)
        observed = observe(trial, ctx, self.split.learn_limit, memory_mb, histogram=method != "minmax")
        if method == "search":
            tie_check = tie_breaking_check(trial, ctx, self.split)
            return search_method(trial, ctx, observed, bits, percentile, self.check, self.judged_on, tie_check)[1]
        observed.annotate(method, bits, percentile)
        return self.check.sqnr_db(trial, quant_settings(trial, ctx))
