"""Build the shipped qcc example model: a tiny MobileNetV2-style digit classifier.

What this script makes (all written next to this file, in ``examples/``):

* ``digits_mbv2.onnx`` -- a small MobileNetV2-style CNN (opset 13, static input
  ``input`` [1, 1, 16, 16], output ``logits`` [1, 10]) trained on scikit-learn's
  8x8 digits dataset upsampled to 16x16.  BatchNormalization is deliberately
  left *unfolded* (separate Conv and BatchNormalization nodes, inference
  semantics) so that qcc's own BN-folding pass has real work to do.
* ``calib.npz`` -- ``input``: float32 [N, 1, 16, 16], N >= 256, unlabelled
  calibration images drawn from the training split.
* ``test.npz`` -- ``input``: float32 [M, 1, 16, 16], M >= 300, and ``label``:
  int64 [M], a held-out test split disjoint from training and calibration.

Why: qcc needs a realistic, small, fully reproducible model that exercises the
usual mobile-network pattern (stem conv, depthwise-separable blocks, an
inverted residual block with a residual Add, ReLU6 exported as Clip, global
average pooling, a final Gemm).  Depthwise convolutions with BN folded into
them have very different per-output-channel weight ranges, so *naive*
per-tensor weight quantization visibly loses accuracy.  That gap is what qcc's
quantization passes (per-channel scales, equalization, ...) must win back; this
script measures and prints it via :func:`naive_weight_quant_accuracy`.

Everything is seeded and runs single-process on CPU, so re-running the script
reproduces the same accuracies.

Regenerate with::

    pip install torch==2.13.0 scikit-learn onnx onnxruntime
    python examples/make_digits_model.py
"""

from __future__ import annotations

import collections
import copy
import time
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch import nn

SEED = 0
IMAGE_SIZE = 16
NUM_CLASSES = 10
NUM_TEST = 360
NUM_CALIB = 256
EPOCHS = 40
BATCH_SIZE = 32
LEARNING_RATE = 1e-2
WEIGHT_DECAY = 1e-4
OPSET = 13
NUM_THREADS = 1  # tiny model: 1 thread is as fast as 2, immune to oversubscription, bit-reproducible

OUT_DIR = Path(__file__).resolve().parent
ONNX_PATH = OUT_DIR / "digits_mbv2.onnx"
CALIB_PATH = OUT_DIR / "calib.npz"
TEST_PATH = OUT_DIR / "test.npz"


# --------------------------------------------------------------------------- #
# Reproducibility
# --------------------------------------------------------------------------- #
def set_determinism(seed: int = SEED) -> None:
    """Seed every RNG and force deterministic CPU kernels."""
    torch.manual_seed(seed)
    np.random.seed(seed)
    torch.set_num_threads(NUM_THREADS)
    torch.use_deterministic_algorithms(True)


# --------------------------------------------------------------------------- #
# Data
# --------------------------------------------------------------------------- #
Split = tuple[np.ndarray, np.ndarray]


def load_images() -> Split:
    """Load sklearn digits as float32 [N, 1, 16, 16] in [0, 1] plus int64 labels."""
    digits = load_digits()
    x = torch.from_numpy(digits.images.astype(np.float32) / 16.0).unsqueeze(1)
    x = F.interpolate(x, size=(IMAGE_SIZE, IMAGE_SIZE), mode="bilinear", align_corners=False)
    x = x.clamp(0.0, 1.0)
    return x.numpy().astype(np.float32), digits.target.astype(np.int64)


def split_data(x: np.ndarray, y: np.ndarray, seed: int = SEED) -> tuple[Split, Split, np.ndarray]:
    """Deterministically split into (train, test, calib); calib is a subset of train."""
    perm = np.random.default_rng(seed).permutation(len(x))
    test_idx, train_idx = perm[:NUM_TEST], perm[NUM_TEST:]
    calib_idx = train_idx[:NUM_CALIB]
    assert not set(calib_idx) & set(test_idx)
    train = (x[train_idx], y[train_idx])
    test = (x[test_idx], y[test_idx])
    return train, test, x[calib_idx]


def save_datasets(test: Split, calib: np.ndarray) -> None:
    """Write test.npz (input, label) and calib.npz (input only)."""
    np.savez(TEST_PATH, input=np.ascontiguousarray(test[0], dtype=np.float32),
             label=np.ascontiguousarray(test[1], dtype=np.int64))
    np.savez(CALIB_PATH, input=np.ascontiguousarray(calib, dtype=np.float32))


# --------------------------------------------------------------------------- #
# Model
# --------------------------------------------------------------------------- #
def conv_bn(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1,
            relu6: bool = True) -> nn.Sequential:
    """Conv (no bias) + BatchNorm (+ optional ReLU6)."""
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
    ]
    if relu6:
        layers.append(nn.ReLU6())
    return nn.Sequential(*layers)


class DepthwiseSeparable(nn.Module):
    """Depthwise 3x3 + BN + ReLU6, then linear pointwise 1x1 + BN."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.dw = conv_bn(cin, cin, 3, stride=stride, groups=cin)
        self.pw = conv_bn(cin, cout, 1, relu6=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pw(self.dw(x))


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand, depthwise 3x3, 1x1 linear project, + input."""

    def __init__(self, channels: int, expansion: int) -> None:
        super().__init__()
        hidden = channels * expansion
        self.expand = conv_bn(channels, hidden, 1)
        self.dw = conv_bn(hidden, hidden, 3, groups=hidden)
        self.project = conv_bn(hidden, channels, 1, relu6=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.project(self.dw(self.expand(x)))


class DigitsMBV2(nn.Module):
    """Tiny MobileNetV2-style classifier for 1x16x16 digit images."""

    def __init__(self, num_classes: int = NUM_CLASSES) -> None:
        super().__init__()
        self.stem = conv_bn(1, 16, 3)                              # 16 x 16x16
        self.block1 = DepthwiseSeparable(16, 24)                   # 24 x 16x16
        self.block2 = DepthwiseSeparable(24, 32, stride=2)         # 32 x 8x8 (stride-2 stage)
        self.block3 = InvertedResidual(32, expansion=6)            # 32 x 8x8 (hidden 192)
        self.block4 = InvertedResidual(32, expansion=6)            # 32 x 8x8 (hidden 192)
        self.pool = nn.AdaptiveAvgPool2d(1)                        # -> GlobalAveragePool
        self.fc = nn.Linear(32, num_classes)                       # -> Gemm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.block4(self.block3(self.block2(self.block1(self.stem(x)))))
        return self.fc(torch.flatten(self.pool(x), 1))


def count_params(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# --------------------------------------------------------------------------- #
# Training / evaluation
# --------------------------------------------------------------------------- #
def param_groups(model: nn.Module) -> list[dict]:
    """Weight decay on dense conv/linear weights only (not depthwise, BN or biases).

    This is the common MobileNet recipe: depthwise kernels have very few
    weights per channel and are usually left un-regularised.
    """
    decay, no_decay = [], []
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            is_depthwise = isinstance(module, nn.Conv2d) and module.groups > 1
            if name == "weight" and isinstance(module, (nn.Conv2d, nn.Linear)) and not is_depthwise:
                decay.append(p)
            else:
                no_decay.append(p)
    return [{"params": decay, "weight_decay": WEIGHT_DECAY},
            {"params": no_decay, "weight_decay": 0.0}]


def train(model: nn.Module, train_split: Split, seed: int = SEED) -> float:
    """Train with AdamW + one-cycle (cosine) LR schedule; returns wall-clock seconds."""
    x = torch.from_numpy(train_split[0])
    y = torch.from_numpy(train_split[1])
    opt = torch.optim.AdamW(param_groups(model), lr=LEARNING_RATE)
    steps_per_epoch = (len(x) + BATCH_SIZE - 1) // BATCH_SIZE
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=LEARNING_RATE, total_steps=EPOCHS * steps_per_epoch)
    gen = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    model.train()
    for epoch in range(EPOCHS):
        perm = torch.randperm(len(x), generator=gen)
        total = 0.0
        for i in range(0, len(x), BATCH_SIZE):
            idx = perm[i:i + BATCH_SIZE]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        if epoch % 10 == 9 or epoch == EPOCHS - 1:
            print(f"  epoch {epoch + 1:3d}/{EPOCHS}  loss {total / len(x):.4f}")
    model.eval()
    return time.perf_counter() - start


@torch.no_grad()
def accuracy(model: nn.Module, split: Split) -> float:
    """Top-1 accuracy of ``model`` (in eval mode) on ``split``."""
    model.eval()
    logits = model(torch.from_numpy(split[0]))
    return float((logits.argmax(1).numpy() == split[1]).mean())


# --------------------------------------------------------------------------- #
# Naive weight quantization (the baseline qcc must beat)
# --------------------------------------------------------------------------- #
def fold_bn(model: nn.Module) -> nn.Module:
    """Return a copy with every Conv+BN pair folded into a single biased Conv."""
    model = copy.deepcopy(model).eval()
    for seq in model.modules():
        if not isinstance(seq, nn.Sequential) or len(seq) < 2:
            continue
        conv, bn = seq[0], seq[1]
        if not (isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d)):
            continue
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
        fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size,
                          stride=conv.stride, padding=conv.padding, groups=conv.groups, bias=True)
        with torch.no_grad():
            fused.weight.copy_(conv.weight * scale.reshape(-1, 1, 1, 1))
            fused.bias.copy_(bn.bias + (bias - bn.running_mean) * scale)
        seq[0], seq[1] = fused, nn.Identity()
    return model


def fake_quant_weight(w: torch.Tensor, bits: int, per_channel: bool) -> torch.Tensor:
    """Symmetric round-to-nearest fake quantization (per-tensor or per-output-channel)."""
    qmax = 2 ** (bits - 1) - 1
    if per_channel:
        absmax = w.abs().reshape(w.shape[0], -1).amax(1).reshape(-1, *([1] * (w.dim() - 1)))
    else:
        absmax = w.abs().max()
    scale = absmax.clamp_min(1e-12) / qmax
    return torch.clamp(torch.round(w / scale), -qmax, qmax) * scale


def naive_weight_quant_accuracy(model: nn.Module, test: Split, bits: int, per_channel: bool) -> float:
    """Fold BN, fake-quantize every Conv/Linear weight (biases stay float), return test top-1."""
    q = fold_bn(model)
    with torch.no_grad():
        for m in q.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.copy_(fake_quant_weight(m.weight, bits, per_channel))
    return accuracy(q, test)


def depthwise_range_report(model: nn.Module) -> None:
    """Print max/min per-channel |w| ratio of each folded conv (why per-tensor hurts)."""
    folded = fold_bn(model)
    for name, m in folded.named_modules():
        if isinstance(m, nn.Conv2d):
            ch = m.weight.detach().abs().reshape(m.out_channels, -1).amax(1)
            kind = "dw" if m.groups > 1 else "  "
            print(f"  {kind} {name:22s} per-channel absmax  min {ch.min():8.4f}  "
                  f"max {ch.max():8.4f}  ratio {ch.max() / ch.min().clamp_min(1e-12):8.1f}")


# --------------------------------------------------------------------------- #
# ONNX export / verification
# --------------------------------------------------------------------------- #
def export_onnx(model: nn.Module, path: Path) -> None:
    """Export with unfolded BatchNormalization nodes in inference mode.

    The legacy TorchScript exporter fuses Conv+BN whenever ``training`` is
    EVAL.  Exporting an eval-mode model with ``TrainingMode.PRESERVE`` keeps
    BN as separate single-output (inference) BatchNormalization nodes, and
    ``do_constant_folding=False`` stops any other folding.
    """
    model.eval()
    dummy = torch.zeros(1, 1, IMAGE_SIZE, IMAGE_SIZE)
    with warnings.catch_warnings():
        # The legacy exporter is deliberate (clean graph, unfused BN); silence its notice.
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        torch.onnx.export(
            model, (dummy,), str(path),
            dynamo=False,
            opset_version=OPSET,
            input_names=["input"],
            output_names=["logits"],
            training=torch.onnx.TrainingMode.PRESERVE,
            do_constant_folding=False,
            export_params=True,
        )
    # Ensure no external data and a clean, checked model on disk.
    proto = onnx.load(str(path))
    onnx.save_model(proto, str(path), save_as_external_data=False)


def check_onnx(path: Path) -> collections.Counter:
    """Run the ONNX checker and structural assertions; return the op-type histogram."""
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    hist = collections.Counter(n.op_type for n in proto.graph.node)
    for op in ("Conv", "BatchNormalization", "Clip", "Add", "GlobalAveragePool", "Gemm"):
        assert hist[op] > 0, f"expected {op} in exported graph, got {dict(hist)}"
    for n in proto.graph.node:
        if n.op_type == "BatchNormalization":
            assert len(n.output) == 1, "BatchNormalization must have inference semantics"
    assert [i.name for i in proto.graph.input] == ["input"]
    assert [o.name for o in proto.graph.output] == ["logits"]
    dims = [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 1, IMAGE_SIZE, IMAGE_SIZE], dims
    size = path.stat().st_size
    assert size < 1 << 20, f"ONNX file too large: {size} bytes"
    return hist


def onnx_accuracy(path: Path, test: Split) -> tuple[float, np.ndarray]:
    """Top-1 accuracy and predictions of the ONNX model under onnxruntime (batch 1)."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    preds = np.array([int(sess.run(["logits"], {"input": x[None]})[0].argmax())
                      for x in test[0]], dtype=np.int64)
    return float((preds == test[1]).mean()), preds


# --------------------------------------------------------------------------- #
# Main
# --------------------------------------------------------------------------- #
def main() -> None:
    set_determinism()
    x, y = load_images()
    train_split, test_split, calib = split_data(x, y)
    save_datasets(test_split, calib)
    print(f"data: train {len(train_split[0])}  test {len(test_split[0])}  calib {len(calib)}")

    model = DigitsMBV2()
    print(f"model: {count_params(model)} trainable parameters")
    seconds = train(model, train_split)
    train_acc, test_acc = accuracy(model, train_split), accuracy(model, test_split)
    print(f"training took {seconds:.1f}s  train top-1 {train_acc:.4f}  test top-1 {test_acc:.4f}")

    export_onnx(model, ONNX_PATH)
    hist = check_onnx(ONNX_PATH)
    print(f"onnx: {ONNX_PATH.name} ({ONNX_PATH.stat().st_size} bytes) ops {dict(sorted(hist.items()))}")
    ort_acc, ort_preds = onnx_accuracy(ONNX_PATH, test_split)
    with torch.no_grad():
        torch_preds = model(torch.from_numpy(test_split[0])).argmax(1).numpy()
    print(f"onnxruntime test top-1 {ort_acc:.4f} (PyTorch {test_acc:.4f}, "
          f"prediction mismatches {(ort_preds != torch_preds).sum()})")
    assert ort_acc == test_acc, "onnxruntime and PyTorch accuracies differ"

    print("folded-BN weight ranges:")
    depthwise_range_report(model)
    print(f"BN-folded float test top-1 {accuracy(fold_bn(model), test_split):.4f}")
    for bits in (8, 4):
        for per_channel in (False, True):
            acc = naive_weight_quant_accuracy(model, test_split, bits, per_channel)
            gran = "per-channel" if per_channel else "per-tensor "
            print(f"naive INT{bits} {gran} weights: test top-1 {acc:.4f} "
                  f"(delta {100 * (acc - test_acc):+.1f} pts)")


if __name__ == "__main__":
    main()
