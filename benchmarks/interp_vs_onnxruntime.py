"""Float interpreter latency as a ratio to onnxruntime, same model, same inputs, same thread count.

    pip install -e ".[bench]"
    python benchmarks/interp_vs_onnxruntime.py [--threads 1 2] [--repeat 20]

Prints a markdown table (the one in docs/benchmarks.md). Thread counts are set for numpy's BLAS with
threadpoolctl and for onnxruntime with intra_op_num_threads (inter-op 1).
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.timing import median_seconds  # noqa: E402
from qcc.interp.interpreter import run  # noqa: E402
from qcc.onnx.importer import import_model  # noqa: E402
from tests.onnx.light_models import light_model_data, light_model_path  # noqa: E402


def models() -> list[tuple[str, Path, dict[str, np.ndarray]]]:
    example = ROOT / "examples" / "digits_mbv2.onnx"
    test = np.load(ROOT / "examples" / "test.npz")
    out = [("example (digits_mbv2)", example, {"input": test["input"][:1]})]
    resnet = light_model_path("light_resnet50")
    feeds, _ = light_model_data(onnx.load(resnet), "light_resnet50")
    out.append(("light_resnet50", resnet, feeds))
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}; numpy {np.__version__}, onnxruntime {ort.__version__}")
    print()
    print("| model | threads | qcc interpreter (ms) | onnxruntime (ms) | ratio qcc/ort |")
    print("|---|---:|---:|---:|---:|")
    for name, path, feeds in models():
        graph = import_model(path)
        ir_feeds = {v.name: feeds[k] for v, k in zip(graph.inputs, feeds)}
        for threads in args.threads:
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            with threadpool_limits(limits=threads):
                ours = median_seconds(lambda: run(graph, ir_feeds), args.repeat, warmup=1)
            theirs = median_seconds(lambda: session.run(None, feeds), args.repeat, warmup=1)
            print(f"| {name} | {threads} | {ours * 1e3:.2f} | {theirs * 1e3:.2f} | {ours / theirs:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
