"""Sensitivity measurements on a local Dask cluster: the same numbers, exactly, as one after the other
here; the same mixed-precision choices with 1 and 2 workers; without dask, a one-line error naming
the extra; and one worker never imports dask."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from qcc.analysis.distribute import check_workers, measurements
from qcc.analysis.sensitivity import SensitivityRunner, layer_sensitivity
from qcc.calibration.source import CalibrationSet
from qcc.errors import QccError
from qcc.model_io import load_graph
from qcc.pipeline import PassContext, PassManager, parse_pipeline
from qcc.quant.lowering import Settings
from qcc.targets import get_target
from tests.test_cli import assert_clean_error, qcc

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PREPARE = ("quant-scheme{weights=8 acts=8 method=minmax},fold-constants,canonicalize,matmul-to-gemm,fold-batchnorm,"
           "fuse-activation,fuse-elementwise,dce,calibrate{samples=16}")


def _calibrated():
    ctx = PassContext(calibration=str(EXAMPLES / "calib.npz"), target=get_target("dsp-w4a16"))
    return PassManager(parse_pipeline(PREPARE)).run(load_graph(EXAMPLES / "digits_mbv2.onnx"), ctx), ctx


def test_two_workers_measure_exactly_what_one_does() -> None:
    pytest.importorskip("dask.distributed")
    graph, _ = _calibrated()
    settings = Settings.from_scheme(graph.scheme, graph)
    runner = SensitivityRunner(graph, [dict(f) for f in CalibrationSet(graph, str(EXAMPLES / "test.npz"), 4)])
    serial = layer_sensitivity(runner, settings)
    with measurements(runner, 2) as pool:
        distributed = layer_sensitivity(runner, settings, sqnr_many=pool.sqnr_many)
    assert distributed == serial
    assert any(row.weights for row in serial)


def test_mixed_precision_chooses_the_same_with_two_workers() -> None:
    pytest.importorskip("dask.distributed")
    choices = []
    for workers in (1, 2):
        graph, ctx = _calibrated()
        graph = PassManager(parse_pipeline(f"mixed-precision{{budget=size:0.7 samples=8 workers={workers}}}")).run(graph, ctx)
        assert graph.scheme is not None
        choices.append(graph.scheme.overrides)
    assert choices[0] == choices[1]
    assert choices[0]  # the budget narrowed some layers


def test_more_workers_without_dask_name_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # import dask.distributed raises ImportError
    with pytest.raises(QccError, match=r"qcc\[scale\]"):
        check_workers(2, "--workers")
    check_workers(1, "--workers")
    with pytest.raises(QccError, match="must be >= 1"):
        check_workers(0, "--workers")


def test_one_worker_never_imports_dask() -> None:
    code = (
        "import sys\n"
        "from qcc.analysis.sensitivity import SensitivityRunner\n"
        "from qcc.analysis.distribute import measurements\n"
        "from qcc.ir.parser import parse\n"
        "import numpy as np\n"
        "g = parse('graph @g(%x: f32[1,2]) -> (%y: f32[1,2]) {\\n  %y = relu(%x) : f32[1,2]\\n  return %y\\n}\\n')\n"
        "with measurements(SensitivityRunner(g, [{'x': np.ones((1, 2), np.float32)}]), 1) as pool:\n"
        "    pool.sqnr_many([])\n"
        "assert not any(m.split('.')[0] in ('dask', 'distributed') for m in sys.modules), 'dask imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_cli_refuses_zero_workers(tmp_path: Path) -> None:
    proc = qcc("analyze", EXAMPLES / "digits_mbv2.onnx", "--calib", EXAMPLES / "calib.npz", "--workers", "0", "-o", tmp_path / "r")
    assert_clean_error(proc, "workers=0")
