"""The quantization settings a PTQ pass predicts the quantize pass's grid with.

Bias correction and AdaRound must know the weight grid the quantize pass will use (bit width,
per-channel or per-tensor scales, per-node overrides) before it runs. All three read the graph's
quantization scheme, so they cannot disagree.
"""

from __future__ import annotations

from qcc.errors import PipelineError
from qcc.ir.core import Graph
from qcc.pipeline import PassContext
from qcc.quant.lowering import Settings
from qcc.quant.scheme import scheme_of


def quant_settings(graph: Graph, ctx: PassContext) -> Settings:
    """Settings exactly as the quantize pass will build them from the graph's scheme."""
    return Settings.from_scheme(scheme_of(graph, ctx), graph)


def require_calibrated(graph: Graph, pass_name: str) -> None:
    """Passes that simulate quantized activations need the ranges calibrate chooses."""
    if any(v.type.quant is None for v in graph.inputs if v.type.dtype.is_float):
        raise PipelineError(f"{pass_name} needs a calibrated graph (it simulates the quantized activations): run calibrate first")


def refuse_calibrated(graph: Graph, pass_name: str) -> None:
    """Passes that change activation ranges must run before calibrate, or the ranges it chose
    would silently stop fitting."""
    if any(v.type.quant is not None for v in graph.inputs if v.type.dtype.is_float):
        raise PipelineError(f"{pass_name} changes activation ranges, so it must run before calibrate (the graph is already calibrated)")
