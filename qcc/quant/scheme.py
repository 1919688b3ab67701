"""The graph's quantization scheme: built from a target and the user's choices, read by every pass
that needs the grid (calibrate, correct-bias, adaround, fake-quant, quantize).

The scheme is written once into the graph (``Graph.scheme``, printed with the IR) by the first step
that needs it: the ``quant-scheme`` pass when the pipeline states widths, otherwise the target's
defaults. Passes therefore have no width options of their own and cannot disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from qcc.errors import PipelineError, QccError
from qcc.ir.core import Graph
from qcc.ir.types import NodeOverride, QuantScheme
from qcc.targets import DEFAULT_TARGET, Target, get_target


def context_target(ctx: Any) -> Target:
    """The target a pass context names (the default target when it names none)."""
    target = getattr(ctx, "target", None)
    return target if target is not None else get_target(DEFAULT_TARGET)


def scheme_for_target(
    target: Target,
    weights: int = 0,
    acts: int = 0,
    per_channel: bool | None = None,
    calibration: str = "auto",
    overrides: Sequence[str] = (),
    outputs: str = "int8",
) -> QuantScheme:
    """A scheme for ``target``: 0 / None take the target's defaults; what the target cannot run is
    refused here, in one line."""
    weight_bits = weights or target.default_weight_bits
    activation_bits = acts or target.default_activation_bits
    target.check_widths(weight_bits, activation_bits)
    channelwise = target.per_channel if per_channel is None else per_channel
    target.check_per_channel(channelwise)
    try:
        parsed = tuple(NodeOverride.parse(o) for o in overrides)
        for o in parsed:
            target.check_widths(o.weight_bits or weight_bits, o.activation_bits or activation_bits, f"override '{o}'")
            if o.per_channel:
                target.check_per_channel(True)
        return QuantScheme(target.name, weight_bits, activation_bits, channelwise, target.rounding, calibration, parsed, outputs)
    except QccError as e:
        raise PipelineError(str(e)) from None


def scheme_of(graph: Graph, ctx: Any) -> QuantScheme:
    """The graph's scheme, written from the context's target defaults if the graph has none yet.
    A context naming another target than the graph's scheme is an error: the graph was (or is being)
    quantized for that other target."""
    target = getattr(ctx, "target", None)
    if graph.scheme is None:
        graph.scheme = scheme_for_target(context_target(ctx))
    elif target is not None and target.name != graph.scheme.target:
        raise PipelineError(f"the graph's quantization scheme is for target '{graph.scheme.target}', not '{target.name}'")
    return graph.scheme


def scheme_target(scheme: QuantScheme) -> Target:
    """The target a scheme was made for, re-checked against what that target can run."""
    target = get_target(scheme.target)
    target.check_widths(scheme.weight_bits, scheme.activation_bits)
    target.check_per_channel(scheme.per_channel)
    if scheme.rounding != target.rounding:
        raise PipelineError(f"the scheme's rounding '{scheme.rounding}' is not target '{target.name}''s '{target.rounding}'")
    return target
