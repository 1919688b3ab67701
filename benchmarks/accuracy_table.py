"""The example model's accuracy after quantization, per configuration and calibration observer,
measured with the integer reference executor on examples/test.npz (what docs/results.md shows).

    pip install -e .
    python benchmarks/accuracy_table.py > docs/results.md
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qcc import PassContext, import_model, run_pipeline  # noqa: E402
from qcc.backends.numpy_int.executor import integer_node  # noqa: E402
from qcc.targets import get_target  # noqa: E402
from qcc.accuracy import evaluate_quantized  # noqa: E402
from qcc.ir import parse, print_graph  # noqa: E402

MODEL = ROOT / "examples" / "digits_mbv2.onnx"
CALIB = ROOT / "examples" / "calib.npz"
TEST = ROOT / "examples" / "test.npz"

# (label, target, quantization scheme options)
CONFIGS = [
    ("W8A8 per-tensor", "mcu-int8-per-tensor", ""),
    ("W8A8 per-channel", "generic-int8", ""),
    ("W4A8 per-channel", "dsp-w4a16", "weights=4 acts=8"),
    ("W8A16 per-channel", "dsp-w4a16", "weights=8 acts=16"),
]
METHODS = ["minmax", "percentile", "mse", "entropy"]


def main() -> int:
    float_graph = import_model(MODEL)
    folded = run_pipeline(import_model(MODEL), "fold-batchnorm,fuse-activation")
    rows = []
    float_top1 = None
    for label, target_name, options in CONFIGS:
        target = get_target(target_name)
        cells = []
        for method in METHODS:
            text, blobs = print_graph(folded)
            graph = parse(text, blobs)
            pipeline = f"quant-scheme{{method={method} {options}}},calibrate,quantize"
            quantized = run_pipeline(graph, pipeline, PassContext(calibration=str(CALIB), target=target))
            report = evaluate_quantized(float_graph, quantized, TEST, quant_evaluator=integer_node)
            float_top1 = report.float_top1
            cells.append(f"{100 * report.quant_top1:.2f} ({report.outputs['logits'].sqnr_db:.1f} dB)")
        rows.append((label, target_name, *cells))
    print("# Quantization accuracy of the example model")
    print()
    print("Top-1 on `examples/test.npz` (360 held-out digits) of the integer reference executor, and in")
    print("parentheses the SQNR of the logits against the float model. Calibration: the 256 samples of")
    print("`examples/calib.npz`; pipeline `fold-batchnorm,fuse-activation,quant-scheme{method=M ...},calibrate,quantize`.")
    print()
    print(f"Float top-1: **{100 * float_top1:.2f}%**.")
    print()
    print("Regenerate with: `python benchmarks/accuracy_table.py > docs/results.md`")
    print()
    print("| configuration | target | " + " | ".join(METHODS) + " |")
    print("|---|---|" + "---:|" * len(METHODS))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print()
    print(f"_Generated {time.strftime('%Y-%m-%d')}._")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
