"""calibrate: stream calibration data through the float graph and choose activation ranges."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from qcc.calibration.observers import HistogramObserver
from qcc.calibration.source import CalibrationSet
from qcc.errors import PipelineError
from qcc.interp.interpreter import run
from qcc.ir.core import Graph, Value
from qcc.ir.types import TensorType
from qcc.pipeline import Pass, PassContext, PassResult, register_pass
from qcc.arith.params import activation_params

Method = Literal["minmax", "percentile", "mse", "entropy"]


def calibration_set(graph: Graph, ctx: PassContext, limit: int | None = None) -> CalibrationSet:
    """The context's calibration data as a validated stream (shared by every pass that needs data)."""
    if ctx.calibration is None:
        raise PipelineError("this pipeline needs calibration data (qcc: --calib FILE.npz|FOLDER; API: PassContext(calibration=...))")
    source = ctx.calibration.source if isinstance(ctx.calibration, CalibrationSet) else ctx.calibration
    return CalibrationSet(graph, source, limit)


def observed_values(graph: Graph) -> list[Value]:
    """Float activations: graph inputs and float node results (constants are weights, not
    activations; integer/bool values are indices and masks)."""
    values = [v for v in graph.inputs if v.type.dtype.is_float]
    values += [r for n in graph.nodes for r in n.results if r.type.dtype.is_float]
    return values


@register_pass
@dataclass(frozen=True)
class Calibrate(Pass):
    """Run the calibration samples through the float interpreter, one at a time, observe every
    float activation, and annotate it with the quantization parameters its chosen range gives.

    Methods: `minmax` (the observed range), `percentile` (clip the tails beyond `percentile`),
    `mse` (the clipping range minimizing quantization MSE at the target width), `entropy` (TensorRT's
    KL-divergence threshold). Memory is flat in the number of samples: each observer keeps min/max
    and a fixed-size histogram. `bits=0` takes the target's default activation width."""

    name = "calibrate"
    forbids_ops = frozenset({"quantize", "dequantize"})
    method: Method = "minmax"
    percentile: float = 99.99
    bits: int = 0
    samples: int = 0

    def run(self, graph: Graph, ctx: PassContext) -> PassResult:
        if not 0.0 < self.percentile <= 100.0:
            raise PipelineError(f"calibrate: percentile={self.percentile} must be in (0, 100]")
        bits = self.bits or (ctx.target.default_activation_bits if ctx.target is not None else 8)
        if bits not in (8, 16):
            raise PipelineError(f"calibrate: bits={bits}; activations are 8 or 16 bits")
        data = calibration_set(graph, ctx, self.samples or None)
        values = observed_values(graph)
        observers = {id(v): HistogramObserver(histogram=self.method != "minmax") for v in values}

        def observe(value: Value, array: object) -> None:
            obs = observers.get(id(value))
            if obs is not None:
                obs.update(array)  # type: ignore[arg-type]

        n = 0
        for feeds in ctx.progress.bar(data, total=data.count(), desc="calibrate"):
            run(graph, feeds, observer=observe)
            n += 1
        for value in values:
            lo, hi = self._range(observers[id(value)], bits)
            value.type = TensorType(value.type.dtype, value.type.shape, activation_params(lo, hi, bits))
        ctx.log(f"calibrate: {len(values)} activations from {n} samples ({self.method})")
        return PassResult(graph, True)

    def _range(self, obs: HistogramObserver, bits: int) -> tuple[float, float]:
        if self.method == "minmax":
            return obs.minmax()
        if self.method == "percentile":
            return obs.percentile(self.percentile)
        if self.method == "mse":
            return obs.mse(bits, symmetric=bits > 8)
        return obs.entropy(bits)
