"""mixed-precision: choose each layer's weight width to a budget, and write the choices into the
graph's quantization scheme."""

from __future__ import annotations

from dataclasses import dataclass, replace

from qcc.analysis.distribute import check_workers, measurements
from qcc.analysis.precision_search import Budget, nodes_refusing_activation_width, search_weight_widths
from qcc.analysis.sensitivity import SensitivityRunner
from qcc.calibration.source import calibration_set
from qcc.errors import PipelineError
from qcc.ir.core import Graph
from qcc.ir.types import NodeOverride
from qcc.pipeline import Pass, PassContext, PassResult, register_pass
from qcc.ptq.settings import quant_settings, require_calibrated
from qcc.quant.scheme import scheme_of


@register_pass
@dataclass(frozen=True)
class MixedPrecision(Pass):
    """Give every weight layer the narrowest weight width the target allows that the `budget`
    affords: `size:F` keeps the weight bytes within F times those of 8-bit weights (4-bit weights
    count half a byte) at the least added noise; `bops:F` keeps the bit operations (MACs x weight
    bits x activation bits over the weight layers) within F times W8A8's; `sqnr:DB` narrows as many layers as keep the
    fake-quant network's output SQNR on `samples` calibration samples at or above DB. Layers are
    narrowed cheapest first, priced by the noise each adds alone per byte saved
    (qcc/analysis/precision_search.py). The choices become per-node overrides of the scheme (the
    `scheme {...}` line of the IR says which layer got which width); layers the scheme already
    overrides keep their widths. With `activations=true` (targets with more than one activation
    width, such as dsp-w4a16) each node's output activations are chosen too, 16 bits where they
    buy the most SQNR per byte: the size budget then counts the activation tensors' bytes with the
    weights' (both against all-8-bit). Activation widths otherwise stay the scheme's. Run after
    calibrate, before correct-bias/adaround/quantize. `workers=N` prices the layers on N local Dask processes (the
    `[scale]` extra); the choices are the same as with 1."""

    name = "mixed-precision"
    reads_data = True
    forbids_ops = frozenset({"quantize", "dequantize"})
    budget: str = ""
    samples: int = 16
    workers: int = 1
    activations: bool = False

    def run(self, graph: Graph, ctx: PassContext) -> PassResult:
        budget = Budget.parse(self.budget)
        if self.samples < 1:
            raise PipelineError(f"mixed-precision: samples={self.samples} must be >= 1")
        check_workers(self.workers, self.name)
        require_calibrated(graph, self.name)
        scheme = scheme_of(graph, ctx)
        settings = quant_settings(graph, ctx)
        fixed = frozenset(o.node for o in scheme.overrides if o.weight_bits is not None)
        fixed_acts = frozenset(o.node for o in scheme.overrides if o.activation_bits is not None)
        if self.activations:  # nodes defined at the narrowest width only keep the scheme's
            fixed_acts |= nodes_refusing_activation_width(graph, max(settings.target.activation_bits))
        runner = SensitivityRunner(graph, [dict(f) for f in calibration_set(graph, ctx, self.samples)])
        with measurements(runner, self.workers) as pool:
            result = search_weight_widths(graph, runner, settings, budget, fixed, ctx.log, pool.sqnr_many, self.activations, fixed_acts)
        overrides = {o.node: o for o in scheme.overrides}
        for name, decision in result.decisions.items():
            old = overrides.get(name, NodeOverride(name))
            new = old
            if name not in fixed and decision.weight_bits not in (None, scheme.weight_bits):
                new = replace(new, weight_bits=decision.weight_bits)
            if name not in fixed_acts and decision.activation_bits not in (None, scheme.activation_bits):
                new = replace(new, activation_bits=decision.activation_bits)
            if new != NodeOverride(name):
                overrides[name] = new
        order = {n.name: i for i, n in enumerate(graph.nodes)}
        new_scheme = replace(scheme, overrides=tuple(sorted(overrides.values(), key=lambda o: order.get(o.node, -1))))
        counted = "weight and activation" if self.activations else "weight"
        ctx.log(f"mixed-precision: {counted} bytes {result.size_fraction:.3f} of the 8-bit ones, bit operations {result.bops_fraction:.3f} of W8A8's, "
                f"fake-quant output SQNR {result.sqnr_db:.2f} dB")
        changed = new_scheme != scheme
        graph.scheme = new_scheme
        return PassResult(graph, changed)
