"""Milliseconds per calibration sample of the ``calibrate`` pass, per model.

    python benchmarks/calibration_speed.py MODEL.onnx CALIB.npz [MODEL.onnx random:16 ...] [--reps 3]

Each model is imported and prepared as the ``fast`` recipe prepares it (fold constants and batch
norms, fuse activations and element-wise groups), then ``calibrate`` (minmax, generic-int8) runs on
the samples; the best of ``--reps`` runs is reported. ``random:N`` stands for N uniform [0, 1)
samples from a fixed seed, for models that come without data. The script imports qcc from the
checkout it sits in, so a copy of it in an older checkout times that checkout's code.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qcc import PassContext, import_model, run_pipeline  # noqa: E402
from qcc.ir.core import Graph  # noqa: E402
from qcc.targets import get_target  # noqa: E402

PREPARE = "fold-constants,canonicalize,fold-batchnorm,fuse-activation,fuse-elementwise,dce,quant-scheme{method=minmax}"


def load_samples(graph: Graph, source: str) -> list[dict[str, np.ndarray]]:
    """Single-sample feed dicts from an .npz (samples stacked on axis 0) or ``random:N``."""
    if source.startswith("random:"):
        rng = np.random.default_rng(0)
        count = int(source.split(":", 1)[1])
        return [{v.name: rng.random(v.type.static_shape).astype(v.type.dtype.numpy) for v in graph.inputs} for _ in range(count)]
    data = dict(np.load(source))
    count = len(next(iter(data.values())))
    return [{k: v[i : i + 1] for k, v in data.items()} for i in range(count)]


def calibrate_seconds(model: str, source: str, reps: int) -> tuple[float, int]:
    """Best wall time of ``calibrate`` over ``reps`` runs, and the number of samples."""
    samples = load_samples(import_model(model), source)
    ctx = PassContext(calibration=samples, target=get_target("generic-int8"))
    best = float("inf")
    for _ in range(reps):
        graph = run_pipeline(import_model(model), PREPARE, ctx)
        start = time.perf_counter()
        run_pipeline(graph, "calibrate", ctx)
        best = min(best, time.perf_counter() - start)
    return best, len(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pairs", nargs="+", help="MODEL CALIB pairs (CALIB: .npz or random:N)")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    if len(args.pairs) % 2:
        parser.error("expected MODEL CALIB pairs")
    print(f"qcc from {ROOT}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    for model, source in zip(args.pairs[::2], args.pairs[1::2]):
        seconds, count = calibrate_seconds(model, source, args.reps)
        print(f"{Path(model).name}: {count} samples, calibrate {seconds:.2f} s = {seconds / count * 1000:.1f} ms/sample", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
