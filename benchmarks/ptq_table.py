"""What the post-training quantization techniques win back on the example model: top-1 and logits
SQNR of the integer reference executor on examples/test.npz for each configuration, next to
onnxruntime's quantize_static on the same model and calibration samples (what docs/ptq-results.md
shows; every number is measured by this script in one run).

    pip install -e ".[bench]"
    python benchmarks/ptq_table.py > docs/ptq-results.md

About 6 minutes on 2 cores (three AdaRound runs of about a minute each).
"""

from __future__ import annotations

import logging
import math
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from qcc import PassContext, PassManager, import_model  # noqa: E402
from qcc.backends.numpy_int.executor import integer_node  # noqa: E402
from qcc.targets import get_target  # noqa: E402
from qcc.accuracy import evaluate_quantized  # noqa: E402
from qcc.recipes import recipe_pipeline  # noqa: E402

MODEL = ROOT / "examples" / "digits_mbv2.onnx"
CALIB = ROOT / "examples" / "calib.npz"
TEST = ROOT / "examples" / "test.npz"

FOLD = "fold-constants,fold-batchnorm"
CLE = "equalize{relu6-as-relu=true},absorb-high-bias"
ACT = "fuse-activation,dce,calibrate"


@dataclass(frozen=True)
class Row:
    config: str  # W8A8 per-tensor, ...
    method: str
    target: str
    pipeline: str


def _rows() -> list[Row]:
    t8, t4 = "mcu-int8-per-tensor", "dsp-w4a16"  # per-tensor W8A8 is t8's default
    w4 = "quant-scheme{weights=4 acts=8}"
    w4pt = "quant-scheme{weights=4 acts=8 per-channel=false}"
    return [
        Row("W8A8 per-tensor", "nearest (recipe `fast`)", t8, recipe_pipeline("fast")),
        Row("W8A8 per-tensor", "bias correction (empirical)", t8, f"{FOLD},{ACT},correct-bias,quantize"),
        Row("W8A8 per-tensor", "bias correction (analytic)", t8, f"{FOLD},{ACT},correct-bias{{mode=analytic}},quantize"),
        Row("W8A8 per-tensor", "CLE + HBA", t8, f"{FOLD},{CLE},{ACT},quantize"),
        Row("W8A8 per-tensor", "CLE + HBA + bias correction (analytic)", t8, f"{FOLD},{CLE},{ACT},correct-bias{{mode=analytic}},quantize"),
        Row("W8A8 per-tensor", "CLE + HBA + bias correction (empirical) (recipe `dfq`)", t8, recipe_pipeline("dfq")),
        Row("W8A8 per-channel", "nearest (recipe `fast`)", "generic-int8", recipe_pipeline("fast")),
        Row("W4A8 per-channel", "nearest (recipe `fast`)", t4, recipe_pipeline("fast{weights=4 acts=8}")),
        Row("W4A8 per-channel", "AdaRound", t4, f"{w4},{FOLD},{ACT},adaround,quantize"),
        Row("W4A8 per-tensor", "nearest (recipe `fast`)", t4, recipe_pipeline("fast{weights=4 acts=8 per-channel=false}")),
        Row("W4A8 per-tensor", "CLE + HBA", t4, f"{w4pt},{FOLD},{CLE},{ACT},quantize"),
        Row("W4A8 per-tensor", "CLE + HBA + bias correction (recipe `dfq`)", t4, recipe_pipeline("dfq{weights=4 acts=8 per-channel=false}")),
        Row("W4A8 per-tensor", "CLE + HBA + AdaRound (recipe `adaround`)", t4, recipe_pipeline("adaround{weights=4 acts=8 per-channel=false}")),
        Row("W4A8 per-tensor", "CLE + HBA + bias correction + AdaRound (not a recipe)", t4, f"{w4pt},{FOLD},{CLE},{ACT},correct-bias,adaround,quantize"),
    ]


@dataclass
class Result:
    top1: float
    sqnr: float
    seconds: float
    adaround_seconds: float | None = None
    float_top1: float = math.nan


def run_qcc(row: Row, float_graph) -> Result:  # type: ignore[no-untyped-def]
    pm = PassManager.from_text(row.pipeline)
    start = time.perf_counter()
    graph = pm.run(import_model(MODEL), PassContext(calibration=str(CALIB), target=get_target(row.target)))
    seconds = time.perf_counter() - start
    adaround = sum(t.seconds for t in pm.timings if t.name.startswith("adaround")) or None
    report = evaluate_quantized(float_graph, graph, str(TEST), quant_evaluator=integer_node)
    return Result(report.quant_top1, report.outputs["logits"].sqnr_db, seconds, adaround, report.float_top1)


# ---- onnxruntime ---------------------------------------------------------------------------------


def run_onnxruntime(workdir: Path) -> tuple[str, dict[tuple[str, bool], Result], str]:
    """quantize_static (QDQ, MinMax, int8 activations) on the model after onnxruntime's own
    pre-processing (quant_pre_process folds BatchNormalization into Conv, as fold-batchnorm does),
    and, for contrast, on the raw model (its BatchNormalization then stays float after the int conv)."""
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process
    from quantize_vs_onnxruntime import _Reader, folded

    logging.disable(logging.WARNING)
    ort.set_default_logger_severity(3)
    calib = np.load(CALIB)["input"]
    test = np.load(TEST)
    xs, labels = test["input"], test["label"]
    raw = folded(MODEL, workdir)
    prepared = workdir / "prepared.onnx"
    quant_pre_process(str(raw), str(prepared))
    reference = _ort_outputs(prepared, xs)
    results: dict[tuple[str, bool], Result] = {}
    for config, weight_type, per_channel in [
        ("W8A8 per-tensor", QuantType.QInt8, False),
        ("W8A8 per-channel", QuantType.QInt8, True),
        ("W4A8 per-channel", QuantType.QInt4, True),
        ("W4A8 per-tensor", QuantType.QInt4, False),
    ]:
        for source, is_prepared in ((prepared, True), (raw, False)):
            out = workdir / f"q_{config.replace(' ', '_')}_{is_prepared}.onnx"
            start = time.perf_counter()
            quantize_static(
                str(source), str(out), _Reader("input", calib), quant_format=QuantFormat.QDQ, per_channel=per_channel,
                activation_type=QuantType.QInt8, weight_type=weight_type, calibrate_method=CalibrationMethod.MinMax,
            )
            seconds = time.perf_counter() - start
            logits = _ort_outputs(out, xs)
            top1 = float(np.mean(logits.argmax(axis=1) == labels))
            results[(config, is_prepared)] = Result(top1, _sqnr(reference, logits), seconds)
    return ort.__version__, results, _int4_conv_note(workdir / "q_W4A8_per-channel_True.onnx")


def _ort_outputs(path: Path, xs: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return np.concatenate([session.run(None, {"input": x[None]})[0] for x in xs])


def _int4_conv_note(path: Path) -> str:
    """How onnxruntime represents the int4 Conv weights (checked, not assumed)."""
    import onnx

    model = onnx.load(path)
    int4 = sum(1 for t in model.graph.initializer if t.data_type == onnx.TensorProto.INT4)
    domains = sorted({n.domain or "ai.onnx" for n in model.graph.node if n.op_type == "DequantizeLinear"})
    return f"{int4} INT4 initializers and its DequantizeLinear nodes are in the {', '.join(domains)} domain"


def _sqnr(reference: np.ndarray, values: np.ndarray) -> float:
    noise = float(np.sum((values.astype(np.float64) - reference) ** 2))
    return math.inf if noise == 0 else 10 * math.log10(float(np.sum(reference.astype(np.float64) ** 2)) / noise)


# ---- report --------------------------------------------------------------------------------------


def _cell(r: Result) -> str:
    return f"{100 * r.top1:.2f}"


def main() -> int:
    float_graph = import_model(MODEL)
    rows = _rows()
    results = []
    for row in rows:
        results.append(run_qcc(row, float_graph))
        print(f"measured: {row.config} / {row.method}", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        ort_version, ort_results, int4_note = run_onnxruntime(Path(tmp))
    float_top1 = results[0].float_top1

    p = print
    p("# Post-training quantization results on the example model")
    p()
    p("Every number below was measured in one run of")
    p()
    p("    python benchmarks/ptq_table.py > docs/ptq-results.md")
    p()
    p("on `examples/digits_mbv2.onnx` (MobileNetV2-style, ReLU6, batch norms unfolded), calibrated on the 256 samples")
    p("of `examples/calib.npz` (the default `auto` ranges: percentile at 8 bits, minmax at 16) and evaluated on the 360 labelled samples of `examples/test.npz` with")
    p("qcc's integer reference executor (`qcc.backends.numpy_int`, the semantics the C backend must match byte for")
    p("byte; the C backend does not exist yet, so it has no column). SQNR is that of the logits against the float")
    p("model, over all test samples; top-1 on 360 samples moves in steps of 0.28 points, so SQNR is the finer measure.")
    p(f"Machine: {platform.machine()}, {os.cpu_count()} cores, numpy {np.__version__}, onnxruntime {ort_version}.")
    p()
    p(f"**Float top-1: {100 * float_top1:.2f}%.** With `equalize{{relu6-as-relu=true}}` the model's ReLU6s between")
    p(f"equalized layers become ReLUs (as in the DFQ paper); the float top-1 of that model is {100 * relu_float_top1():.2f}%.")
    p()
    p("| configuration | method | top-1 % | logits SQNR (dB) | time (s) |")
    p("|---|---|---:|---:|---:|")
    for row, r in zip(rows, results):
        p(f"| {row.config} | {row.method} | {_cell(r)} | {r.sqnr:.2f} | {r.seconds:.1f} |")
    p()
    p("The pipelines (`--target` in parentheses):")
    p()
    for row in rows:
        p(f"- {row.config}, {row.method} (`{row.target}`): `{row.pipeline}`")
    p()
    ada = [(row, r) for row, r in zip(rows, results) if r.adaround_seconds]
    p("AdaRound wall time (the `adaround` pass alone; 12 layers, 1000 iterations each, batch 32, 256 samples): "
      + "; ".join(f"{row.config} {row.method}: {r.adaround_seconds:.0f} s" for row, r in ada) + ".")
    p()
    p("## Next to onnxruntime")
    p()
    p(f"onnxruntime {ort_version} `quantize_static` on the same model and the same 256 calibration samples: QDQ format,")
    p("MinMax calibration, int8 activations, weights `QInt8` or `QInt4` per tensor or per channel, round to nearest;")
    p("evaluated by onnxruntime itself on the same 360 samples, SQNR against onnxruntime's float model. The main")
    p("column quantizes the model after onnxruntime's recommended pre-processing (`quant_pre_process`, which folds")
    p("BatchNormalization into Conv like `fold-batchnorm`), so both tools quantize the same folded weights. The last")
    p("column quantizes the raw model: there the batch norms stay float operators after the int8 convolutions, so the")
    p("weights quantized are the unfolded ones (narrow channel ranges) and the result is not an integer-only model.")
    p(f"int4 Conv weights: onnxruntime {ort_version} supports them in QDQ via `QuantType.QInt4` (the W4A8 per-channel")
    p(f"model holds {int4_note}; int4 Q/DQ is standard ONNX only from opset 21); its CPU provider runs them.")
    p()
    p("| configuration | qcc `fast` (nearest) | qcc best recipe | onnxruntime, BN folded | onnxruntime, raw model (float BN) |")
    p("|---|---:|---:|---:|---:|")
    best = {
        "W8A8 per-tensor": "CLE + HBA + bias correction (empirical) (recipe `dfq`)",
        "W8A8 per-channel": "nearest (recipe `fast`)",
        "W4A8 per-channel": "AdaRound",
        "W4A8 per-tensor": "CLE + HBA + AdaRound (recipe `adaround`)",
    }
    by = {(row.config, row.method): r for row, r in zip(rows, results)}
    for config, method in best.items():
        fast = by[(config, "nearest (recipe `fast`)")]
        top = by[(config, method)]
        o, raw = ort_results[(config, True)], ort_results[(config, False)]
        label = "AdaRound" if method == "AdaRound" else method.split("(recipe ")[-1].rstrip(")") if "recipe" in method else method
        p(f"| {config} | {_cell(fast)} % / {fast.sqnr:.2f} dB | {_cell(top)} % / {top.sqnr:.2f} dB ({label}) | {_cell(o)} % / {o.sqnr:.2f} dB | {_cell(raw)} % / {raw.sqnr:.2f} dB |")
    p()
    p("## Reading the table")
    p()
    g = lambda config, method: by[(config, method)]  # noqa: E731
    w8, w4 = "W8A8 per-tensor", "W4A8 per-tensor"
    fast8, cle8 = g(w8, "nearest (recipe `fast`)"), g(w8, "CLE + HBA")
    dfq8, bc8 = g(w8, "CLE + HBA + bias correction (empirical) (recipe `dfq`)"), g(w8, "bias correction (empirical)")
    near4, ada4 = g("W4A8 per-channel", "nearest (recipe `fast`)"), g("W4A8 per-channel", "AdaRound")
    cle4, ada4t = g(w4, "CLE + HBA"), g(w4, "CLE + HBA + AdaRound (recipe `adaround`)")
    both4 = g(w4, "CLE + HBA + bias correction + AdaRound (not a recipe)")
    p(f"- Cross-layer equalization does the work for per-tensor W8A8: {_cell(fast8)} % -> {_cell(cle8)} % top-1 "
      f"({fast8.sqnr:.1f} -> {cle8.sqnr:.1f} dB); bias correction on top adds {dfq8.sqnr - cle8.sqnr:.2f} dB. Float is {100 * float_top1:.2f} %.")
    p(f"- High-bias absorption changes nothing on this model: {absorbable_channels()} channels have beta - 3 gamma > 0 after equalization.")
    if bc8.sqnr == fast8.sqnr and bc8.top1 == fast8.top1:
        p(f"- Bias correction without equalization changes nothing here ({_cell(fast8)} % -> {_cell(bc8)} %): its output guard")
        p("  (docs/recipes.md) measured it lowering the held-out calibration samples' SQNR and put every bias back. Per tensor,")
        p("  whole depthwise channels round to zero, and matching their pre-activation mean does not match the mean after")
        p("  the following ReLU6; the recipes therefore apply it only after equalization.")
    else:
        p(f"- Bias correction without equalization hurts here ({_cell(fast8)} % -> {_cell(bc8)} %): per tensor, whole depthwise channels")
        p("  round to zero, and matching their pre-activation mean does not match the mean after the following ReLU6;")
        p("  the recipes therefore apply it only after equalization.")
    p(f"- AdaRound at W4A8 per channel: {near4.sqnr:.1f} -> {ada4.sqnr:.1f} dB (W8A8 per channel, nearest: "
      f"{g('W8A8 per-channel', 'nearest (recipe `fast`)').sqnr:.1f} dB); top-1 was not lost by nearest rounding here.")
    p(f"- W4A8 per tensor: nearest {_cell(g(w4, 'nearest (recipe `fast`)'))} %, with equalization {_cell(cle4)} % / {cle4.sqnr:.1f} dB, "
      f"with equalization and AdaRound {_cell(ada4t)} % / {ada4t.sqnr:.1f} dB.")
    p(f"- Bias correction before AdaRound makes it worse ({ada4t.sqnr:.1f} -> {both4.sqnr:.1f} dB): AdaRound reconstructs each layer's float")
    p("  output, bias included, so a bias already shifted for nearest rounding is corrected twice. The `adaround` recipe")
    p("  therefore leaves bias correction out.")
    p()
    p(f"_Generated {time.strftime('%Y-%m-%d')}._")
    return 0


def absorbable_channels() -> int:
    """Channels with c = max(0, beta - 3 gamma) > 0 after fold-batchnorm + equalize."""
    from qcc.pipeline import run_pipeline
    from qcc.ptq.statistics import bn_stats

    graph = run_pipeline(import_model(MODEL), f"{FOLD},equalize{{relu6-as-relu=true}}", PassContext())
    stats = [bn_stats(n) for n in graph.nodes if n.op in ("conv", "gemm")]
    return int(sum(np.count_nonzero(mean - 3 * std > 0) for mean, std in (s for s in stats if s is not None)))


def relu_float_top1() -> float:
    """Float top-1 of the model after fold-batchnorm + equalize{relu6-as-relu=true} (no quantization)."""
    from qcc.interp.interpreter import run
    from qcc.pipeline import run_pipeline

    graph = run_pipeline(import_model(MODEL), f"{FOLD},{CLE}", PassContext())
    test = np.load(TEST)
    hits = [int(np.argmax(run(graph, {"input": x[None]})["logits"]) == y) for x, y in zip(test["input"], test["label"])]
    return float(np.mean(hits))


if __name__ == "__main__":
    raise SystemExit(main())
