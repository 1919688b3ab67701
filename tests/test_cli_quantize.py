"""qcc quantize / eval / targets on the example model, and their bad inputs: one line, exit 2,
nothing written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from tests.conftest_models import model_with_op
from tests.quant.example_model import CALIB, MODEL, TEST
from tests.test_cli import assert_clean_error, qcc


def test_quantize_then_eval_reports_accuracy_and_sqnr(tmp_path: Path) -> None:
    out = tmp_path / "q.qir"
    proc = qcc("quantize", MODEL, "--calib", CALIB, "-o", out)
    assert proc.returncode == 0, proc.stderr
    proc = qcc("eval", MODEL, out, "--data", TEST, "--limit", "50", "--per-layer")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("top-1: float ") and "(50 samples)" in lines[0]
    assert lines[1].startswith("output %logits: SQNR ")
    assert any(line.split()[1:2] == ["q.conv"] for line in lines[3:])


def test_targets_lists_the_shipped_targets() -> None:
    proc = qcc("targets")
    assert proc.returncode == 0
    assert "generic-int8 (default)" in proc.stdout and "dsp-w4a16" in proc.stdout


def test_target_that_forbids_the_widths(tmp_path: Path) -> None:
    out = tmp_path / "q.qir"
    proc = qcc("quantize", MODEL, "--calib", CALIB, "-o", out, "-p", "quant-scheme{weights=4},fold-batchnorm,calibrate,quantize")
    assert_clean_error(proc, "target 'generic-int8' supports 8-bit weights, not 4-bit")
    assert not list(tmp_path.iterdir())


def test_calibration_data_of_the_wrong_shape(tmp_path: Path) -> None:
    np.savez(tmp_path / "bad.npz", input=np.zeros((4, 1, 8, 8), np.float32))
    assert_clean_error(qcc("quantize", MODEL, "--calib", tmp_path / "bad.npz", "-o", tmp_path / "q.qir"), "array 'input' has shape [4, 1, 8, 8]")
    assert not (tmp_path / "q.qir").exists()


def test_calibration_data_with_nan(tmp_path: Path) -> None:
    x = np.zeros((3, 1, 16, 16), np.float32)
    x[2, 0, 3, 3] = np.nan
    np.savez(tmp_path / "nan.npz", input=x)
    assert_clean_error(qcc("quantize", MODEL, "--calib", tmp_path / "nan.npz", "-o", tmp_path / "q.qir"), "calibration sample 2, input 'input' contains NaN")


def test_empty_calibration_set(tmp_path: Path) -> None:
    np.savez(tmp_path / "empty.npz", input=np.zeros((0, 1, 16, 16), np.float32))
    assert_clean_error(qcc("quantize", MODEL, "--calib", tmp_path / "empty.npz", "-o", tmp_path / "q.qir"), "holds no samples")


def test_op_without_integer_lowering(tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    onnx.save(model_with_op("ReduceSum"), path)
    np.savez(tmp_path / "c.npz", x=np.ones((2, 4), np.float32))
    assert_clean_error(qcc("quantize", path, "--calib", tmp_path / "c.npz", "-o", tmp_path / "q.qir"), "'y' (reduce_sum): has no integer lowering")
    assert not (tmp_path / "q.qir").exists()


def test_unknown_target() -> None:
    assert_clean_error(qcc("quantize", MODEL, "--calib", CALIB, "-o", "/tmp/never.qir", "--target", "tpu9000"), "unknown target 'tpu9000'")
