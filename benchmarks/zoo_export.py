"""Export the zoo's self-made architectures to ONNX (random weights, batch-norm statistics
re-estimated on random inputs: the zoo measures op coverage and quantization error against the
float model, not task accuracy).

Runs in its own venv, never qcc's (torch is not a qcc dependency):

    python -m venv /work/venvs/torch
    /work/venvs/torch/bin/pip install torch==2.13.0 && /work/venvs/torch/bin/pip install torchvision==0.28.0 --no-deps
    /work/venvs/torch/bin/pip install onnx onnxscript ultralytics
    /work/venvs/torch/bin/python benchmarks/zoo_export.py --out ~/.cache/qcc/zoo/exported [NAME ...]

benchmarks/zoo.py calls it when an exported model is missing from the cache.
"""

from __future__ import annotations

import argparse
import sys
import types
from collections.abc import Callable
from pathlib import Path

import torch

# The torchvision wheel on PyPI is built against CUDA torch; with the CPU torch its C ops library
# does not load and its fake-op registrations fail at import. The model classes are pure Python
# and need none of those ops, so skip the registrations.
sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))

import torchvision  # noqa: E402
from torchvision.models.vision_transformer import VisionTransformer  # noqa: E402


def _mobilenet_v3_small() -> torch.nn.Module:
    return torchvision.models.mobilenet_v3_small()


def _efficientnet_b0() -> torch.nn.Module:
    return torchvision.models.efficientnet_b0()


def _vit_tiny() -> torch.nn.Module:
    """ViT-Ti/16 sizes (Touvron et al., DeiT, arXiv:2012.12877): hidden 192, 12 layers, 3 heads.
    torchvision starts the classifier head at zero (all outputs 0); it gets small random weights."""
    model = VisionTransformer(image_size=224, patch_size=16, num_layers=12, num_heads=3, hidden_dim=192, mlp_dim=768)
    torch.nn.init.normal_(model.heads.head.weight, std=0.02)
    return model


def _yolov8n() -> torch.nn.Module:
    """YOLOv8n built from the ultralytics package's model YAML (no weights downloaded); its Detect
    head in export mode emits the decoded boxes concatenated with sigmoid class scores."""
    from ultralytics.nn.modules import Detect
    from ultralytics.nn.tasks import DetectionModel

    model = DetectionModel("yolov8n.yaml", nc=80, verbose=False)
    for module in model.modules():
        if isinstance(module, Detect):
            module.export = True
            module.format = "onnx"
    return model


# name -> (builder, input shape, opset)
ARCHITECTURES: dict[str, tuple[Callable[[], torch.nn.Module], tuple[int, ...], int]] = {
    "mobilenet_v3_small-op13": (_mobilenet_v3_small, (1, 3, 224, 224), 13),
    "mobilenet_v3_small-op17": (_mobilenet_v3_small, (1, 3, 224, 224), 17),
    "efficientnet_b0-op13": (_efficientnet_b0, (1, 3, 224, 224), 13),
    "efficientnet_b0-op17": (_efficientnet_b0, (1, 3, 224, 224), 17),
    "vit_tiny-op17": (_vit_tiny, (1, 3, 224, 224), 17),
    "yolov8n-op17": (_yolov8n, (1, 3, 320, 320), 17),
}


def with_data_statistics(model: torch.nn.Module, shape: tuple[int, ...]) -> torch.nn.Module:
    """Batch-norm running statistics re-estimated on random normal inputs. Freshly initialized
    ones (mean 0, variance 1) let activations shrink layer by layer (mobilenet_v3_small's logits
    end near 1e-9); re-estimated, every layer sees unit-scale activations, as in a trained net."""
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a plain average over the batches below
    if norms:
        model.train()
        with torch.no_grad():
            for _ in range(4):
                model(torch.randn(8, *shape[1:]))
    return model.eval()


Architectures = dict[str, tuple[Callable[[], torch.nn.Module], tuple[int, ...], int]]


def export(name: str, out_dir: Path, architectures: Architectures | None = None) -> Path:
    """``name`` of ``architectures`` (default: the zoo's) exported with BN statistics from data, seed 0."""
    build, shape, opset = (architectures or ARCHITECTURES)[name]
    torch.manual_seed(0)
    model = with_data_statistics(build(), shape)
    path = out_dir / f"{name}.onnx"
    tmp = path.with_suffix(".onnx.tmp")
    with torch.no_grad():
        # the TorchScript exporter: the dynamo one starts at opset 18
        torch.onnx.export(model, (torch.rand(shape),), str(tmp), input_names=["input"], output_names=["output"],
                          opset_version=opset, dynamo=False)
    tmp.replace(path)
    return path


def main(architectures: Architectures | None = None, description: str | None = None) -> int:
    """The command line of this exporter, and of benchmarks/coverage_export.py with its own table."""
    table = architectures or ARCHITECTURES
    parser = argparse.ArgumentParser(description=description or __doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="folder for NAME.onnx")
    parser.add_argument("names", nargs="*", help=f"default: all ({', '.join(table)})")
    args = parser.parse_args()
    unknown = [n for n in args.names if n not in table]
    if unknown:
        parser.error(f"unknown architecture(s): {', '.join(unknown)}")
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.names or table:
        print(f"exported {export(name, args.out, table)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
