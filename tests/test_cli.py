"""The command line: what works, and that every bad input ends as one line, exit 2, no traceback
and no output file (docs/design.md §8)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

from tests.conftest_models import model_with_op, relu_add_model


def qcc(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "qcc.cli", *map(str, args)], capture_output=True, text=True, cwd=cwd)


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.onnx"
    onnx.save(relu_add_model(), path)
    return path


def assert_clean_error(proc: subprocess.CompletedProcess[str], *fragments: str, code: int = 2) -> None:
    assert proc.returncode == code, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("qcc: error: "), lines[0]
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_import_opt_run_round_trip(tiny: Path, tmp_path: Path) -> None:
    qir = tmp_path / "tiny.qir"
    assert qcc("import", tiny, "-o", qir).returncode == 0
    opt = tmp_path / "opt.qir"
    proc = qcc("opt", qir, "-p", "fold-constants,dce", "-o", opt, "--timing")
    assert proc.returncode == 0, proc.stderr
    assert "fold-constants" in proc.stderr  # the timing table
    np.save(tmp_path / "x.npy", np.array([[1, 2, -3, 4], [0, 0, 0, 0]], np.float32))
    proc = qcc("run", opt, "--input", tmp_path / "x.npy", "-o", tmp_path / "y.npz")
    assert proc.returncode == 0, proc.stderr
    y = np.load(tmp_path / "y.npz")["y"]
    assert np.array_equal(y, np.array([[2, 1, 0.5, 4], [1, -1, 0.5, 0]], np.float32))  # two samples, run one by one


def test_run_reports_accuracy_for_labelled_npz(tiny: Path, tmp_path: Path) -> None:
    x = np.array([[0, 0, 3, 0], [5, 0, 0, 0]], np.float32)
    np.savez(tmp_path / "d.npz", x=x, label=np.array([2, 1]))
    proc = qcc("run", tiny, "--input", tmp_path / "d.npz")
    assert proc.returncode == 0, proc.stderr
    assert "top-1 accuracy: 50.00% on 2 labelled samples" in proc.stdout


def test_truncated_onnx(tiny: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(tiny.read_bytes()[:40])
    assert_clean_error(qcc("import", bad, "-o", tmp_path / "o.qir"), "bad.onnx", "not a valid ONNX model")
    assert not (tmp_path / "o.qir").exists()


def test_random_bytes_onnx(tmp_path: Path) -> None:
    bad = tmp_path / "noise.onnx"
    bad.write_bytes(np.random.default_rng(0).bytes(4096))
    assert_clean_error(qcc("import", bad, "-o", tmp_path / "o.qir"), "noise.onnx")
    assert not list(tmp_path.glob("o.*"))


def test_unsupported_op(tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    onnx.save(model_with_op("NonMaxSuppression"), path)
    assert_clean_error(qcc("import", path, "-o", tmp_path / "o.qir"), "node 'mystery' (NonMaxSuppression)", "not supported")
    assert not (tmp_path / "o.qir").exists()


def test_unsupported_domain(tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    onnx.save(model_with_op("FusedConv", domain="com.microsoft"), path)
    assert_clean_error(qcc("import", path), "node 'mystery' (FusedConv)", "domain 'com.microsoft'")


def test_ir_syntax_error_shows_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.qir"
    path.write_text("graph @g(%x: f32[1]) -> (%y: f32[1]) {\n  %y = relu(%x : f32[1]\n  return %y\n}\n")
    assert_clean_error(qcc("opt", path, "-p", "dce", "-o", tmp_path / "o.qir"), f"{path}:2:16: unexpected ':'")
    assert not (tmp_path / "o.qir").exists()


def test_undefined_value_in_ir(tmp_path: Path) -> None:
    path = tmp_path / "bad.qir"
    path.write_text("graph @g(%x: f32[1]) -> (%y: f32[1]) {\n  %y = relu(%z) : f32[1]\n  return %y\n}\n")
    assert_clean_error(qcc("opt", path, "-p", "dce"), f"{path}:2:13: undefined value %z")


@pytest.mark.parametrize(
    "pipeline, fragment",
    [
        ("fold-constants,nosuch", "unknown pass 'nosuch'"),
        ("dce{aggressive=true}", "pass 'dce' has no option 'aggressive'"),
        ("repeat(dce", "unclosed"),
    ],
)
def test_bad_pipeline(tiny: Path, tmp_path: Path, pipeline: str, fragment: str) -> None:
    qir = tmp_path / "t.qir"
    assert qcc("import", tiny, "-o", qir).returncode == 0
    assert_clean_error(qcc("opt", qir, "-p", pipeline, "-o", tmp_path / "o.qir"), fragment)
    assert not (tmp_path / "o.qir").exists()


def test_input_of_the_wrong_shape(tiny: Path, tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.zeros((1, 5), np.float32))
    assert_clean_error(qcc("run", tiny, "--input", tmp_path / "x.npy", "-o", tmp_path / "y.npz"), "input 'x': expected shape [1, 4], got [1, 5]")
    assert not (tmp_path / "y.npz").exists()


def test_input_of_the_wrong_dtype_and_name(tiny: Path, tmp_path: Path) -> None:
    np.savez(tmp_path / "a.npz", x=np.zeros((1, 4), np.float64))
    assert_clean_error(qcc("run", tiny, "--input", tmp_path / "a.npz"), "input 'x': expected element type f32, got float64")
    np.savez(tmp_path / "b.npz", image=np.zeros((1, 4), np.float32))
    assert_clean_error(qcc("run", tiny, "--input", tmp_path / "b.npz"), "'image' that is not a model input")


def test_bad_input_shape_option(tiny: Path) -> None:
    assert_clean_error(qcc("import", tiny, "--input-shape", "x=1xfour"), "expected NAME=D1xD2x...")
    assert_clean_error(qcc("import", tiny, "--input-shape", "z=1x4"), "'z', which is not a model input")


def test_usage_errors_are_one_line() -> None:
    assert_clean_error(qcc("frobnicate"), "invalid choice")


def test_existing_output_survives_a_failed_run(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "o.qir"
    out.write_text("precious")
    proc = qcc("opt", tmp_path / "missing.qir", "-p", "dce", "-o", out)
    assert proc.returncode == 2
    assert out.read_text() == "precious"
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".qcc-tmp")]
