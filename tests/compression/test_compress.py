"""compress: the greedy selection, the MAC budget, and compressed models compiled to C."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

from qcc.analysis.macs import graph_macs
from qcc.compression.candidates import Candidate
from qcc.compression.greedy import fill, select
from qcc.errors import PipelineError
from qcc.pipeline import PassContext, run_pipeline
from qcc.recipes import recipe_pipeline
from tests.compression.models import inputs, three_conv_graph, three_conv_model


def _column(layer, scores_by_saving: dict[int, float]) -> list[Candidate]:  # noqa: ANN001
    return [Candidate(layer, "prune", 0, 0, saved, score=score) for saved, score in scores_by_saving.items()]


def test_greedy_takes_the_highest_threshold_that_fits() -> None:
    graph = three_conv_graph()
    a, b = graph.nodes[0], graph.nodes[2]
    columns = [_column(a, {10: 30.0, 40: 12.0}), _column(b, {20: 25.0, 50: 20.0})]

    def macs_of(chosen) -> int:  # noqa: ANN001
        return 100 - sum(c.macs_saved for c in chosen)

    # threshold 25 -> a saves 10, b 20 (70 left); 20 -> 10 + 50 (40 left); 12 -> 40 + 50 (10 left)
    assert select(columns, macs_of, 100, 70).threshold == 25.0
    chosen = select(columns, macs_of, 100, 45)
    assert chosen.threshold == 20.0 and chosen.macs == 40
    with pytest.raises(PipelineError, match="the budget of 5 MACs is out of reach: the candidates reach 10 of 100"):
        select(columns, macs_of, 100, 5)


def test_fill_gives_the_slack_back_to_the_layers_it_fits() -> None:
    graph = three_conv_graph()
    a, b = graph.nodes[0], graph.nodes[2]
    columns = [_column(a, {10: 30.0, 40: 12.0}), _column(b, {20: 25.0, 50: 20.0})]

    def macs_of(chosen) -> int:  # noqa: ANN001
        return 100 - sum(c.macs_saved for c in chosen)

    # the threshold step stops at 20 (40 MACs left; 25 would leave 70 > 65). Then the worst layer,
    # b at 20.0, has no upgrade that fits (uncompressed: 90, save-20: 70), but a can go back to its
    # original (50 MACs): closer to the budget of 65 without exceeding it
    threshold = select(columns, macs_of, 100, 65)
    filled = fill(threshold, columns, macs_of, 65)
    assert threshold.macs == 40 and filled.macs == 50
    assert [(c.layer, c.macs_saved) for c in filled.chosen] == [(b, 50)]
    # with a budget the threshold step meets exactly, nothing changes
    exact = select(columns, macs_of, 100, 40)
    assert fill(exact, columns, macs_of, 40).chosen == exact.chosen


def test_compress_meets_the_budget_exactly_as_predicted() -> None:
    graph = three_conv_graph()
    before = graph_macs(graph)
    lines: list[str] = []
    ctx = PassContext(calibration=[{"x": x[None]} for x in inputs(16, 3)], log=lines.append)
    out = run_pipeline(graph, "compress{macs=0.5 samples=16}", ctx)
    after = graph_macs(out)
    assert after <= before // 2
    final = next(line for line in lines if line.startswith("compress: MACs ") and "->" in line)
    assert f"{before:,} -> {after:,} ({after / before:.1%}, selection predicted {after:,})" in final
    assert any("per-layer candidates" in line for line in lines) and any("MACs left vs threshold" in line for line in lines)


def test_plot_draws_the_measured_curve_headless(tmp_path: Path) -> None:
    lines: list[str] = []
    ctx = PassContext(calibration=[{"x": x[None]} for x in inputs(16, 3)], log=lines.append)
    run_pipeline(three_conv_graph(), f"compress{{macs=0.5 samples=16 plot={tmp_path / 'curve.png'}}}", ctx)
    assert (tmp_path / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    curve = next(line for line in lines if line.startswith("compress: measured curve"))
    fractions = [float(f) for f in re.findall(r"(\d+\.\d)% ", curve)]
    assert len(fractions) >= 2 and fractions == sorted(fractions) and all(0 < f < 100 for f in fractions)


def test_recipe_after_compress_compiles_to_bit_exact_c(tmp_path: Path) -> None:
    assert recipe_pipeline("compress{macs=0.4},fast{weights=4}").startswith("compress{macs=0.4},quant-scheme{weights=4},fold-constants")
    onnx.save(three_conv_model(), tmp_path / "m.onnx")
    np.savez(tmp_path / "calib.npz", x=inputs(16, 3))
    proc = subprocess.run([sys.executable, "-m", "qcc.cli", "compile", str(tmp_path / "m.onnx"), "-o", str(tmp_path / "out"),
                           "--calib", str(tmp_path / "calib.npz"), "--recipe", "compress{macs=0.5 samples=16},fast"],
                          check=False, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "byte-equal" in proc.stdout
    report = (tmp_path / "out" / "report.md").read_text()
    macs = int(re.search(r"; (\d+) MACs per inference", report).group(1))
    assert macs <= graph_macs(three_conv_graph()) // 2
