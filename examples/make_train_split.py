"""Write the example model's labelled training data for ``qcc train`` (no torch needed).

``make_digits_model.py`` trained ``digits_mbv2.onnx`` on 1437 scikit-learn digits and shipped only
the calibration (first 256 training images) and test splits. This script rebuilds the same training
split with numpy: the same seeded permutation and the same bilinear 8x8 -> 16x16 upsampling
(PyTorch's ``align_corners=False`` rule, written out below), and checks itself against the shipped
``calib.npz`` byte for byte. It writes

* ``train.npz``: ``input`` float32 [1237, 1, 16, 16], ``label`` int64: training images for QAT;
* ``val.npz``: the last 200 training images, for per-epoch validation (``test.npz`` stays held out).

The files (1.3 MB and 0.2 MB) are not committed; run ``python examples/make_train_split.py`` to make
them (needs scikit-learn, whose wheel ships the digits data).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

SEED = 0
NUM_TEST = 360
NUM_VAL = 200
IMAGE_SIZE = 16
OUT_DIR = Path(__file__).resolve().parent


def source_index(out_size: int, in_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each output pixel: the two input pixels it interpolates and the weight of the second,
    by the half-pixel rule ``src = (dst + 0.5) * in/out - 0.5`` clamped at 0 (align_corners=False)."""
    scale = np.float32(in_size / out_size)
    src = np.maximum((np.arange(out_size, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5), np.float32(0))
    low = np.floor(src).astype(np.int64)
    high = np.minimum(low + 1, in_size - 1)
    return low, high, (src - low).astype(np.float32)


def upsample(images: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of [N, H, W] float32 images to [N, size, size]."""
    h0, h1, hw = source_index(size, images.shape[1])
    w0, w1, ww = source_index(size, images.shape[2])
    hw, ww = hw[:, None], ww[None, :]
    top = images[:, h0][:, :, w0] * (1 - ww) + images[:, h0][:, :, w1] * ww
    bottom = images[:, h1][:, :, w0] * (1 - ww) + images[:, h1][:, :, w1] * ww
    return np.clip((1 - hw) * top + hw * bottom, 0.0, 1.0).astype(np.float32)


def training_split() -> tuple[np.ndarray, np.ndarray]:
    digits = load_digits()
    x = upsample(digits.images.astype(np.float32) / 16.0, IMAGE_SIZE)[:, None]
    y = digits.target.astype(np.int64)
    train = np.random.default_rng(SEED).permutation(len(x))[NUM_TEST:]
    return x[train], y[train]


def main() -> None:
    x, y = training_split()
    with np.load(OUT_DIR / "calib.npz") as calib:
        shipped = calib["input"]
    if not np.allclose(x[: len(shipped)], shipped, rtol=0, atol=1e-6):
        raise SystemExit("the rebuilt training split does not match calib.npz; the digits data or the split rule changed")
    np.savez(OUT_DIR / "train.npz", input=x[:-NUM_VAL], label=y[:-NUM_VAL])
    np.savez(OUT_DIR / "val.npz", input=x[-NUM_VAL:], label=y[-NUM_VAL:])
    print(f"wrote train.npz ({len(x) - NUM_VAL} images) and val.npz ({NUM_VAL}); max |difference| to calib.npz "
          f"{float(np.abs(x[: len(shipped)] - shipped).max()):.3g}")


if __name__ == "__main__":
    main()
