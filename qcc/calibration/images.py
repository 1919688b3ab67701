"""Images as calibration and evaluation data, so users need no Python loop to turn photographs into
an ``.npz``.

``image_folder(path, preprocess)`` reads every file of a folder in sorted name order; ``images(items,
preprocess)`` takes any iterable of Pillow images (or 8/16-bit pixel arrays). Both decode one image
at a time, when ``CalibrationSet`` asks for the next sample, so memory is flat in the number of
images. The steps a spec describes are in docs/data.md. Pillow is an optional extra (``qcc[images]``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sized
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qcc.calibration.preprocess import COLORS, Preprocess, check_channels, parse_preprocess
from qcc.errors import InputError
from qcc.ir.core import Graph

Feeds = dict[str, np.ndarray]


def _pillow() -> Any:
    """PIL.Image, or the one-line error saying which extra installs it."""
    try:
        from PIL import Image
    except ImportError:
        raise InputError("reading images needs Pillow: pip install 'qcc[images]'") from None
    return Image


def as_preprocess(spec: Preprocess | str | None) -> Preprocess:
    """A spec given as text (the CLI's form), parsed, or an already parsed one; None is all defaults."""
    if spec is None:
        return Preprocess()
    return parse_preprocess(spec) if isinstance(spec, str) else spec


class ImageSource:
    """Images preprocessed into one model input. Subclasses list the images as (label, image) pairs,
    the label naming the image in errors."""

    def __init__(self, preprocess: Preprocess | str | None = None) -> None:
        self.preprocess = as_preprocess(preprocess)

    def labelled_images(self) -> Iterator[tuple[str, Any]]:
        raise NotImplementedError

    def count(self) -> int | None:
        """Number of images if known without decoding them (None for a plain iterator)."""
        raise NotImplementedError

    def feeds(self, graph: Graph) -> Iterator[Feeds]:
        """One feed dict per image, for the graph input the spec names (or the graph's only input)."""
        target = bind(self.preprocess, graph)
        for label, image in self.labelled_images():
            yield {target.input: target.array(image, label)}


class ImageFolder(ImageSource):
    """Every (non-hidden) file of a folder, sorted by name so runs are repeatable; a file that is not
    an image is an error naming it, not skipped."""

    def __init__(self, path: str | os.PathLike[str], preprocess: Preprocess | str | None = None) -> None:
        super().__init__(preprocess)
        self.path = Path(path)
        if not self.path.is_dir():
            raise InputError(f"image folder '{self.path}' is not a folder (--preprocess applies to a folder of images)")
        self.files = sorted(f for f in self.path.iterdir() if f.is_file() and not f.name.startswith("."))
        if not self.files:
            raise InputError(f"folder '{self.path}' holds no .npy files and no images")

    def count(self) -> int:
        return len(self.files)

    def __str__(self) -> str:
        return str(self.path)

    def labelled_images(self) -> Iterator[tuple[str, Any]]:
        image_module = _pillow()
        for file in self.files:
            yield str(file), _decode(image_module, file)


class ImageIterable(ImageSource):
    """Any iterable of Pillow images or pixel arrays (HxW or HxWxC, as ``Image.fromarray`` takes
    them). Pass a list (or another re-iterable) when the pipeline reads the data more than once."""

    def __init__(self, items: Iterable[Any], preprocess: Preprocess | str | None = None) -> None:
        super().__init__(preprocess)
        self.items = items

    def count(self) -> int | None:
        return len(self.items) if isinstance(self.items, Sized) else None

    def __str__(self) -> str:
        return "<images>"

    def labelled_images(self) -> Iterator[tuple[str, Any]]:
        image_module = _pillow()
        for index, item in enumerate(self.items):
            label = f"image {index}"
            if isinstance(item, np.ndarray):
                try:
                    item = image_module.fromarray(item)
                except (TypeError, ValueError) as e:
                    raise InputError(f"{label}: a {item.dtype} array of shape {list(item.shape)} is not an image ({_first_line(e)})") from None
            elif not isinstance(item, image_module.Image):
                raise InputError(f"{label}: expected a Pillow image or a pixel array, got {type(item).__name__}")
            yield label, item


def image_folder(path: str | os.PathLike[str], preprocess: Preprocess | str | None = None) -> ImageFolder:
    """Calibration/evaluation data from a folder of image files: pass the result as ``calibration=``
    (``PassContext``, ``compile_model``) or as ``evaluate_quantized``'s data."""
    return ImageFolder(path, preprocess)


def images(items: Iterable[Any], preprocess: Preprocess | str | None = None) -> ImageIterable:
    """Calibration/evaluation data from Pillow images (or pixel arrays) with the same preprocessing
    as ``image_folder``."""
    return ImageIterable(items, preprocess)


def data_source(path: str | None, preprocess: str | None, option: str) -> Any:
    """What the CLI passes on for ``--calib``/``--data`` PATH: an image folder when ``--preprocess``
    is given, else the path (``CalibrationSet`` opens it, including a folder of images with the
    default preprocessing)."""
    if preprocess is None:
        return path
    if path is None:
        raise InputError(f"--preprocess describes the images of {option} DIR, and there is no {option}")
    return ImageFolder(path, preprocess)


def _decode(image_module: Any, file: Path) -> Any:
    """The file's first frame, fully read now so a truncated file fails here, naming the file.
    ``verify`` first: Pillow decodes a PNG cut after its pixel data without complaint, while its
    checksums and end chunk show the damage."""
    try:
        with image_module.open(file) as opened:
            opened.verify()
        with image_module.open(file) as opened:
            opened.load()
            return opened.copy()
    except (OSError, ValueError, SyntaxError, image_module.DecompressionBombError) as e:
        raise InputError(f"'{file}': not a readable image ({_first_line(e)})") from None


def _first_line(error: BaseException) -> str:
    text = str(error)
    return text.splitlines()[0] if text else type(error).__name__


@dataclass(frozen=True)
class BoundPreprocess:
    """A spec resolved against the model input it feeds: every default decided, every size known."""

    spec: Preprocess
    input: str
    color: str
    height: int
    width: int
    dtype: np.dtype

    def array(self, image: Any, label: str) -> np.ndarray:
        """One image as the input array (see docs/data.md for the order of the steps)."""
        image = self._resized(self._converted(image, label), label)
        pixels = np.asarray(image).astype(np.float64)
        if pixels.ndim == 2:
            pixels = pixels[:, :, None]
        if pixels.shape[:2] != (self.height, self.width):
            raise InputError(f"'{label}': image is {pixels.shape[1]}x{pixels.shape[0]} after preprocessing but input '{self.input}' "
                             f"takes {self.width}x{self.height} (set resize= and/or crop=)")
        if self.color == "BGR":
            pixels = pixels[:, :, ::-1]
        pixels = pixels * self.spec.scale
        if self.spec.mean is not None:
            pixels = pixels - np.asarray(self.spec.mean)
        if self.spec.std is not None:
            pixels = pixels / np.asarray(self.spec.std)
        if self.spec.channels_first():
            pixels = pixels.transpose(2, 0, 1)
        if self.spec.batched:
            pixels = pixels[None]
        return self._cast(pixels, label)

    def _converted(self, image: Any, label: str) -> Any:
        """The image in the spec's colour. Grey images of any depth (8/16-bit, float) stay as they are
        for color=L; 16-bit or float images cannot become RGB without losing precision."""
        from PIL import ImageMode

        bands = len(image.getbands())
        if self.color == "L" and bands == 1 and image.mode not in ("1", "P"):
            return image
        if ImageMode.getmode(image.mode).typestr[1:] not in ("u1", "b1"):  # 8-bit (or 1-bit) bands only
            raise InputError(f"'{label}': a mode {image.mode} image cannot become color={self.color} (16-bit and float images feed color=L only)")
        return image.convert("L" if self.color == "L" else "RGB")

    def _resized(self, image: Any, label: str) -> Any:
        resample = getattr(_pillow().Resampling, self.spec.resample.upper())
        width, height = image.size
        if self.spec.resize is not None:
            size = self.spec.resize
            if size.height is None:  # shorter side to N, the other in proportion (truncated, as torchvision does)
                short, long = sorted((width, height))
                target = (size.width, size.width * long // short)
                size_wh = target if width <= height else target[::-1]
            else:
                size_wh = (size.width, size.height)
            image = image.resize(size_wh, resample)
            width, height = image.size
        if self.spec.crop is not None:
            crop_w = self.spec.crop.width
            crop_h = self.spec.crop.height or crop_w
            if crop_w > width or crop_h > height:
                raise InputError(f"'{label}': crop={self.spec.crop} is larger than the {width}x{height} image (resize first)")
            left, top = int(round((width - crop_w) / 2)), int(round((height - crop_h) / 2))
            image = image.crop((left, top, left + crop_w, top + crop_h))
        return image

    def _cast(self, pixels: np.ndarray, label: str) -> np.ndarray:
        if self.dtype.kind == "f":
            return pixels.astype(self.dtype)
        info = np.iinfo(self.dtype)
        if not (np.all(pixels == np.round(pixels)) and pixels.min() >= info.min and pixels.max() <= info.max):
            raise InputError(f"'{label}': dtype={self.dtype} needs whole numbers in [{info.min}, {info.max}] after scale/mean/std")
        return pixels.astype(self.dtype)


def bind(spec: Preprocess, graph: Graph) -> BoundPreprocess:
    """Resolve a spec against the graph input it feeds; every mismatch is an error before any image
    is decoded."""
    names = [v.name for v in graph.inputs]
    if spec.input is not None and spec.input not in names:
        raise InputError(f"--preprocess input={spec.input}: the model has no such input (inputs: {', '.join(names)})")
    if spec.input is None and len(names) != 1:
        raise InputError(f"images feed one input but the model has {len(names)} ({', '.join(names)}): name it with --preprocess 'input=NAME,...'")
    name = spec.input or names[0]
    others = [n for n in names if n != name]
    if others:
        raise InputError(f"images feed input '{name}' only, and the model also needs {', '.join(repr(n) for n in others)}: use an .npz keyed by input name")
    value = graph.inputs[names.index(name)]
    shape = value.type.shape
    if len(shape) != len(spec.layout) or not value.type.is_static:
        raise InputError(f"layout={spec.layout} needs a static rank-{len(spec.layout)} input; '{name}' is {value.type}")
    dims = dict(zip(spec.layout, value.type.static_shape))
    if spec.batched and dims["N"] != 1:
        raise InputError(f"images are single samples but input '{name}' has batch {dims['N']} (fix it with --input-shape {name}=1x...)")
    channels = dims["C"]
    color = spec.color or {1: "L", 3: "RGB"}.get(channels)
    if color is None:
        raise InputError(f"input '{name}' has {channels} channels at C of layout={spec.layout}; images give 1 (color=L) or 3 (color=RGB|BGR)")
    if COLORS[color] != channels:
        raise InputError(f"color={color} gives {COLORS[color]} channel(s) but input '{name}' has {channels} at C of layout={spec.layout}")
    check_channels(spec.mean, spec.std, channels, f"input '{name}'")
    dtype = np.dtype(spec.dtype) if spec.dtype else value.type.dtype.numpy
    return BoundPreprocess(spec, name, color, dims["H"], dims["W"], dtype)
