"""Calibration and evaluation data straight from image files: a folder of PNG/JPEG reads exactly what
a user's own Pillow loop would have saved to an .npz, in sorted name order, one image at a time;
bad files and specs that do not fit the model are one line naming the file or key."""

from __future__ import annotations

import re
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from qcc import PassContext, parse, run_pipeline, to_text
from qcc.calibration.images import image_folder, images
from qcc.calibration.source import CalibrationSet
from qcc.errors import InputError
from qcc.ir import DType, Graph, TensorType
from tests.quant.example_model import CALIB, MODEL
from tests.test_cli import assert_clean_error, qcc

Image = pytest.importorskip("PIL.Image")

IMAGENET = "scale=1/255,mean=0.485,0.456,0.406,std=0.229,0.224,0.225"


def relu_graph(shape: str) -> Graph:
    return parse(f"graph @g(%x: f32[{shape}]) -> (%y: f32[{shape}]) {{\n  %y = relu(%x) : f32[{shape}]\n  return %y\n}}\n")


def photographs() -> list[np.ndarray]:
    """scikit-image's photographs (odd sizes, portrait and landscape) when it is installed, else
    smooth random pictures of the same sizes."""
    try:
        import skimage.data
    except ImportError:
        rng = np.random.default_rng(0)
        sizes = [(512, 512), (400, 600), (300, 451), (427, 640)]
        return [np.clip(np.cumsum(rng.normal(size=(h, w, 3)), axis=1) * 4 + 128, 0, 255).astype(np.uint8) for h, w in sizes]
    return [skimage.data.astronaut(), skimage.data.coffee(), skimage.data.chelsea(), skimage.data.rocket()]


def write_images(folder: Path, pictures: list[np.ndarray], suffix: str) -> list[Path]:
    folder.mkdir(exist_ok=True)
    files = [folder / f"{i:03d}{suffix}" for i in range(len(pictures))]
    for file, picture in zip(files, pictures):
        Image.fromarray(picture).save(file, quality=90) if suffix == ".jpg" else Image.fromarray(picture).save(file)
    return files


def users_own_loop(files: list[Path], short_side: int, crop: int) -> np.ndarray:
    """What users wrote before --preprocess: decode, resize the shorter side, centre-crop, scale,
    normalise, channels first, stacked for an .npz."""
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    samples = []
    for file in files:
        img = Image.open(file).convert("RGB")
        w, h = img.size
        img = img.resize((short_side, short_side * h // w) if w <= h else (short_side * w // h, short_side), Image.BILINEAR)
        w, h = img.size
        left, top = round((w - crop) / 2), round((h - crop) / 2)
        pixels = np.asarray(img.crop((left, top, left + crop, top + crop)), np.float64)
        samples.append(((pixels * (1 / 255) - mean) / std).transpose(2, 0, 1).astype(np.float32))
    return np.stack(samples)


def stacked(graph: Graph, source: object) -> np.ndarray:
    return np.concatenate([feeds["x"] for feeds in CalibrationSet(graph, source)])


def test_jpeg_photographs_calibrate_exactly_like_the_npz_of_the_users_loop(tmp_path: Path) -> None:
    files = write_images(tmp_path / "photos", photographs(), ".jpg")
    np.savez(tmp_path / "photos.npz", x=users_own_loop(files, 40, 32))
    graph = relu_graph("1,3,32,32")
    folder = image_folder(tmp_path / "photos", f"resize=40,crop=32,{IMAGENET}")
    assert np.array_equal(stacked(graph, folder), np.load(tmp_path / "photos.npz")["x"])
    ranges = [to_text(run_pipeline(relu_graph("1,3,32,32"), "quant-scheme{method=minmax},calibrate", PassContext(calibration=data)))
              for data in (folder, str(tmp_path / "photos.npz"))]
    assert ranges[0] == ranges[1] and "scale" in ranges[0]


def test_bgr_and_channels_last_are_the_same_pixels_reordered(tmp_path: Path) -> None:
    write_images(tmp_path / "photos", photographs(), ".png")
    rgb = stacked(relu_graph("1,3,24,24"), image_folder(tmp_path / "photos", "resize=24x24"))
    bgr_last = stacked(relu_graph("1,24,24,3"), image_folder(tmp_path / "photos", "resize=24x24,color=BGR,layout=NHWC"))
    assert np.array_equal(bgr_last, rgb.transpose(0, 2, 3, 1)[..., ::-1])
    grey = stacked(relu_graph("1,24,24"), image_folder(tmp_path / "photos", "resize=24x24,layout=CHW"))  # 1 channel: color=L
    assert grey.shape == (4 * 1, 24, 24) and grey.max() <= 255


def test_the_example_model_from_16_bit_pngs_gets_the_npz_ranges(tmp_path: Path) -> None:
    """calib.npz holds k/256 for k in 0..256; 16-bit grey PNGs of k with scale=1/256 invert the
    writing exactly, so quantize writes the same bytes, eval prints the same report, and compile
    checks its C on the images."""
    digits = np.load(CALIB)["input"]
    write_images(tmp_path / "digits", [np.round(d[0] * 256).astype(np.uint16) for d in digits], ".png")
    for name, data in (("npz", [CALIB]), ("png", [tmp_path / "digits", "--preprocess", "scale=1/256"])):
        proc = qcc("quantize", MODEL, "--calib", *data, "-o", tmp_path / f"{name}.qir")
        assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "npz.qir").read_bytes() == (tmp_path / "png.qir").read_bytes()
    assert (tmp_path / "npz.npz").read_bytes() == (tmp_path / "png.npz").read_bytes()
    reports = [qcc("eval", MODEL, tmp_path / "png.qir", "--data", *data, "--limit", "16").stdout
               for data in ([CALIB], [tmp_path / "digits", "--preprocess", "scale=1/256"])]
    assert reports[0] == reports[1] and "SQNR" in reports[0]
    proc = qcc("compile", MODEL, "--calib", tmp_path / "digits", "--preprocess", "scale=1/256", "-o", tmp_path / "out", "--verify", "3")
    assert proc.returncode == 0, proc.stderr
    assert "byte-equal to the integer reference on 3 calibration sample(s)" in proc.stdout  # the C checked on decoded images


def test_files_are_read_in_name_order_and_pillow_images_and_arrays_read_the_same(tmp_path: Path) -> None:
    graph = relu_graph("1,1,4,4")
    for name, value in (("b.png", 20), ("a.png", 10), ("c.png", 30)):
        Image.fromarray(np.full((4, 4), value, np.uint8)).save(tmp_path / name)
    (tmp_path / ".hidden").write_text("editors leave these; not an image, not read")
    from_folder = stacked(graph, image_folder(tmp_path, "scale=1/10"))
    assert [float(s.max()) for s in from_folder] == [1.0, 2.0, 3.0]
    pillow = [Image.open(tmp_path / name) for name in ("a.png", "b.png", "c.png")]
    assert np.array_equal(stacked(graph, images(pillow, "scale=1/10")), from_folder)
    assert np.array_equal(stacked(graph, images([np.full((4, 4), v, np.uint8) for v in (10, 20, 30)], "scale=1/10")), from_folder)
    assert np.array_equal(stacked(graph, list(from_folder[:, None])), from_folder)  # ready arrays need no preprocessing
    assert CalibrationSet(graph, image_folder(tmp_path)).count() == 3
    streamed = CalibrationSet(graph, images(iter(pillow), "scale=1/10"))  # a one-pass iterator: count unknown, read once
    assert streamed.count() is None and np.array_equal(np.concatenate([f["x"] for f in streamed]), from_folder)
    assert CalibrationSet(graph, str(tmp_path)).count() == 3  # a plain path to an image folder: default preprocessing


def test_integer_inputs_take_whole_pixel_values(tmp_path: Path) -> None:
    graph = Graph("g")
    graph.outputs = [graph.add_input("x", TensorType(DType.U8, (1, 1, 2, 2)))]
    Image.fromarray(np.array([[0, 7], [200, 255]], np.uint8)).save(tmp_path / "a.png")
    assert np.array_equal(stacked(graph, image_folder(tmp_path)), [[[[0, 7], [200, 255]]]])
    with pytest.raises(InputError, match=re.escape("a.png': dtype=uint8 needs whole numbers in [0, 255] after scale/mean/std")):
        stacked(graph, image_folder(tmp_path, "scale=1/2"))


def _write_16_bit(path: Path) -> None:
    Image.fromarray(np.full((8, 8), 1000, np.uint16)).save(path)


@pytest.mark.parametrize(
    "spec, shape, bad, message",
    [
        ("", "1,1,8,8", lambda p: p.write_text("not a picture"), "bad.png': not a readable image (cannot identify image file"),
        ("", "1,1,8,8", lambda p: p.write_bytes(_png_bytes()[:60]), "bad.png': not a readable image"),
        ("", "1,3,8,8", _write_16_bit, "bad.png': a mode I;16 image cannot become color=RGB"),
        ("", "1,1,6,6", None, "a.png': image is 8x8 after preprocessing but input 'x' takes 6x6 (set resize= and/or crop=)"),
        ("crop=10", "1,1,10,10", None, "a.png': crop=10 is larger than the 8x8 image"),
        ("color=RGB", "1,1,8,8", None, "color=RGB gives 3 channel(s) but input 'x' has 1 at C of layout=NCHW"),
        ("mean=0.5,0.5", "1,3,8,8", None, "mean has 2 value(s) but input 'x' has 3 channel(s)"),
        ("", "1,4,8,8", None, "input 'x' has 4 channels at C of layout=NCHW; images give 1 (color=L) or 3"),
        ("layout=NHWC", "1,8,8", None, "layout=NHWC needs a static rank-4 input; 'x' is f32[1,8,8]"),
        ("", "2,1,8,8", None, "images are single samples but input 'x' has batch 2"),
        ("input=y", "1,1,8,8", None, "--preprocess input=y: the model has no such input (inputs: x)"),
    ],
)
def test_bad_images_and_misfit_specs_are_one_line_naming_the_file_or_key(tmp_path: Path, spec, shape, bad, message) -> None:
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "a.png")
    if bad is not None:
        bad(tmp_path / "bad.png")
    with pytest.raises(InputError, match=re.escape(message)):
        stacked(relu_graph(shape), image_folder(tmp_path, spec))


def _png_bytes() -> bytes:
    import io

    buffer = io.BytesIO()
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_images_feed_one_input_of_a_model_with_several(tmp_path: Path) -> None:
    graph = parse("graph @g(%a: f32[1,1,8,8], %b: f32[1,1,8,8]) -> (%y: f32[1,1,8,8]) {\n  %y = add(%a, %b) : f32[1,1,8,8]\n  return %y\n}\n")
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "a.png")
    with pytest.raises(InputError, match=re.escape("images feed one input but the model has 2 (a, b): name it with --preprocess 'input=NAME,...'")):
        stacked(graph, image_folder(tmp_path))
    with pytest.raises(InputError, match=re.escape("images feed input 'a' only, and the model also needs 'b': use an .npz keyed by input name")):
        stacked(graph, image_folder(tmp_path, "input=a"))


def test_without_pillow_the_error_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "a.png")
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(InputError, match=re.escape("reading images needs Pillow: pip install 'qcc[images]'")):
        stacked(relu_graph("1,1,8,8"), image_folder(tmp_path))


def test_a_corrupt_image_stops_the_cli_with_one_line_and_writes_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "digits"
    write_images(folder, [np.zeros((16, 16), np.uint8)] * 3, ".png")
    (folder / "001.png").write_bytes((folder / "001.png").read_bytes()[:50])
    proc = qcc("quantize", MODEL, "--calib", folder, "--preprocess", "scale=1/255", "-o", tmp_path / "q.qir")
    assert_clean_error(proc, f"'{folder / '001.png'}': not a readable image")
    assert not (tmp_path / "q.qir").exists()
    assert_clean_error(qcc("quantize", MODEL, "--calib", CALIB, "--preprocess", "scale=1/255", "-o", tmp_path / "q.qir"), "is not a folder")
    assert_clean_error(qcc("compile", MODEL, "--preprocess", "scale=1/255", "-o", tmp_path / "out"), "there is no --calib")
    assert_clean_error(qcc("quantize", MODEL, "--calib", folder, "--preprocess", "scale=1/255,sacle=2", "-o", tmp_path / "q.qir"), "unknown key 'sacle'")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["digits"]


def _peak_bytes(folder: Path) -> int:
    graph = relu_graph("1,3,32,32")
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        run_pipeline(graph, "quant-scheme{method=minmax},calibrate", PassContext(calibration=image_folder(folder, "scale=1/255")))
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_is_flat_in_the_number_of_images(tmp_path: Path) -> None:
    """400 images peak within 25% of 100 (held all at once, their float64 pixels alone would be
    9.8 MB against 2.5 MB). Both counts exceed calibrate's largest batch (64 samples, stacked on
    purpose), the one thing allowed to grow with the count."""
    rng = np.random.default_rng(0)
    pictures = [rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8) for _ in range(400)]
    write_images(tmp_path / "few", pictures[:100], ".png")
    write_images(tmp_path / "many", pictures, ".png")
    _peak_bytes(tmp_path / "few")  # the first run also allocates what qcc keeps for later (caches, lazy imports)
    few, many = _peak_bytes(tmp_path / "few"), _peak_bytes(tmp_path / "many")
    assert many < 1.25 * few, (few, many)  # measured: 3.25 MB and 3.37 MB
