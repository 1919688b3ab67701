"""qcc's post-training quantization next to onnxruntime's ``quantize_static`` on the same models and
the same calibration samples: output SQNR against the float model, and calibration + quantization
wall time.

    pip install -e ".[bench]"
    python benchmarks/quantize_vs_onnxruntime.py [--calib 64] [--eval 32]

onnxruntime runs its recommended flow: quant_pre_process, then QDQ with per-channel int8 weights and
int8 activations (QInt8/QInt8), MinMax calibration. Its result is measured twice: executed by
onnxruntime's int8 kernels (what a user of onnxruntime gets) and with graph optimizations off, where
the QDQ pairs run in float (the quantizer's decisions alone);
qcc runs its default pipeline (fold-batchnorm, fuse-activation, calibrate{method=minmax}, quantize)
for the generic-int8 target and is evaluated with the integer reference executor. The example
model uses examples/calib.npz and examples/test.npz; light_resnet50 (no real data ships with it)
uses uniform random images from a fixed seed for both calibration and evaluation.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qcc import PassContext, import_model, run_pipeline  # noqa: E402
from qcc.backends.numpy_int.executor import run_integer  # noqa: E402
from tests.onnx.light_models import light_model_path  # noqa: E402

PIPELINE = "fold-constants,fold-batchnorm,fuse-activation,dce,calibrate,quantize"


class _Reader(CalibrationDataReader):
    def __init__(self, name: str, samples: np.ndarray) -> None:
        self.items: Iterator[dict[str, np.ndarray]] = iter({name: s[None]} for s in samples)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self.items, None)


def sqnr_db(reference: list[np.ndarray], values: list[np.ndarray]) -> float:
    ref = np.concatenate([r.reshape(-1) for r in reference]).astype(np.float64)
    val = np.concatenate([v.reshape(-1) for v in values]).astype(np.float64)
    noise = float(np.sum((val - ref) ** 2))
    return math.inf if noise == 0 else 10 * math.log10(float(np.sum(ref**2)) / noise)


def pre_softmax(model_path: Path, workdir: Path) -> Path:
    """The model without a final Softmax (comparing probabilities near 0 hides the error)."""
    model = onnx.load(model_path)
    last = model.graph.node[-1]
    if last.op_type != "Softmax":
        return model_path
    model.graph.output[0].name = last.input[0]
    model.graph.node.remove(last)
    del model.graph.output[0].type.tensor_type.shape.dim[:]
    path = workdir / f"{model_path.stem}_logits.onnx"
    onnx.save(model, path)
    return path


def folded(model_path: Path, workdir: Path) -> Path:
    """The model as both quantizers can take it: ConstantOfShape weights (the light_* models) turned
    into initializers, initializers no longer listed as inputs, and opset 13 (QDQ needs >= 10)."""
    model = onnx.load(model_path)
    inits = {t.name: t for t in model.graph.initializer}
    keep = []
    for node in model.graph.node:
        if node.op_type == "ConstantOfShape" and node.input[0] in inits:
            shape = onnx.numpy_helper.to_array(inits[node.input[0]])
            value = onnx.numpy_helper.to_array(next(a.t for a in node.attribute if a.name == "value"))
            model.graph.initializer.append(onnx.numpy_helper.from_array(np.full(shape, value.reshape(-1)[0], value.dtype), node.output[0]))
        else:
            keep.append(node)
    del model.graph.node[:]
    model.graph.node.extend(keep)
    used = {name for node in keep for name in node.input}
    live = [t for t in model.graph.initializer if t.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(live)
    names = {t.name for t in live}
    inputs = [i for i in model.graph.input if i.name not in names and i.name not in inits]
    del model.graph.input[:]
    model.graph.input.extend(inputs)
    model.ir_version = max(model.ir_version, 7)
    if model.opset_import[0].version < 13:
        model = onnx.version_converter.convert_version(model, 13)
    out = workdir / f"{model_path.stem}_folded.onnx"
    onnx.save(model, out)
    return out


def bench(name: str, model_path: Path, input_name: str, calib: np.ndarray, evaluation: np.ndarray, workdir: Path) -> tuple[str, ...]:
    model_path = folded(pre_softmax(model_path, workdir), workdir)
    float_session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    reference = [float_session.run(None, {input_name: x[None]})[0] for x in evaluation]

    start = time.perf_counter()
    prepared = workdir / f"{name}_prepared.onnx"
    quant_pre_process(str(model_path), str(prepared))  # onnxruntime's recommended first step (folds batch norms)
    qdq_path = workdir / f"{name}_qdq.onnx"
    quantize_static(
        str(prepared), str(qdq_path), _Reader(input_name, calib), quant_format=QuantFormat.QDQ, per_channel=True,
        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax,
    )
    ort_seconds = time.perf_counter() - start
    ort_out = _run(qdq_path, input_name, evaluation, ort.GraphOptimizationLevel.ORT_ENABLE_ALL)
    ort_simulated = _run(qdq_path, input_name, evaluation, ort.GraphOptimizationLevel.ORT_DISABLE_ALL)

    start = time.perf_counter()
    graph = import_model(model_path)
    ir_input = graph.inputs[0].name
    quantized = run_pipeline(graph, PIPELINE, PassContext(calibration=[{ir_input: x[None]} for x in calib]))
    qcc_seconds = time.perf_counter() - start
    qcc_out = [next(iter(run_integer(quantized, {ir_input: x[None]}).values())) for x in evaluation]

    return (
        name, str(len(calib)), f"{sqnr_db(reference, qcc_out):.2f}", f"{sqnr_db(reference, ort_out):.2f}",
        f"{sqnr_db(reference, ort_simulated):.2f}", f"{qcc_seconds:.2f}", f"{ort_seconds:.2f}", f"{qcc_seconds / ort_seconds:.2f}x",
    )


def _run(path: Path, input_name: str, samples: np.ndarray, level: "ort.GraphOptimizationLevel") -> list[np.ndarray]:
    """onnxruntime on a QDQ model: with all optimizations its int8 kernels run it; with none, the
    QDQ pairs execute in float (what the quantizer alone decided, without kernel effects)."""
    options = ort.SessionOptions()
    options.graph_optimization_level = level
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return [session.run(None, {input_name: x[None]})[0] for x in samples]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calib", type=int, default=64, help="calibration samples per model")
    parser.add_argument("--eval", type=int, default=32, help="evaluation samples per model")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        calib = np.load(ROOT / "examples" / "calib.npz")["input"][: args.calib]
        test = np.load(ROOT / "examples" / "test.npz")["input"][: args.eval]
        rows.append(bench("example (digits_mbv2)", ROOT / "examples" / "digits_mbv2.onnx", "input", calib, test, workdir))
        rng = np.random.default_rng(0)
        images = rng.random((args.calib + args.eval, 3, 224, 224), dtype=np.float32)
        rows.append(bench("light_resnet50", light_model_path("light_resnet50"), "gpu_0/data_0", images[: args.calib], images[args.calib :], workdir))
    print(f"onnxruntime {ort.__version__}, numpy {np.__version__}")
    print()
    print("| model | calib samples | qcc SQNR (dB) | onnxruntime SQNR, int8 kernels (dB) | onnxruntime SQNR, QDQ simulated (dB) | qcc calib+quant (s) | onnxruntime calib+quant (s) | time ratio qcc/ort |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
