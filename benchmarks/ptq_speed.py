"""Wall time of qcc's PTQ recipes next to onnxruntime's ``quantize_static`` on one model and one
calibration set, in the same process (so both see the same machine load).

    pip install -e ".[bench]"
    python benchmarks/ptq_speed.py MODEL.onnx CALIB.npz [--recipes fast,dfq,adaround] [--ort-only]

onnxruntime: ``quantize_static`` with QDQ, per-channel int8 weights and int8 activations, MinMax
calibration, on the same samples. qcc: import, then each recipe's pipeline (qcc.recipes) with the
generic-int8 target, per-pass seconds from the PassManager. The PTQ passes run before ``quantize``,
so a model qcc cannot quantize yet is timed up to quantize, and the failure is printed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qcc import PassContext, import_model  # noqa: E402
from qcc.targets import get_target  # noqa: E402
from qcc.errors import QccError  # noqa: E402
from qcc.pipeline import PassManager, Progress, parse_pipeline  # noqa: E402
from qcc.recipes import recipe_pipeline  # noqa: E402


def onnxruntime_seconds(model: Path, calib: dict[str, np.ndarray]) -> float:
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            count = len(next(iter(calib.values())))
            self.items: Iterator[dict[str, np.ndarray]] = iter({k: v[i : i + 1] for k, v in calib.items()} for i in range(count))

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.items, None)

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        quantize_static(
            str(model), str(Path(tmp) / "q.onnx"), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
            activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax,
        )  # fmt: skip
        return time.perf_counter() - start


def qcc_seconds(model: Path, calib: dict[str, np.ndarray], recipe: str, progress: bool) -> tuple[float, str]:
    """Seconds for import + the recipe's pipeline (up to quantize if quantize fails), and a report."""
    target = get_target("generic-int8")
    passes = parse_pipeline(recipe_pipeline(recipe))
    samples = [{k: v[i : i + 1] for k, v in calib.items()} for i in range(len(next(iter(calib.values()))))]
    ctx = PassContext(calibration=samples, target=target, progress=Progress(progress))
    start = time.perf_counter()
    graph = import_model(str(model))
    before = PassManager(passes[:-1])
    graph = before.run(graph, ctx)
    report = [before.timing_report()]
    last = PassManager(passes[-1:])
    try:
        last.run(graph, ctx)
        report.append(last.timing_report().splitlines()[-1])
    except QccError as e:
        report.append(f"quantize failed (not timed): {str(e).splitlines()[0][:160]}")
    return time.perf_counter() - start, "\n".join(report)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("calib", type=Path, help=".npz keyed by input name, samples stacked on the batch axis")
    parser.add_argument("--recipes", default="fast,dfq,adaround", help="comma-separated qcc recipes")
    parser.add_argument("--ort-only", action="store_true")
    parser.add_argument("--progress", action="store_true", help="show qcc's progress bars")
    args = parser.parse_args()
    calib = dict(np.load(args.calib))
    count = len(next(iter(calib.values())))
    # both matter more than anything in qcc: numpy's BLAS threads stall when the cores are shared
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores, OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}", flush=True)
    ort = onnxruntime_seconds(args.model, calib)
    print(f"onnxruntime quantize_static (QDQ, per-channel, MinMax), {count} samples: {ort:.1f} s", flush=True)
    if args.ort_only:
        return 0
    for recipe in args.recipes.split(","):
        seconds, report = qcc_seconds(args.model, calib, recipe, args.progress)
        print(f"\nqcc --recipe {recipe}: {seconds:.1f} s ({seconds / ort:.1f}x onnxruntime)\n{report}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
