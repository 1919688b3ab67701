"""quantize: turn a calibrated float graph into the integer op set."""

from __future__ import annotations

from dataclasses import dataclass

import qcc.quant  # noqa: F401  (registers the lowering rules)
from qcc.errors import PipelineError
from qcc.ir.core import Graph
from qcc.pipeline import Pass, PassContext, PassResult, register_pass
from qcc.quant.lowering import Lowerer, Settings
from qcc.quant.narrow_range import check_narrow_ranges
from qcc.quant.scheme import scheme_of


@register_pass
@dataclass(frozen=True)
class Quantize(Pass):
    """Lower the calibrated float graph to integers: `quantize`/`dequantize` at the inputs and
    outputs, `q.*` ops inside, every integer (weights, biases, multipliers, shifts, clamp bounds,
    tables) precomputed on the nodes.

    Widths, per-channel weights and per-node overrides come from the graph's quantization scheme
    (the `quant-scheme` pass, or the target's defaults). The pass refuses what the target cannot do
    and proves every int32 accumulator safe or widens it (docs/arithmetic.md)."""

    name = "quantize"
    forbids_ops = frozenset({"quantize", "dequantize"})

    def run(self, graph: Graph, ctx: PassContext) -> PassResult:
        if any(v.type.quant is None for v in graph.inputs if v.type.dtype.is_float):
            raise PipelineError("quantize needs a calibrated graph: run calibrate first")
        settings = Settings.from_scheme(scheme_of(graph, ctx), graph)
        lowerer = Lowerer(graph, settings)
        quantized = lowerer.run()
        check_narrow_ranges(quantized)  # activations below 8 bits stay on their grid (arithmetic.md §3.19)
        for note in lowerer.notes:
            ctx.log(note)
        return PassResult(quantized, True)
