"""Compression before quantization, measured (what docs/compression.md shows).

    pip install -e ".[bench]"
    python benchmarks/compression.py [--targets 0.3,0.5,0.7] [--zoo-samples 32] [--runs 50]

The example model (examples/digits_mbv2.onnx): for each MAC target, `compress{macs=M}` on the
256 calibration samples (SQNR-scored: examples/calib.npz has no labels), then the `fast` recipe
(W8A8 per-channel, generic-int8); top-1 on the 360 labelled digits of examples/test.npz, of the
compressed float model (float interpreter) and of the compressed integer model (integer reference).

A zoo model (--zoo-model, default mtcnn-onet; zoo cache, see benchmarks/zoo.py) at 50% MACs:
compressed once and saved as .qir; that graph is evaluated as float and compiled with the `fast`
recipe. Output SQNR against the uncompressed float model on held-out samples, float and after W8A8,
and the latency of the generated C (one inference, median of --runs) next to the uncompressed
model's C. The compress log (per-layer table, curve) goes to stderr.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from timing import median_seconds  # noqa: E402
from zoo_data import samples as zoo_samples  # noqa: E402
from zoo_models import DEFAULT_CACHE, ZooModel, fetch, select  # noqa: E402

from qcc import PassContext, import_model, run_pipeline  # noqa: E402
from qcc.accuracy import evaluate_quantized  # noqa: E402
from qcc.analysis.macs import graph_macs  # noqa: E402
from qcc.backends.numpy_int.executor import integer_node  # noqa: E402
from qcc.compile import compile_model  # noqa: E402
from qcc.interp.interpreter import float_node  # noqa: E402
from qcc.ir import parse, print_graph, save  # noqa: E402
from qcc.ir.parser import load  # noqa: E402
from qcc.recipes import recipe_pipeline  # noqa: E402
from qcc.targets import get_target  # noqa: E402

MODEL = ROOT / "examples" / "digits_mbv2.onnx"
CALIB = ROOT / "examples" / "calib.npz"
TEST = ROOT / "examples" / "test.npz"
TARGET = "generic-int8"


def _copy(graph):  # noqa: ANN001, ANN202
    return parse(*print_graph(graph))


def example_rows(targets: list[float]) -> list[str]:
    float_graph = import_model(MODEL)
    total = graph_macs(float_graph)
    ctx = lambda: PassContext(calibration=str(CALIB), target=get_target(TARGET))  # noqa: E731
    baseline = evaluate_quantized(float_graph, run_pipeline(import_model(MODEL), recipe_pipeline("fast"), ctx()), TEST, quant_evaluator=integer_node)
    rows = [f"| 100% (uncompressed) | {total:,} | {100 * baseline.float_top1:.2f} | — | {100 * baseline.quant_top1:.2f} | — |"]
    for target in targets:
        start = time.perf_counter()
        compressed = run_pipeline(import_model(MODEL), f"compress{{macs={target}}}", ctx())
        seconds = time.perf_counter() - start
        as_float = evaluate_quantized(float_graph, compressed, TEST, quant_evaluator=float_node)
        quantized = run_pipeline(_copy(compressed), recipe_pipeline("fast"), ctx())
        as_int = evaluate_quantized(float_graph, quantized, TEST, quant_evaluator=integer_node)
        macs = graph_macs(compressed)
        rows.append(f"| {target:.0%} | {macs:,} ({macs / total:.1%}) | {100 * as_float.quant_top1:.2f} | "
                    f"{as_float.outputs['logits'].sqnr_db:.1f} dB | {100 * as_int.quant_top1:.2f} | {seconds:.0f} s |")
        print(rows[-1], file=sys.stderr)
    return rows


def _c_row(label: str, model_file: Path, float_graph, float_sqnr: str, calib_file: str, test_file: str, test: np.ndarray,  # noqa: ANN001
           runs: int, work: Path) -> str:
    """Compile ``model_file`` with the `fast` recipe and measure its C: MACs, output SQNR of the
    integer model against the uncompressed float model, latency of one inference."""
    ctx = PassContext(calibration=calib_file, target=get_target(TARGET))
    result = compile_model(model_file, work / label, calibration=calib_file, pipeline=recipe_pipeline("fast"), context=ctx, verify=4)
    quantized = load(result.out / "model.qir")
    ints = result.model.quantize_inputs([test[:1]])
    latency = median_seconds(lambda: result.model.run(ints), runs)
    int_report = evaluate_quantized(float_graph, quantized, test_file, quant_evaluator=integer_node)
    int_sqnr = " / ".join(f"{s.sqnr_db:.1f}" for s in int_report.outputs.values())
    return f"| {label} | {graph_macs(quantized):,} | {float_sqnr} | {int_sqnr} | {1e3 * latency:.3f} ms |"


def zoo_rows(name: str, target: float, count: int, runs: int, work: Path) -> list[str]:
    """The uncompressed model and the model compressed once (saved as .qir): the same compressed
    graph is compiled to C and evaluated as float."""
    model: ZooModel = select(name)[0]
    path = fetch(model, DEFAULT_CACHE)
    (input_name, shape), = model.inputs
    calib, test = (zoo_samples(model.preparation, shape, split, count) for split in ("calib", "test"))
    np.savez(work / "calib.npz", **{input_name: calib})
    np.savez(work / "test.npz", **{input_name: test})
    calib_file, test_file = str(work / "calib.npz"), str(work / "test.npz")
    float_graph = import_model(path)
    rows = [_c_row("uncompressed", path, float_graph, "—", calib_file, test_file, test, runs, work)]
    print(rows[-1], file=sys.stderr)
    log: list[str] = []
    start = time.perf_counter()
    compressed = run_pipeline(import_model(path), f"compress{{macs={target}}}", PassContext(calibration=calib_file, log=log.append))
    seconds = time.perf_counter() - start
    print("\n".join(log), f"compress took {seconds:.0f} s", sep="\n", file=sys.stderr)
    save(compressed, work / "compressed.qir")
    float_report = evaluate_quantized(float_graph, compressed, test_file, quant_evaluator=float_node)
    float_sqnr = " / ".join(f"{s.sqnr_db:.1f}" for s in float_report.outputs.values())
    rows.append(_c_row(f"compress{{macs={target}}}", work / "compressed.qir", float_graph, float_sqnr, calib_file, test_file, test, runs, work))
    print(rows[-1], file=sys.stderr)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", default="0.3,0.5,0.7")
    parser.add_argument("--zoo-model", default="mtcnn-onet")
    parser.add_argument("--zoo-samples", type=int, default=32)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    print("## Example model (digits_mbv2)\n")
    print("| MAC target | MACs | top-1 float (%) | logits SQNR vs float | top-1 W8A8 (%) | compress time |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in example_rows([float(t) for t in args.targets.split(",") if t]):
        print(row)
    with tempfile.TemporaryDirectory(prefix="qcc-compress-bench-") as tmp:
        print(f"\n## {args.zoo_model} at 50% MACs\n")
        print("| model | MACs | output SQNR vs float, compressed float (dB) | output SQNR vs float, W8A8 C (dB) | C latency |")
        print("|---|---:|---:|---:|---:|")
        for row in zoo_rows(args.zoo_model, 0.5, args.zoo_samples, args.runs, Path(tmp)):
            print(row)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
