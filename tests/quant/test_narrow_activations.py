"""Quantizing to activations narrower than 8 bits (docs/arithmetic.md §3.19): the example model at
W4A4 and W3A3 compiles to C equal to the integer reference, every narrow tensor stays on its grid,
and a lowering that would leave the grid is refused with the node's name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qcc.arith.fixedpoint import activation_range
from qcc.backends.numpy_int.executor import run_integer
from qcc.errors import PipelineError
from qcc.ir import load, parse
from qcc.quant.narrow_range import check_narrow_ranges
from tests.quant.example_model import CALIB, MODEL
from tests.test_cli import qcc


@pytest.mark.parametrize("weights, acts", [(4, 4), (3, 3)])
def test_the_example_model_compiles_at_low_widths_and_equals_the_reference(tmp_path: Path, weights: int, acts: int) -> None:
    out = tmp_path / "c"
    proc = qcc("compile", MODEL, "--target", "npu-lowbit", "--recipe", f"fast{{weights={weights} acts={acts}}}",
               "--calib", CALIB, "--verify", "8", "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert "byte-equal to the integer reference on 8" in proc.stdout + proc.stderr
    graph = load(out / "model.qir")
    assert f"i{acts}[1,1,16,16]" in (out / "model.qir").read_text()  # the input's grid, printed by its width
    lo, hi = activation_range(acts)
    seen: list[np.ndarray] = []
    x = np.load(CALIB)["input"][:1]
    run_integer(graph, {"input": x}, observer=lambda value, array: seen.append(array) if _narrow(value, acts) else None)
    assert seen and all(lo <= int(a.min()) and int(a.max()) <= hi for a in seen)


def _narrow(value, bits: int) -> bool:
    q = value.type.quant
    return q is not None and q.axis is None and q.bits == bits


NARROW_CLAMP = """\
graph @g(%x: f32[1,4]) -> (%y: f32[1,4]) {
  %q = quantize(%x) : i4[1,4] q(scale=0.5, zp=-3)
  %r = q.requantize(%q) {in_zp=-3, multiplier=1073741824, shift=1, out_zp=0, qmin=QMIN, qmax=QMAX} : i4[1,4] q(scale=0.5, zp=0)
  %y = dequantize(%r) : f32[1,4]
  return %y
}
"""


def test_a_clamp_inside_the_grid_passes_and_one_outside_is_refused_by_name() -> None:
    check_narrow_ranges(parse(NARROW_CLAMP.replace("QMIN", "-8").replace("QMAX", "7")))
    with pytest.raises(PipelineError, match=r"node 'r' \(q.requantize\): clamp \[-128, 127\] is outside the 4-bit range \[-8, 7\]"):
        check_narrow_ranges(parse(NARROW_CLAMP.replace("QMIN", "-128").replace("QMAX", "127")))
