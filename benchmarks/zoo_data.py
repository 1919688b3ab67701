"""Real inputs for the zoo: crops of scikit-image's bundled photographs and text pages (fixed crop
boxes from a fixed seed), resized and normalized the way each model's own package prepares its
input, and for magika the bytes of the project's own source files.

Calibration and test samples come from different images (different files for magika), so the
test set measures the quantized model on data calibration did not see.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

# Each split mixes colour and grey pictures; no picture is in both.
PHOTOS = {"calib": ("astronaut", "rocket", "immunohistochemistry", "hubble_deep_field", "camera", "coins"),
          "test": ("coffee", "chelsea", "retina", "clock")}
TEXT_PAGES = {"calib": ("page",), "test": ("text",)}
SEEDS = {"calib": 0, "test": 1}

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)

# magika's standard_v3_3 config.min.json: beg_size, end_size, padding_token, block_size, and
# min_file_size_for_dl (smaller files never reach the model)
MAGIKA_BEG, MAGIKA_END, MAGIKA_PADDING, MAGIKA_BLOCK, MAGIKA_MIN_SIZE = 1024, 1024, 256, 4096, 8
SOURCE_SUFFIXES = (".py", ".md", ".c", ".h", ".toml", ".lark", ".qir")


def load_picture(name: str) -> np.ndarray:
    """A scikit-image sample picture as uint8 RGB (grey pictures repeated over 3 channels)."""
    import skimage.data

    img = np.asarray(getattr(skimage.data, name)())
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    return np.ascontiguousarray(img[:, :, :3]).astype(np.uint8)


def crops(pictures: Sequence[np.ndarray], count: int, seed: int, aspect: float) -> list[np.ndarray]:
    """``count`` crops with width/height ``aspect``, each 50-100% of the largest box that fits,
    taken from the pictures in turn at positions drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        img = pictures[i % len(pictures)]
        h, w = img.shape[:2]
        fit_h = min(h, int(w / aspect))
        crop_h = max(1, int(fit_h * rng.uniform(0.5, 1.0)))
        crop_w = max(1, min(w, int(round(crop_h * aspect))))
        y = int(rng.integers(0, h - crop_h + 1))
        x = int(rng.integers(0, w - crop_w + 1))
        out.append(img[y : y + crop_h, x : x + crop_w])
    return out


def resized(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize to height x width, as float32 in 0..255."""
    from PIL import Image

    return np.asarray(Image.fromarray(img).resize((width, height), Image.BILINEAR), dtype=np.float32)


# ---- per-model normalization: (uint8 RGB crop, sample shape without batch) -> sample ---------------


def rgb01_nchw(img: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """YOLO-style: RGB scaled to 0..1, channels first."""
    return (resized(img, shape[1], shape[2]) / 255.0).transpose(2, 0, 1)


def imagenet_nchw(img: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """torchvision's and Paddle's ImageNet normalization, channels first."""
    return ((resized(img, shape[1], shape[2]) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1)


def mtcnn_nhwc(img: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """MTCNN's (x - 127.5) / 128, channels last."""
    return (resized(img, shape[0], shape[1]) - 127.5) / 128.0


def ocr_gray(img: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """ddddocr's recognizer input: grey, scaled to 0..1, then (x - 0.5) / 0.5, one channel."""
    from PIL import Image

    grey = np.asarray(Image.fromarray(img).convert("L").resize((shape[2], shape[1]), Image.BILINEAR), dtype=np.float32)
    return ((grey / 255.0 - 0.5) / 0.5)[None]


def text_imagenet_nchw(img: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """PaddleOCR's detector input: a page as RGB, scaled to 0..1, ImageNet mean/std, channels first."""
    return imagenet_nchw(img, shape)


def ocr_rgb_nchw(img: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """PaddleOCR's recognizer and direction classifier input: RGB, scaled to 0..1, then (x - 0.5) / 0.5,
    channels first."""
    return ((resized(img, shape[1], shape[2]) / 255.0 - 0.5) / 0.5).transpose(2, 0, 1)


def magika_features(content: bytes) -> np.ndarray:
    """magika 1.0.3's features of a file (Magika._extract_features_from_seekable): the first block
    left-stripped, its first 1024 bytes padded at the end; the last block right-stripped, its last
    1024 bytes padded at the front; padding token 256."""
    block = min(MAGIKA_BLOCK, len(content))
    beg = list(content[:block].lstrip()[:MAGIKA_BEG])
    end = list(content[len(content) - block :].rstrip()[-MAGIKA_END:]) if block else []
    beg = beg + [MAGIKA_PADDING] * (MAGIKA_BEG - len(beg))
    end = [MAGIKA_PADDING] * (MAGIKA_END - len(end)) + end
    return np.array(beg + end, dtype=np.int32)


@dataclass(frozen=True)
class Preparation:
    pictures: dict[str, tuple[str, ...]] | None  # per split; None: the model reads files
    normalize: Callable[[np.ndarray, tuple[int, ...]], np.ndarray] | None


PREPARATIONS: dict[str, Preparation] = {
    "rgb01": Preparation(PHOTOS, rgb01_nchw),
    "imagenet": Preparation(PHOTOS, imagenet_nchw),
    "mtcnn_nhwc": Preparation(PHOTOS, mtcnn_nhwc),
    "ocr_gray": Preparation(TEXT_PAGES, ocr_gray),
    "text_imagenet": Preparation(TEXT_PAGES, text_imagenet_nchw),
    "ocr_rgb": Preparation(TEXT_PAGES, ocr_rgb_nchw),
    "file_bytes": Preparation(None, None),
}


def source_files(root: Path = ROOT) -> list[Path]:
    """The project's own text files big enough for magika's model, in a fixed order."""
    return sorted(p for p in root.rglob("*") if p.suffix in SOURCE_SUFFIXES and p.is_file()
                  and not any(part.startswith(".") or part.endswith(".egg-info") for part in p.relative_to(root).parts)
                  and len(p.read_bytes().strip()) >= MAGIKA_MIN_SIZE)


def samples(preparation: str, shape: tuple[int, ...], split: str, count: int, files: Sequence[Path] | None = None) -> np.ndarray:
    """``count`` samples of one input of batch-1 ``shape``, stacked on the batch axis."""
    prep = PREPARATIONS[preparation]
    if prep.pictures is None or prep.normalize is None:
        chosen = list(files if files is not None else source_files())
        np.random.default_rng(0).shuffle(chosen)  # the same order for both splits; calib first
        start = 0 if split == "calib" else len(chosen) - count
        picked = chosen[start : start + count]
        return np.stack([magika_features(p.read_bytes()) for p in picked]).reshape((count, *shape[1:]))
    sample_shape = tuple(shape[1:])
    height, width = (sample_shape[0], sample_shape[1]) if preparation == "mtcnn_nhwc" else (sample_shape[1], sample_shape[2])
    pictures = [load_picture(name) for name in prep.pictures[split]]
    boxes = crops(pictures, count, SEEDS[split], aspect=width / height)
    return np.stack([prep.normalize(c, sample_shape) for c in boxes]).astype(np.float32)
