"""Where ``qcc compile`` spends its wall time on onnx's light ResNet-50 (or another model).

    python benchmarks/compile_time.py [--calib 64] [--model light_resnet50] [--profile out.prof] [--warm-kernels]

It runs the same compile as ``c_vs_onnxruntime.py`` (recipe ``fast``, generic-int8, ``--calib`` uniform
random images, verify 4) in a fresh module cache, and prints the time between the compile's log lines
(pipeline, lowering, C build + stack measurement + verification, report). ``--warm-kernels``
builds the kernel library into the kernel cache first (``prebuild_kernels``, timed apart); the
default is an empty kernel cache, so the compile builds the library too. ``--profile`` also
writes a cProfile dump.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from quantize_vs_onnxruntime import folded  # noqa: E402

from qcc.backends.c.kernel_cache import prebuild_kernels  # noqa: E402
from qcc.compile import compile_model  # noqa: E402
from qcc.pipeline import PassContext  # noqa: E402
from qcc.recipes import recipe_pipeline  # noqa: E402
from qcc.targets import get_target  # noqa: E402
from tests.onnx.light_models import light_model_path  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calib", type=int, default=64, help="calibration samples")
    parser.add_argument("--model", default="light_resnet50", help="a light_* model of the onnx wheel")
    parser.add_argument("--profile", help="write a cProfile dump here")
    parser.add_argument("--warm-kernels", action="store_true", help="prebuild the kernel library into the kernel cache first")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model = folded(light_model_path(args.model), work)
        images = np.random.default_rng(0).random((args.calib, 3, 224, 224), dtype=np.float32)
        calib = work / "calib.npz"
        np.savez(calib, **{"gpu_0/data_0": images})
        os.environ["QCC_CACHE_DIR"] = str(work / "qcc-cache")
        if args.warm_kernels:
            print(f"kernel library prebuilt in {prebuild_kernels():.1f} s (0 when the kernel cache held it)")
        else:
            os.environ["QCC_KERNEL_CACHE_DIR"] = str(work / "qcc-kernels")
        marks: list[tuple[float, str]] = []
        start = time.perf_counter()

        def log(message: str) -> None:
            marks.append((time.perf_counter(), message))

        profiler = cProfile.Profile() if args.profile else None
        if profiler:
            profiler.enable()
        compile_model(model, work / "out", calibration=str(calib), pipeline=recipe_pipeline("fast"),
                      context=PassContext(calibration=str(calib), target=get_target("generic-int8")), verify=4, log=log)
        total = time.perf_counter() - start
        if profiler:
            profiler.disable()
            profiler.dump_stats(args.profile)
    previous = start
    for stamp, message in marks:
        print(f"{stamp - previous:7.2f} s  up to: {message[:100]}")
        previous = stamp
    print(f"{total - (previous - start):7.2f} s  up to: report.md and OUT/")
    print(f"{total:7.2f} s  qcc compile in all ({args.calib} samples); load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
