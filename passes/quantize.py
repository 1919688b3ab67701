"""quantize: turn a calibrated float graph into the integer op set."""

from __future__ import annotations

from dataclasses import dataclass

import qcc.quant  # noqa: F401  (registers the lowering rules)
from qcc.backends.targets import DEFAULT_TARGET, get_target
from qcc.errors import PipelineError
from qcc.ir.core import Graph
from qcc.pipeline import Pass, PassContext, PassResult, register_pass
from qcc.quant.lowering import Lowerer, Settings, parse_overrides


@register_pass
@dataclass(frozen=True)
class Quantize(Pass):
    """Lower the calibrated float graph to integers: `quantize`/`dequantize` at the inputs and
    outputs, `q.*` ops inside, every integer (weights, biases, multipliers, shifts, clamp bounds,
    tables) precomputed on the nodes.

    `weights`/`acts` are bit widths (0: the target's default), `per-channel` chooses per-channel
    weight scales, `overrides` sets widths per node (`conv_3:weights=4:acts=16`, comma-separated).
    The pass refuses what the target cannot do and proves every int32 accumulator safe or widens
    it (DESIGN §5)."""

    name = "quantize"
    forbids_ops = frozenset({"quantize", "dequantize"})
    weights: int = 0
    acts: int = 0
    per_channel: bool = True
    overrides: tuple[str, ...] = ()

    def run(self, graph: Graph, ctx: PassContext) -> PassResult:
        target = ctx.target if ctx.target is not None else get_target(DEFAULT_TARGET)
        weights = self.weights or target.default_weight_bits
        acts = self.acts or target.default_activation_bits
        target.check_widths(weights, acts)
        target.check_per_channel(self.per_channel)
        if any(v.type.quant is None for v in graph.inputs if v.type.dtype.is_float):
            raise PipelineError("quantize needs a calibrated graph: run calibrate first")
        settings = Settings(weights, acts, self.per_channel, target, parse_overrides(self.overrides, graph))
        lowerer = Lowerer(graph, settings)
        quantized = lowerer.run()
        for note in lowerer.notes:
            ctx.log(note)
        return PassResult(quantized, True)
