"""Quantize one model with AMD Quark's ONNX quantizer (amd-quark 0.13) for the zoo's peer column.

Runs in Quark's own venv (it pins an older onnx than qcc's), called by benchmarks/zoo.py:

    python -m venv /work/venvs/quark
    /work/venvs/quark/bin/pip install torch==2.13.0   # first, so pip does not pull a CUDA torch
    /work/venvs/quark/bin/pip install amd-quark==0.13 onnxruntime
    /work/venvs/quark/bin/python benchmarks/zoo_quark.py MODEL.onnx CALIB.npz OUT.onnx --config a8w8

Configurations (int8 weights and activations, symmetric, float scales, MinMax calibration,
per-channel weights, QDQ output that onnxruntime runs):
    a8w8           no pre-processing algorithm
    cle            + cross-layer equalization (Quark's CLEConfig defaults)
    cle-adaround   + CLE, then AdaRound (``--adaround-iters`` per layer)
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Iterator

import numpy as np
from typing import TYPE_CHECKING

from onnxruntime.quantization import CalibrationDataReader

if TYPE_CHECKING:
    from quark.onnx.quantization.config.config import QConfig

# benchmarks/zoo.py reads the names without Quark installed, so Quark is imported where it is used
CONFIGS = ("a8w8", "cle", "cle-adaround")


class NpzReader(CalibrationDataReader):
    """The calibration .npz (inputs stacked on the batch axis) one sample at a time."""

    def __init__(self, path: Path) -> None:
        arrays = dict(np.load(path))
        count = len(next(iter(arrays.values())))
        self._samples: Iterator[dict[str, np.ndarray]] = iter([{k: v[i : i + 1] for k, v in arrays.items()} for i in range(count)])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._samples, None)


def quark_config(name: str, adaround_iters: int) -> QConfig:
    from quark.onnx.quantization.config.algorithm import AdaRoundConfig, AlgoConfig, CLEConfig
    from quark.onnx.quantization.config.config import QConfig
    from quark.onnx.quantization.config.spec import CalibMethod, Int8Spec, QLayerConfig, QuantGranularity

    algorithms: list[AlgoConfig] = []
    if name in ("cle", "cle-adaround"):
        algorithms.append(CLEConfig())
    if name == "cle-adaround":
        algorithms.append(AdaRoundConfig(num_iterations=adaround_iters, batch_size=1))
    layer = QLayerConfig(activation=Int8Spec(calibration_method=CalibMethod.MinMax),
                         weight=Int8Spec(calibration_method=CalibMethod.MinMax, quant_granularity=QuantGranularity.Channel))
    return QConfig(global_config=layer, algo_config=algorithms)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("calib", type=Path, help=".npz keyed by input name, samples on the batch axis")
    parser.add_argument("output", type=Path)
    parser.add_argument("--config", choices=CONFIGS, default="a8w8")
    parser.add_argument("--adaround-iters", type=int, default=1000)
    args = parser.parse_args()
    from quark.onnx import ModelQuantizer

    quantizer = ModelQuantizer(quark_config(args.config, args.adaround_iters))
    quantizer.quantize_model(str(args.model), str(args.output), NpzReader(args.calib))
    if not args.output.exists():
        raise SystemExit(f"Quark wrote no {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
