"""SQNR of a detector output's box part and class-score part, qcc next to onnxruntime, on a model the
zoo has already run (benchmarks/zoo.py leaves the float model, qcc's quantized IR, onnxruntime's QDQ
model and the test inputs in its work folder).

    python benchmarks/detector_score_part.py --run ~/.cache/qcc/zoo/runs/yolov8n-op17 \\
        --model ~/.cache/qcc/zoo/exported/yolov8n-op17.onnx --axis 1 --boxes 4

YOLOv8 writes [1, 4 + classes, anchors]: rows 0-3 are boxes in pixels, the rest sigmoid scores in
0..1; one int8 scale for both rounds the scores away (docs/arithmetic.md §3.17). onnxruntime's QDQ
model runs with graph optimizations off (its quantization, not this CPU's int8 kernels).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qcc.analysis.error import ErrorStats  # noqa: E402
from qcc.backends.numpy_int.executor import run_integer  # noqa: E402
from qcc.model_io import load_graph  # noqa: E402


def parts(y: np.ndarray, axis: int, boxes: int) -> tuple[np.ndarray, np.ndarray]:
    return np.take(y, range(boxes), axis=axis), np.take(y, range(boxes, y.shape[axis]), axis=axis)


def sqnr(ref: list[np.ndarray], got: list[np.ndarray]) -> float:
    stats = ErrorStats()
    for r, g in zip(ref, got):
        stats.add(r, g)
    return stats.sqnr_db


def main() -> int:
    import onnxruntime as ort

    parser = argparse.ArgumentParser()
    parser.add_argument("--run", type=Path, required=True, help="the zoo's work folder of the model")
    parser.add_argument("--model", type=Path, required=True, help="the float ONNX model")
    parser.add_argument("--axis", type=int, default=1, help="the axis that joins boxes and scores")
    parser.add_argument("--boxes", type=int, default=4, help="how many entries along it are box coordinates")
    args = parser.parse_args()
    tests = dict(np.load(args.run / "test.npz"))
    float_session = ort.InferenceSession(str(args.model))
    simulated = ort.SessionOptions()  # the QDQ groups in float, as the zoo runs its peers (benchmarks/zoo_peers.py)
    simulated.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    qdq_session = ort.InferenceSession(str(args.run / "ort_qdq.onnx"), simulated)
    quantized = load_graph(args.run / "fast.qir")
    name = float_session.get_inputs()[0].name
    output = float_session.get_outputs()[0].name
    rows: dict[str, list[list[np.ndarray]]] = {k: [[], []] for k in ("float", "qcc", "ort")}
    for x in tests[name]:
        feeds = {name: x[None]}
        results = {
            "float": float_session.run([output], feeds)[0],
            "qcc": run_integer(quantized, feeds)[output],
            "ort": qdq_session.run([output], feeds)[0],
        }
        for key, y in results.items():
            box, score = parts(np.asarray(y, np.float64), args.axis, args.boxes)
            rows[key][0].append(box)
            rows[key][1].append(score)
    print(f"{args.model.name}: {len(tests[name])} test inputs, output '{output}', axis {args.axis}, {args.boxes} box rows")
    print("| | boxes SQNR (dB) | class scores SQNR (dB) |")
    print("|---|---|---|")
    for key in ("qcc", "ort"):
        print(f"| {key} | {sqnr(rows['float'][0], rows[key][0]):.1f} | {sqnr(rows['float'][1], rows[key][1]):.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
