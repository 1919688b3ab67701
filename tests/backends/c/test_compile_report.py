"""``qcc compile`` checks the C and measures report.md's SQNR from one integer reference run per
verified sample, and the numbers are those of ``evaluate_quantized`` on the same samples."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from qcc import import_model
from qcc.accuracy import evaluate_quantized
from qcc.backends.c.report import ReportContext, render_report
from qcc.backends.numpy_int import kernels as int_kernels
from qcc.backends.numpy_int.executor import integer_node
from qcc.calibration.source import CalibrationSet
from qcc.compile import compile_graph
from qcc.interp.kernels import KERNELS
from tests.quant.example_model import CALIB, MODEL, quantized

pytestmark = pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None, reason="needs a C compiler")

VERIFY = 4


def _counting(table: dict, op: str, calls: list[int]) -> Callable:
    original = table[op]

    def counted(*args: object) -> list[np.ndarray]:
        calls.append(1)
        return original(*args)

    return counted


def _table_and_sqnr_lines(report: str) -> Sequence[str]:
    return [line for line in report.splitlines() if line.startswith("|") or line.startswith("- output")]


def test_report_sqnr_equals_evaluate_quantized_and_each_graph_runs_once_per_sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    float_graph = import_model(MODEL)
    graph = quantized()
    integer_adds: list[int] = []
    float_norms: list[int] = []  # batch_norm: only the float graph has it (qconv itself calls the float conv)
    monkeypatch.setitem(int_kernels.INT_KERNELS, "q.add", _counting(int_kernels.INT_KERNELS, "q.add", integer_adds))
    monkeypatch.setitem(KERNELS, "batch_norm", _counting(KERNELS, "batch_norm", float_norms))

    result = compile_graph(float_graph, graph, tmp_path / "out", name="digits", samples=lambda: CalibrationSet(float_graph, str(CALIB), limit=VERIFY),
                           verify=VERIFY, model_label="digits_mbv2.onnx", target="generic-int8", pipeline="quantize")

    assert result.verified == VERIFY
    assert len(integer_adds) == VERIFY * sum(n.op == "q.add" for n in graph.nodes)
    assert len(float_norms) == VERIFY * sum(n.op == "batch_norm" for n in float_graph.nodes) > 0

    expected = evaluate_quantized(float_graph, graph, str(CALIB), quant_evaluator=integer_node, per_layer=True, limit=VERIFY)
    ctx = ReportContext("digits_mbv2.onnx", "generic-int8", "quantize", VERIFY)
    ctx.layer_sqnr = {k: v.sqnr_db for k, v in expected.layers.items()}
    ctx.output_sqnr = {k: v.sqnr_db for k, v in expected.outputs.items()}
    want = _table_and_sqnr_lines(render_report(result.program, ctx))
    got = _table_and_sqnr_lines((tmp_path / "out" / "report.md").read_text())
    assert got == want
    assert sum(line.startswith("- output") for line in got) == len(graph.outputs)
    assert sum(line.rstrip(" |").split("|")[-1].strip() not in ("", "—", "-") for line in got if line.startswith("| ") and line[2].isdigit()) > 5
