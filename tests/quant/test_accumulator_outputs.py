"""Graph outputs that stay int32 accumulators (``outputs=accumulator``, docs/arithmetic.md §3.20):
a gemm output is not clipped where the calibration saw a smaller range, the example model compiles
to C byte-equal to the reference with an int32 output, and the recipe option reaches the scheme
(the QDQ and encodings exports of such outputs: tests/interop/test_export.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qcc.backends.numpy_int.executor import run_integer
from qcc.cli import main
from qcc.errors import QccError
from qcc.interp.interpreter import run
from qcc.ir import parse
from qcc.ir.core import Graph
from qcc.ir.types import DType
from qcc.pipeline import PassContext, run_pipeline
from qcc.recipes import recipe_pipeline
from tests.quant.example_model import CALIB, MODEL

GEMM = """graph @head(%x: f32[1,4]) -> (%y: f32[1,3]) {
  %w = const f32[4,3] dense<[0.5, -1.0, 0.25, 1.0, 0.5, -0.75, -0.25, 1.0, 0.5, 0.75, -0.5, 1.0]>
  %b = const f32[3] dense<[0.1, -0.2, 0.05]>
  %y = gemm(%x, %w, %b) : f32[1,3]
  return %y
}
"""


def _quantized(outputs: str) -> Graph:
    # each input alone spans [-2, 2], but never together: the outputs' calibrated range is narrow
    calib = [{"x": (sign * 2.0 * np.eye(4, dtype=np.float32)[i])[None]} for i in range(4) for sign in (-1, 1)]
    pipeline = f"quant-scheme{{method=minmax outputs={outputs}}},calibrate,quantize"
    return run_pipeline(parse(GEMM), pipeline, PassContext(calibration=calib))


def test_an_accumulator_output_is_not_clipped_where_the_int8_grid_is() -> None:
    """Inputs within their calibrated ranges whose sum reaches beyond the outputs' calibrated range:
    the int8 output saturates, the accumulator output keeps only the inputs' and weights' rounding
    (at most about 0.5 * 4/255 * sum|w| + 0.5 * max|w|/127 * sum|x| < 0.1)."""
    x = np.array([[2.0, 1.9, -1.8, 2.0]], np.float32)
    want = run(parse(GEMM), {"x": x})["y"]
    int8, acc = _quantized("int8"), _quantized("accumulator")
    assert [n.op for n in acc.nodes if n.op.startswith("q.")] == ["q.gemm_acc"]
    assert acc.outputs[0].producer.inputs[0].type.dtype is DType.I32
    got_int8 = run_integer(int8, {"x": x})["y"]
    got_acc = run_integer(acc, {"x": x})["y"]
    assert np.abs(got_int8 - want).max() > 0.5  # clipped to the calibrated range
    assert np.abs(got_acc - want).max() < 0.1


def test_the_example_model_compiles_byte_equal_with_an_int32_output(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["compile", str(MODEL), "--calib", str(CALIB), "-o", str(out), "--recipe", "fast{outputs=accumulator}", "--verify", "4"]) == 0
    assert "q.gemm_acc" in (out / "model.qir").read_text()
    header = (out / "model.h").read_text()
    assert "int32_t *q, float *y" in header and "an int32 accumulator" in header
    row = next(line for line in (out / "report.md").read_text().splitlines() if "| q.gemm_acc |" in line)
    assert "| w8a32 | 320 |" in row  # the 1x32 -> 1x10 layer's weight width and MACs, as for q.gemm


def test_the_recipe_option_states_it_in_the_scheme() -> None:
    assert recipe_pipeline("fast{outputs=accumulator}").startswith("quant-scheme{outputs=accumulator},")
    assert "outputs" not in recipe_pipeline("fast{outputs=int8}")
    with pytest.raises(QccError, match="'outputs': 'wide' is not one of int8, accumulator"):
        recipe_pipeline("fast{outputs=wide}")
