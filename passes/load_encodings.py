"""load-encodings: take activation ranges and weight grids from an encodings file instead of
calibrating."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from qcc.calibration.activations import observed_values
from qcc.calibration.encodings import Encodings, read_encodings
from qcc.errors import PipelineError
from qcc.ir.core import Graph, Value
from qcc.ir.types import QuantScheme, TensorType
from qcc.pipeline import Pass, PassContext, PassResult, Pipeline, register_pass
from qcc.quant.accumulator_outputs import accumulator_values
from qcc.quant.fakequant import is_weight_layer, weight_axis
from qcc.quant.scheme import scheme_of

# Passes that change the float model's weights or activations from data. The model an encodings
# file describes already carries their result (qcc's export writes the equalized, corrected or
# AdaRound weights), and running them again would move the weights off the file's grids and the
# activations off its ranges, so a pipeline given --encodings leaves them out.
REPLACED_BY_ENCODINGS = frozenset({"equalize", "absorb-high-bias", "correct-bias", "adaround"})


def with_encodings(passes: Sequence[Pipeline], path: str) -> tuple[list[Pipeline], list[str]]:
    """``passes`` with calibrate replaced by load-encodings and the ``REPLACED_BY_ENCODINGS`` passes
    left out; returns the new list and the names left out."""
    if not any(isinstance(p, Pass) and p.name == "calibrate" for p in passes):
        raise PipelineError("--encodings replaces the pipeline's calibrate pass, and this pipeline has none")
    dropped = [p.name for p in passes if isinstance(p, Pass) and p.name in REPLACED_BY_ENCODINGS]
    kept = [LoadEncodings(path=path) if isinstance(p, Pass) and p.name == "calibrate" else p
            for p in passes if not (isinstance(p, Pass) and p.name in REPLACED_BY_ENCODINGS)]
    return kept, dropped


@register_pass
@dataclass(frozen=True)
class LoadEncodings(Pass):
    """Annotate every float activation with the parameters an AIMET-style encodings file
    (`qcc export --format encodings`, docs/interop.md) gives for its name, where `calibrate` would
    measure them, and every weight with its parameter encoding, which `quantize` then uses instead
    of the weight's own range: a user with encodings from another tool keeps that tool's grids, and a
    file qcc wrote reproduces qcc's own quantized graph exactly. A tensor the file lacks, or whose
    bit width or channel count differs from what the scheme quantizes, is an error naming it. A file
    without parameter encodings leaves the weights to `quantize`."""

    name = "load-encodings"
    forbids_ops = frozenset({"quantize", "dequantize"})
    path: str = ""

    def run(self, graph: Graph, ctx: PassContext) -> PassResult:
        if not self.path:
            raise PipelineError("load-encodings: path= is required")
        encodings = read_encodings(self.path)
        scheme = scheme_of(graph, ctx)
        values = self._activations(graph, encodings, scheme)
        weights = self._weights(graph, encodings, scheme) if encodings.params else 0
        ctx.log(f"load-encodings: {len(values)} activations and {weights} weights from {self.path}")
        return PassResult(graph, True)

    def _activations(self, graph: Graph, encodings: Encodings, scheme: QuantScheme) -> list[Value]:
        table = encodings.activations
        accumulators = accumulator_values(graph)
        exempt = accumulators if scheme.outputs == "accumulator" else frozenset()
        values = [v for v in observed_values(graph) if id(v) not in exempt]
        missing = [v for v in values if v.name not in table]
        if missing and all(id(v) in accumulators for v in missing):
            raise PipelineError(f"--encodings '{self.path}' has no encoding for tensor '{missing[0].name}', a graph output made by a "
                                "conv/gemm: it left qcc as an int32 accumulator; quantize with outputs=accumulator "
                                "(e.g. --recipe 'fast{outputs=accumulator}')")
        if missing:
            more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
            raise PipelineError(f"--encodings '{self.path}' has no encoding for tensor '{missing[0].name}'"
                                + (f" (also {', '.join(repr(m.name) for m in missing[1:3])}{more})" if len(missing) > 1 else ""))
        for value in values:
            q = table[value.name]
            if q.bits != scheme.activation_bits:
                raise PipelineError(f"--encodings '{self.path}': tensor '{value.name}' has a {q.bits}-bit encoding "
                                    f"but the scheme quantizes activations to {scheme.activation_bits} bits")
            value.type = TensorType(value.type.dtype, value.type.shape, q)
        return values

    def _weights(self, graph: Graph, encodings: Encodings, scheme: QuantScheme) -> int:
        """The grid of every weight-layer weight, from the file (which must have one for each)."""
        done: set[int] = set()
        for node in graph.nodes:
            if not is_weight_layer(node) or id(node.inputs[1]) in done:
                continue
            w = node.inputs[1]
            enc = encodings.params.get(w.name)
            if enc is None:
                raise PipelineError(f"--encodings '{self.path}' has no parameter encoding for weight '{w.name}' of node '{node.name}'")
            if any(enc.zero_points):
                raise PipelineError(f"--encodings '{self.path}': weight '{w.name}': qcc quantizes weights symmetrically (offset -2^(bitwidth-1))")
            axis = weight_axis(node, scheme.per_channel)
            want = 1 if axis is None else w.type.static_shape[axis]
            if len(enc.scales) != want:
                where = "per tensor" if axis is None else f"per channel along axis {axis}"
                raise PipelineError(f"--encodings '{self.path}': weight '{w.name}' has {len(enc.scales)} encodings, but the scheme "
                                    f"quantizes it {where}: {want}")
            if enc.bits != scheme.weight_bits:
                raise PipelineError(f"--encodings '{self.path}': weight '{w.name}' has a {enc.bits}-bit encoding "
                                    f"but the scheme quantizes weights to {scheme.weight_bits} bits")
            w.type = TensorType(w.type.dtype, w.type.shape, enc.params(axis))
            done.add(id(w))
        for c in graph.constants:  # other float constants quantized like activations (a mul by a constant)
            enc = encodings.params.get(c.name)
            if id(c) not in done and enc is not None and c.type.dtype.is_float and len(enc.scales) == 1:
                c.type = TensorType(c.type.dtype, c.type.shape, enc.params(None))
        return len(done)
