"""Score precision of detector outputs that join boxes and scores (docs/arithmetic.md §3.17): qcc's
per-axis output parameters next to onnxruntime's ``quantize_static`` (QDQ, per-channel int8 weights,
int8 activations, MinMax), on the heads of tests/quant/detector_heads.py with the same calibration
(32 samples) and evaluation (8 samples) feeds.

    python benchmarks/joined_outputs_vs_onnxruntime.py [--ddddocr PATH/common_det.onnx]

With --ddddocr, also the real detector the heads imitate (``pip download --no-deps ddddocr==1.6.1``,
unzip, ``ddddocr/common_det.onnx``), on synthetic captcha-like 416x416 images in ddddocr's 0..255
input range (8 calibration, 3 evaluation): no real images ship with qcc.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import onnx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qcc import PassContext, import_model, run, run_pipeline  # noqa: E402
from qcc.backends.numpy_int.executor import run_integer  # noqa: E402
from tests.quant.detector_heads import HEADS, box_part, features, score_part  # noqa: E402
from tests.quant.onnxruntime_qdq import quantize_static_outputs  # noqa: E402
from tests.quant.test_joined_outputs import PIPELINE, outputs, quantized_head, sqnr_db  # noqa: E402


def captcha_image(rng: np.random.Generator) -> np.ndarray:
    """[1, 3, 416, 416] float32 in 0..255: a light, noisy text box on ddddocr's grey padding (114),
    with 4 to 6 characters drawn as clusters of thick dark strokes."""
    image = np.full((416, 416, 3), 114.0)
    h, w = int(rng.integers(120, 200)), int(rng.integers(300, 416))
    box = image[:h, :w]
    box[:] = rng.uniform(200, 250, 3) + rng.normal(0, 12, (h, w, 3))
    yy, xx = np.mgrid[:h, :w]
    for _ in range(int(rng.integers(4, 7))):
        cx, cy, colour = rng.uniform(30, w - 30), rng.uniform(30, h - 30), rng.uniform(0, 120, 3)
        for _ in range(3):
            x0, y0, x1, y1 = cx + rng.uniform(-20, 20), cy + rng.uniform(-25, 25), cx + rng.uniform(-20, 20), cy + rng.uniform(-25, 25)
            t = np.clip(((xx - x0) * (x1 - x0) + (yy - y0) * (y1 - y0)) / ((x1 - x0) ** 2 + (y1 - y0) ** 2 + 1e-6), 0, 1)
            box[np.hypot(xx - (x0 + t * (x1 - x0)), yy - (y0 + t * (y1 - y0))) < 3.5] = colour
    return np.clip(image, 0, 255).transpose(2, 0, 1)[None].astype(np.float32)


def ddddocr_row(path: Path) -> str:
    """Scores are output columns 4.. (objectness, class), boxes 0..3 (undecoded regressions)."""
    rng = np.random.default_rng(0)
    calibration = [{"images": captcha_image(rng)} for _ in range(8)]
    evaluation = [{"images": captcha_image(rng)} for _ in range(3)]
    model = onnx.load(path)
    quantized = run_pipeline(import_model(model), PIPELINE, PassContext(calibration=calibration))
    graph = import_model(model)
    reference = np.concatenate([run(graph, x)["output"] for x in evaluation])
    ours = np.concatenate([run_integer(quantized, x)["output"] for x in evaluation])
    theirs = np.concatenate(quantize_static_outputs(model, calibration, evaluation))
    cells = [sqnr_db(reference[..., cols], got[..., cols]) for cols in (slice(4, None), slice(0, 4)) for got in (ours, theirs)]
    return "| ddddocr common_det (real) | " + " | ".join(f"{c:.1f}" for c in cells) + " |"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ddddocr", type=Path, help="path to ddddocr 1.6.1's common_det.onnx")
    args = parser.parse_args()
    print("| head | qcc score SQNR (dB) | onnxruntime score SQNR (dB) | qcc box SQNR (dB) | onnxruntime box SQNR (dB) |")
    print("|---|---:|---:|---:|---:|")
    for kind in HEADS:
        model, quantized = quantized_head(kind)
        reference = outputs(import_model(model), kind, integer=False)
        ours = outputs(quantized, kind, integer=True)
        theirs = np.concatenate(quantize_static_outputs(model, features(kind, 32, seed=1), features(kind, 8, seed=2)))
        cells = [sqnr_db(part(kind, reference), part(kind, got)) for part in (score_part, box_part) for got in (ours, theirs)]
        print(f"| {kind} | " + " | ".join(f"{c:.1f}" for c in cells) + " |")
    if args.ddddocr is not None:
        print(ddddocr_row(args.ddddocr))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
