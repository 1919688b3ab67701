"""End to end: an ONNX model whose Div, Max (three inputs), Min, Pow and broadcasting Sub each take
two activations goes through ``qcc compile --verify 4`` (the generated C byte-equal to the integer
reference, and building standalone with -Werror -pedantic), and each output stays within a measured SQNR of the float model on held-out data.

Measured on held-out data (seed 1, 16 samples; ``evaluate_quantized`` with the integer
reference), weights int8:
int8 activations, target generic-int8: div 32.5 dB, max 33.7, min 32.0, pow 35.8, sub 31.9;
int16 activations, target dsp-w4a16 (pow left out, see below): div 44.1, max 38.2, min 46.4,
sub 38.8 (limited by the int8 conv weights feeding them). The bounds keep about 3 dB of margin."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from qcc.backends.c.build import compile_standalone
from qcc.backends.numpy_int.executor import integer_node
from qcc.cli import main
from qcc.accuracy import evaluate_quantized
from qcc.ir.parser import load
from qcc.model_io import load_graph
from tests.quant.binary_model import OUTPUTS, binary_ops_model, calibration

pytestmark = pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None, reason="needs a C compiler")

INT8_SQNR_DB = {"div": 29.0, "max": 30.5, "min": 29.0, "pow": 32.5, "sub": 29.0}
INT16_SQNR_DB = 35.0
INT16_PIPELINE = "quant-scheme{weights=8 acts=16},fold-constants,fold-batchnorm,fuse-activation,dce,calibrate,quantize"


def _output_sqnr(model: Path, out: Path, data: Path) -> dict[str, float]:
    report = evaluate_quantized(load_graph(model), load(out / "model.qir"), data, quant_evaluator=integer_node)
    return {name: stats.sqnr_db for name, stats in report.outputs.items()}


def test_binary_ops_compile_bit_exact_and_accurate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model, calib = binary_ops_model(tmp_path / "binops.onnx"), calibration(tmp_path / "calib.npz")
    out = tmp_path / "out"
    assert main(["compile", str(model), "--calib", str(calib), "-o", str(out), "--verify", "4"]) == 0, capsys.readouterr().err
    assert "byte-equal" in capsys.readouterr().out
    ops = (out / "model.qir").read_text()
    for op in ("q.div", "q.max", "q.min", "q.lut2", "q.add"):
        assert f"= {op}(" in ops, op
    compile_standalone(out)  # cc -std=c99 -Wall -Wextra -Werror -pedantic
    sqnr = _output_sqnr(model, out, calibration(tmp_path / "test.npz", seed=1))
    assert set(sqnr) == set(OUTPUTS)
    for name, bound in INT8_SQNR_DB.items():
        assert sqnr[name] >= bound, (name, sqnr)


def test_int16_div_max_min_compile_bit_exact(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model, calib = binary_ops_model(tmp_path / "binops.onnx", with_pow=False), calibration(tmp_path / "calib.npz")
    out = tmp_path / "out"
    assert main(["compile", str(model), "--calib", str(calib), "-o", str(out), "--verify", "4", "-p", INT16_PIPELINE, "--target", "dsp-w4a16"]) == 0, capsys.readouterr().err
    sqnr = _output_sqnr(model, out, calibration(tmp_path / "test.npz", seed=1))
    assert min(sqnr.values()) >= INT16_SQNR_DB, sqnr


def test_int16_pow_is_refused_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model, calib = binary_ops_model(tmp_path / "binops.onnx"), calibration(tmp_path / "calib.npz")
    assert main(["compile", str(model), "--calib", str(calib), "-o", str(tmp_path / "out"), "-p", INT16_PIPELINE, "--target", "dsp-w4a16"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "'pow'" in err and "2^32" in err, err
    assert not (tmp_path / "out").exists()
