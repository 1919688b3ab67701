"""The float graph a quantized graph came from, for the export of what quantization folded away.

``quantize`` turns an element-wise group into a table (``q.lut``) and keeps no float function; the
structural passes before ``calibrate`` are data-free and deterministic, so running them on the
original model gives nodes with the same result names as the quantized graph's. Weights and
ranges are never read from here (they come from the quantized graph).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from qcc.compile import is_quantized
from qcc.errors import InputError
from qcc.ir.core import Graph
from qcc.model_io import load_graph
from qcc.pipeline import PassContext, PassManager, parse_pipeline

# The data-free prefix every recipe shares (qcc.recipes), up to calibrate.
STRUCTURAL_PASSES = "fold-constants,canonicalize,matmul-to-gemm,fold-batchnorm,fuse-activation,fuse-elementwise,dce"


def float_reference(model: str | Path, input_shapes: Mapping[str, Sequence[int]] | None = None) -> Graph:
    """The float model (``.onnx`` or float ``.qir``) after the structural passes."""
    graph = load_graph(model, input_shapes)
    if is_quantized(graph):
        raise InputError(f"--float '{model}' is a quantized model; pass the float model it was quantized from")
    return PassManager(parse_pipeline(STRUCTURAL_PASSES)).run(graph, PassContext())
