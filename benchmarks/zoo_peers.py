"""The zoo's float reference and its two peer quantizers, all executed by onnxruntime.

- float: onnxruntime on the original model, one test sample at a time.
- ort: onnxruntime's ``quantize_static`` in its recommended setting (quant_pre_process, QDQ,
  per-channel QInt8 weights, QInt8 activations: the "S8S8 QDQ" default of onnxruntime's
  quantization guide, MinMax calibration). Both peers' QDQ models run simulated (``run_onnxruntime``).
- quark: AMD Quark's ONNX quantizer, run by benchmarks/zoo_quark.py in Quark's own venv.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator, Mapping

import numpy as np
import onnx

from benchmarks.zoo_report import one_line

DEFAULT_QUARK_PYTHON = Path(os.environ.get("QCC_ZOO_QUARK_PYTHON", "/work/venvs/quark/bin/python"))


class PeerError(Exception):
    """A peer quantizer failed on a model (one line for the table)."""


def sample_count(feeds: Mapping[str, np.ndarray]) -> int:
    return len(next(iter(feeds.values())))


def one_sample(feeds: Mapping[str, np.ndarray], index: int) -> dict[str, np.ndarray]:
    return {name: arr[index : index + 1] for name, arr in feeds.items()}


def run_onnxruntime(model: Path, feeds: Mapping[str, np.ndarray], *, simulate: bool = False) -> tuple[list[str], list[np.ndarray]]:
    """The model's outputs on every sample, each output's samples stacked on the batch axis.

    ``simulate`` runs a QDQ model with onnxruntime's graph optimizations off, so every
    DequantizeLinear -> op -> QuantizeLinear runs in float: the quantizer's choices without the CPU's
    int8 kernels. Those differ by machine: without AVX-512 VNNI / AVX-VNNI onnxruntime's u8s8 kernels
    add pairs of products in saturating int16 (vpmaddubsw); on this project's AVX2-only machine that
    took onnxruntime's own mtcnn-rnet model from 27.89 dB (simulated) to 10.62 dB. The zoo judges
    the peers' quantization, as qcc's is judged by its exact integer reference."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if simulate:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    per_sample = [session.run(None, one_sample(feeds, i)) for i in range(sample_count(feeds))]
    return names, [np.concatenate([outs[k] for outs in per_sample]) for k in range(len(names))]


class _Reader:
    """onnxruntime's CalibrationDataReader protocol over stacked samples."""

    def __init__(self, feeds: Mapping[str, np.ndarray]) -> None:
        self._items: Iterator[dict[str, np.ndarray]] = iter([one_sample(feeds, i) for i in range(sample_count(feeds))])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._items, None)

    def rewind(self) -> None:  # quantize_static reads the data once; rewinding is never needed
        pass


def peer_ready(model: Path, workdir: Path) -> Path:
    """The model as both peers take it: opset >= 13 (per-channel QDQ needs it) and constant
    weights as initializers (benchmarks/quantize_vs_onnxruntime.py's folding of the light models)."""
    loaded = onnx.load(model)
    if loaded.opset_import[0].version >= 13 and not any(n.op_type == "ConstantOfShape" for n in loaded.graph.node):
        return model
    from benchmarks.quantize_vs_onnxruntime import folded

    return folded(model, workdir)


def ort_quantize(model: Path, calib: Mapping[str, np.ndarray], out: Path) -> float:
    """onnxruntime's quantize_static into ``out``; its wall time, pre-processing included."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    start = time.perf_counter()
    prepared = out.with_name(out.stem + "_prepared.onnx")
    try:
        with contextlib.chdir(out.parent):  # it leaves sym_shape_infer_temp.onnx (+ data) in the working folder
            quant_pre_process(str(model), str(prepared))
    except Exception as e:  # noqa: BLE001 - symbolic shape inference fails on some models; quantize as is
        print(f"  ort: quant_pre_process failed ({type(e).__name__}: {e}); quantizing without it", file=sys.stderr)
        prepared = model
    quantize_static(str(prepared), str(out), _Reader(calib), quant_format=QuantFormat.QDQ, per_channel=True,  # type: ignore[arg-type]
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax)
    return time.perf_counter() - start


def quark_quantize(model: Path, calib_npz: Path, out: Path, config: str, *, python: Path, adaround_iters: int, timeout: float) -> float:
    """Quark in its own venv (benchmarks/zoo_quark.py); its wall time, process start included."""
    if not python.exists():
        raise PeerError(f"no Quark venv at {python} (see benchmarks/zoo_quark.py)")
    script = Path(__file__).with_name("zoo_quark.py")
    start = time.perf_counter()
    try:
        done = subprocess.run([str(python), str(script), str(model), str(calib_npz), str(out), "--config", config,
                               "--adaround-iters", str(adaround_iters)], capture_output=True, text=True, timeout=timeout,
                              cwd=out.parent)  # Quark leaves a quantized_info.csv in its working folder
    except subprocess.TimeoutExpired:
        raise PeerError(f"Quark {config} timed out after {timeout:.0f} s") from None
    if done.returncode != 0:
        raise PeerError(f"Quark {config}: {one_line(done.stderr)}")
    return time.perf_counter() - start
