"""The quantization settings a PTQ pass predicts the quantize pass's grid with.

Bias correction and AdaRound must know the weight grid the quantize pass will use (bit width,
per-channel or per-tensor scales, per-node overrides) before it runs. They take the same options as
`quantize` (`weights`, `acts`, `per-channel`, `overrides`; 0 = the target's default) and build the
same `qcc.quant.lowering.Settings` from them, so that with equal options the three passes agree;
the recipes in `qcc.recipes` pass equal options to all three.
"""

from __future__ import annotations

from typing import Sequence

from qcc.targets import DEFAULT_TARGET, get_target
from qcc.errors import PipelineError
from qcc.ir.core import Graph
from qcc.pipeline import PassContext
from qcc.quant.lowering import Settings, parse_overrides


def quant_settings(graph: Graph, ctx: PassContext, weights: int, acts: int, per_channel: bool, overrides: Sequence[str]) -> Settings:
    """Settings exactly as `quantize{weights= acts= per-channel= overrides=}` builds them."""
    target = ctx.target if ctx.target is not None else get_target(DEFAULT_TARGET)
    weight_bits = weights or target.default_weight_bits
    activation_bits = acts or target.default_activation_bits
    target.check_widths(weight_bits, activation_bits)
    target.check_per_channel(per_channel)
    return Settings(weight_bits, activation_bits, per_channel, target, parse_overrides(overrides, graph))


def require_calibrated(graph: Graph, pass_name: str) -> None:
    """Passes that simulate quantized activations need the ranges calibrate chooses."""
    if any(v.type.quant is None for v in graph.inputs if v.type.dtype.is_float):
        raise PipelineError(f"{pass_name} needs a calibrated graph (it simulates the quantized activations): run calibrate first")


def refuse_calibrated(graph: Graph, pass_name: str) -> None:
    """Passes that change activation ranges must run before calibrate, or the ranges it chose
    would silently stop fitting."""
    if any(v.type.quant is not None for v in graph.inputs if v.type.dtype.is_float):
        raise PipelineError(f"{pass_name} changes activation ranges, so it must run before calibrate (the graph is already calibrated)")
