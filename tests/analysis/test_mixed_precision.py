"""mixed-precision on the example model, measured with the integer reference: at a size budget
between all-4-bit and all-8-bit weights it beats uniform 4-bit weights, and an SQNR budget is met
with fewer weight bytes than uniform 8-bit weights."""

from __future__ import annotations

from pathlib import Path

from qcc.accuracy import evaluate_quantized
from qcc.analysis.precision_search import weight_bytes
from qcc.backends.numpy_int.executor import integer_node
from qcc.model_io import load_graph
from qcc.pipeline import PassContext, PassManager, parse_pipeline
from qcc.quant.fakequant import is_weight_layer
from qcc.targets import get_target

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PREPARE = "fold-constants,canonicalize,matmul-to-gemm,fold-batchnorm,fuse-activation,fuse-elementwise,dce"


def quantized(scheme: str, budget: str = "", data: str = "test.npz") -> tuple[float, float]:
    """(output SQNR of the integer reference on 32 samples of ``data``, weight bytes / 8-bit weight bytes)."""
    steps = [scheme, PREPARE, "calibrate{samples=64}", *([f"mixed-precision{{budget={budget} samples=32}}"] if budget else [])]
    ctx = PassContext(calibration=str(EXAMPLES / "calib.npz"), target=get_target("dsp-w4a16"))
    graph = PassManager(parse_pipeline(",".join(steps))).run(load_graph(EXAMPLES / "digits_mbv2.onnx"), ctx)
    assert graph.scheme is not None
    layers = [n for n in graph.nodes if is_weight_layer(n)]
    bits = {o.node: o.weight_bits for o in graph.scheme.overrides if o.weight_bits}
    size = sum(weight_bytes(n, bits.get(n.name, graph.scheme.weight_bits)) for n in layers) / sum(weight_bytes(n, 8) for n in layers)
    graph = PassManager(parse_pipeline("quantize")).run(graph, ctx)
    report = evaluate_quantized(load_graph(EXAMPLES / "digits_mbv2.onnx"), graph, EXAMPLES / data, quant_evaluator=integer_node, limit=32)
    return next(iter(report.outputs.values())).sqnr_db, size


def test_size_budget_beats_uniform_4_bit() -> None:
    sqnr, size = quantized("quant-scheme{weights=4 acts=8}", "size:0.6")
    assert 0.5 < size <= 0.6
    assert sqnr > quantized("quant-scheme{weights=4 acts=8}")[0] + 3


def test_sqnr_budget_needs_fewer_bytes_than_uniform_8_bit() -> None:
    # measured on the samples the search measured (the first 32 calibration samples): the integer
    # reference rounds requantization differently from the fake-quant search, by a fraction of a dB
    sqnr, size = quantized("quant-scheme{weights=8 acts=8}", "sqnr:30", data="calib.npz")
    assert size < 1.0
    assert sqnr >= 29.5
    assert quantized("quant-scheme{weights=8 acts=8}", data="calib.npz")[0] > sqnr
