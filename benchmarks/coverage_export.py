"""Export torchvision architectures whose exporter spellings the zoo lacks, for the coverage probe
(benchmarks/coverage_probe.py): Resize in segmentation heads, LayerNorm over channels and GELU
(ConvNeXt), channel shuffle (ShuffleNetV2), squeeze-excite with a different layout (RegNetY),
MNASNet, GoogLeNet's inception concat. Random weights (weights=None) with batch-norm statistics
re-estimated on random inputs: the probe measures op coverage and bit-exactness, not accuracy.

Runs in a torch interpreter, never qcc's (torch is not a qcc dependency):

    python -m venv /work/venvs/torch
    /work/venvs/torch/bin/pip install torch==2.13.0 onnx onnxscript && /work/venvs/torch/bin/pip install --no-deps torchvision==0.28.0
    /work/venvs/torch/bin/python benchmarks/coverage_export.py --out ~/.cache/qcc/coverage/exported [NAME ...]
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from pathlib import Path

import torch

# The torchvision wheel on PyPI is built against CUDA torch; with the CPU torch its C ops library
# does not load and its fake-op registrations fail at import. The model classes are pure Python.
sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))

import torchvision  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import zoo_export  # noqa: E402  (the export and its command line; this file only adds architectures)


class _OutOnly(torch.nn.Module):
    """torchvision's segmentation models return a dict; the exporter wants tensors."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)["out"]


def _seg(builder: Callable[..., torch.nn.Module]) -> Callable[[], torch.nn.Module]:
    return lambda: _OutOnly(builder(weights=None, weights_backbone=None, num_classes=21, aux_loss=False))


def _classifier(builder: Callable[..., torch.nn.Module], **kwargs: object) -> Callable[[], torch.nn.Module]:
    return lambda: builder(weights=None, **kwargs)


M = torchvision.models
# name -> (builder, input shape, opset)
ARCHITECTURES: dict[str, tuple[Callable[[], torch.nn.Module], tuple[int, ...], int]] = {
    "lraspp_mobilenet_v3_large-op13": (_seg(M.segmentation.lraspp_mobilenet_v3_large), (1, 3, 224, 224), 13),
    "deeplabv3_mobilenet_v3_large-op13": (_seg(M.segmentation.deeplabv3_mobilenet_v3_large), (1, 3, 224, 224), 13),
    "convnext_tiny-op17": (_classifier(M.convnext_tiny), (1, 3, 224, 224), 17),
    "shufflenet_v2_x0_5-op13": (_classifier(M.shufflenet_v2_x0_5), (1, 3, 224, 224), 13),
    "regnet_y_400mf-op13": (_classifier(M.regnet_y_400mf), (1, 3, 224, 224), 13),
    "mnasnet0_5-op13": (_classifier(M.mnasnet0_5), (1, 3, 224, 224), 13),
    "googlenet-op13": (_classifier(M.googlenet, aux_logits=False, init_weights=True), (1, 3, 224, 224), 13),
    "squeezenet1_1-op11": (_classifier(M.squeezenet1_1), (1, 3, 224, 224), 11),
    "resnet18-op17": (_classifier(M.resnet18), (1, 3, 224, 224), 17),
}


def main() -> int:
    return zoo_export.main(ARCHITECTURES, __doc__.splitlines()[0])


if __name__ == "__main__":
    raise SystemExit(main())
