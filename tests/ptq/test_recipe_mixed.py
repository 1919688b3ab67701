"""The recipe option `mixed=BUDGET`: the mixed-precision pass (activation widths searched) runs
right after calibration, before any pass that rounds weights, and `qcc quantize --recipe` uses it."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from qcc.errors import PipelineError
from qcc.recipes import recipe_pipeline
from tests.quant.example_model import CALIB, MODEL
from tests.test_cli import qcc


def test_mixed_runs_after_calibrate_and_before_weight_rounding() -> None:
    fast = recipe_pipeline("fast{weights=8 acts=8 mixed=size:1.1}").split(",")
    assert fast[fast.index("calibrate") + 1:] == ["mixed-precision{budget=size:1.1 activations=true}", "quantize"]
    dfq = recipe_pipeline("dfq{mixed=bops:0.75}").split(",")
    assert dfq[dfq.index("calibrate") + 1:] == ["mixed-precision{budget=bops:0.75 activations=true}", "correct-bias", "quantize"]


def test_bad_mixed_budget_is_one_line() -> None:
    with pytest.raises(PipelineError, match="budget 'bytes:3' must be size:FRACTION"):
        recipe_pipeline("fast{mixed=bytes:3}")


def test_cli_recipe_with_mixed_precision(tmp_path: Path) -> None:
    calib = tmp_path / "calib8.npz"
    np.savez(calib, input=np.load(CALIB)["input"][:8])
    out = tmp_path / "q.qir"
    proc = qcc("quantize", MODEL, "--calib", calib, "-o", out, "--target", "dsp-w4a16", "-v",
               "--recipe", "fast{weights=8 acts=8 mixed=size:1.05}")
    assert proc.returncode == 0, proc.stderr
    counted = re.search(r"mixed-precision: weight and activation bytes ([0-9.]+) of the 8-bit ones", proc.stderr)
    assert counted is not None and float(counted.group(1)) <= 1.05
    scheme = next(line for line in out.read_text().splitlines() if line.strip().startswith("scheme {"))
    assert "acts=16" in scheme.split("overrides=")[1], "some node was given 16-bit activations"
