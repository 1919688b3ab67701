"""load-encodings: take activation ranges from an encodings file instead of calibrating."""

from __future__ import annotations

from dataclasses import dataclass

from qcc.calibration.activations import observed_values
from qcc.calibration.encodings import read_activation_encodings
from qcc.errors import PipelineError
from qcc.ir.core import Graph
from qcc.ir.types import TensorType
from qcc.pipeline import Pass, PassContext, PassResult, register_pass
from qcc.quant.scheme import scheme_of


@register_pass
@dataclass(frozen=True)
class LoadEncodings(Pass):
    """Annotate every float activation with the parameters an AIMET-style encodings file
    (`qcc export --format encodings`, docs/interop.md) gives for its name, where `calibrate` would
    measure them: a user with encodings from another tool keeps that tool's ranges, and a file
    qcc wrote reproduces qcc's own quantized graph. A tensor the file lacks, or whose bit width
    differs from the quantization scheme's, is an error naming it."""

    name = "load-encodings"
    forbids_ops = frozenset({"quantize", "dequantize"})
    path: str = ""

    def run(self, graph: Graph, ctx: PassContext) -> PassResult:
        if not self.path:
            raise PipelineError("load-encodings: path= is required")
        table = read_activation_encodings(self.path)
        bits = scheme_of(graph, ctx).activation_bits
        values = observed_values(graph)
        missing = [v.name for v in values if v.name not in table]
        if missing:
            more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
            raise PipelineError(f"--encodings '{self.path}' has no encoding for tensor '{missing[0]}'"
                                + (f" (also {', '.join(repr(m) for m in missing[1:3])}{more})" if len(missing) > 1 else ""))
        for value in values:
            q = table[value.name]
            if q.bits != bits:
                raise PipelineError(f"--encodings '{self.path}': tensor '{value.name}' has a {q.bits}-bit encoding "
                                    f"but the scheme quantizes activations to {bits} bits")
            value.type = TensorType(value.type.dtype, value.type.shape, q)
        ctx.log(f"load-encodings: {len(values)} activations from {self.path}")
        return PassResult(graph, True)
