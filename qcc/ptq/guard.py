"""Keep a weight-changing PTQ step only where it helps the network.

Bias correction and AdaRound each optimize a per-layer proxy (the expected output shift, a layer's
reconstruction error). On some networks the layers' gains do not add up: the zoo measured AdaRound
lowering mtcnn-rnet's output SQNR from 29.1 to 25.6 dB. A recipe must never be worse than plain
rounding, so the step is judged where it matters, at the network's outputs: the integer network
the quantize pass would build from the graph as it is (lowered and run by the integer reference)
against the float network on a few calibration samples, before and after; if after is worse, the
weights and biases go back.

Why the integer reference and not the fake-quant simulation the steps themselves learn with: the two
differ at the outputs by more than the choices they judge. On mtcnn-onet's held-out calibration
samples fake-quant gave percentile/mse/minmax ranges 34.6/37.7/32.2 dB, the integer network
37.7/37.1/38.1 dB: fake-quant ranked them in another order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from qcc.analysis.error import ErrorStats
from qcc.backends.numpy_int.executor import run_integer
from qcc.calibration.source import calibration_set
from qcc.interp.interpreter import run
from qcc.interp.threads import limited_blas_threads
from qcc.ir.core import Graph, Node
from qcc.ir.rewrite import set_const_operand
from qcc.quant.lowering import Lowerer, Settings

Feeds = dict[str, np.ndarray]


@dataclass
class OutputCheck:
    """The float network's outputs on a few samples, and the integer network's SQNR against them."""

    samples: Sequence[Feeds]
    reference: list[dict[str, np.ndarray]]

    @staticmethod
    def of(graph: Graph, samples: Sequence[Feeds]) -> OutputCheck:
        with limited_blas_threads():
            return OutputCheck(samples, [run(graph, feeds) for feeds in samples])

    def sqnr_db(self, graph: Graph, settings: Settings) -> float:
        """Output SQNR of the integer network the quantize pass would build from ``graph`` now (its
        inputs and outputs keep the float graph's names, so the samples and references apply)."""
        quantized = Lowerer(graph, settings).run()
        stats = ErrorStats()
        with limited_blas_threads():  # BLAS threads beyond the idle cores stall (qcc.interp.threads)
            for feeds, ref in zip(self.samples, self.reference):
                got = run_integer(quantized, feeds)
                for name, r in ref.items():
                    stats.add(np.asarray(r), np.asarray(got[name]))
        return stats.sqnr_db


GUARD_SAMPLES = 8
"""Calibration samples the output check runs (three runs each: float, before, after)."""


HOLD_OUT_FROM = 8
"""With at least this many calibration samples, the check runs on samples the step did not learn from."""


@dataclass(frozen=True)
class SampleSplit:
    """Which calibration samples a guarded step learns from and which judge it."""

    learn_limit: int | None  # the step uses the first this-many samples (None: all)
    judge: list[Feeds]
    held_out: bool  # the judging samples are not among the learning ones


def split_samples(graph: Graph, ctx: object, limit: int | None = None) -> SampleSplit:
    """Hold out the last quarter of the calibration samples (2 to GUARD_SAMPLES of them) to judge the step.

    Judged on the samples it learned from, a step that overfits them looks better than it is: AdaRound
    fitted to 16 samples raised mtcnn-rnet's output SQNR on them while lowering it on other images
    from 29.1 to 25.6 dB. With fewer than HOLD_OUT_FROM samples (or a stream of unknown length) none
    can be spared, and the step is judged on the first GUARD_SAMPLES it also learns from."""
    data = calibration_set(graph, ctx, limit)
    total = data.count()
    if total is None or total < HOLD_OUT_FROM:
        return SampleSplit(limit, [dict(feeds) for feeds in calibration_set(graph, ctx, GUARD_SAMPLES)], False)
    held = min(GUARD_SAMPLES, max(2, total // 4))
    judge = [dict(feeds) for index, feeds in enumerate(data) if index >= total - held]
    return SampleSplit(total - held, judge, True)


def _constants(layers: Sequence[Node]) -> dict[int, tuple[np.ndarray | None, np.ndarray | None]]:
    """Each layer's constant weight and bias as they are now (None where absent: bias correction may add a
    bias to a layer that had none, which a revert then sets to zero)."""

    def const(node: Node, index: int) -> np.ndarray | None:
        return np.asarray(node.inputs[index].data) if len(node.inputs) > index and node.inputs[index].is_const else None

    return {id(n): (const(n, 1), const(n, 2)) for n in layers}


def keep_if_better(
    graph: Graph,
    layers: Sequence[Node],
    settings: Settings,
    samples: Sequence[Feeds],
    step: Callable[[], object],
    log: Callable[[str], None],
    name: str,
    held_out: bool = False,
) -> bool:
    """Run ``step`` (which changes the layers' weights and biases in place) and keep its result only
    if the network's fake-quant output SQNR on ``samples`` does not drop; returns whether it was kept."""
    check = OutputCheck.of(graph, samples)
    before = check.sqnr_db(graph, settings)
    saved = _constants(layers)
    step()
    after = check.sqnr_db(graph, settings)
    which = f"{len(samples)} held-out calibration samples" if held_out else f"{len(samples)} calibration samples"
    if after >= before:
        log(f"{name}: output SQNR on {which} {before:.2f} -> {after:.2f} dB: kept")
        return True
    for node in layers:
        weight, bias = saved[id(node)]
        if weight is not None:
            set_const_operand(graph, node, 1, weight)
        if len(node.inputs) > 2 and node.inputs[2].is_const:
            set_const_operand(graph, node, 2, bias if bias is not None else np.zeros_like(np.asarray(node.inputs[2].data)))
    log(f"{name}: output SQNR on {which} {before:.2f} -> {after:.2f} dB: reverted (worse than nearest rounding)")
    return False
