"""Choosing by the outputs: calibrate's method=search keeps the observer whose integer network is
closest to the float one on held-out calibration samples, and equalize{guard=true} keeps
cross-layer equalization only when the calibrated, lowered result is at least as close."""

from __future__ import annotations

import numpy as np
import pytest

from qcc import import_model
from qcc.ir.printer import to_text
from qcc.ir.serialize import copy_graph
from qcc.pipeline import PassContext, run_pipeline
from qcc.ptq.guard import OutputCheck, split_samples
from qcc.ptq.ranges import SEARCHED_METHODS, CalibratedCheck
from qcc.ptq.settings import quant_settings
from qcc.targets import get_target
from tests.quant.example_model import CALIB, MODEL

PREPARE = "fold-constants,canonicalize,fold-batchnorm,fuse-activation,fuse-elementwise,dce"


@pytest.fixture(scope="module")
def calib16() -> list[dict[str, np.ndarray]]:
    return [{"input": x[None]} for x in np.load(CALIB)["input"][:16]]


def _ranges(graph) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {v.name: v.type.quant for n in graph.nodes for v in n.results if v.type.quant is not None}


def test_copy_graph_is_an_independent_equal_copy() -> None:
    graph = run_pipeline(import_model(MODEL), PREPARE, PassContext())
    copy = copy_graph(graph)
    assert to_text(copy) == to_text(graph)
    copy.nodes[0].set_attr("act_max", 1.5)
    assert graph.nodes[0].attr("act_max") != 1.5


def test_search_keeps_the_method_whose_integer_outputs_are_closest(calib16: list[dict[str, np.ndarray]]) -> None:
    ctx = PassContext(calibration=calib16, target=get_target("mcu-int8-per-tensor"))
    searched = run_pipeline(import_model(MODEL), f"quant-scheme{{method=search}},{PREPARE},calibrate", ctx)
    judge = split_samples(run_pipeline(import_model(MODEL), PREPARE, PassContext()), ctx).judge
    assert len(judge) == 4  # the last quarter of 16 is held out
    scores, ranges = {}, {}
    for method in SEARCHED_METHODS:
        graph = run_pipeline(import_model(MODEL), f"quant-scheme{{method={method}}},{PREPARE},calibrate", ctx)
        float_graph = run_pipeline(import_model(MODEL), PREPARE, PassContext())
        scores[method] = OutputCheck.of(float_graph, judge).sqnr_db(graph, quant_settings(graph, ctx))
        ranges[method] = _ranges(graph)
    best = max(SEARCHED_METHODS, key=lambda m: (scores[m], -SEARCHED_METHODS.index(m)))
    assert _ranges(searched) == ranges[best]
    assert len({str(r) for r in ranges.values()}) > 1, "the methods must disagree for the test to mean anything"


def test_search_is_a_scheme_method() -> None:
    text = to_text(run_pipeline(import_model(MODEL), "quant-scheme{method=search}", PassContext()))
    assert "calibration=\"search\"" in text or "calibration=search" in text


@pytest.mark.parametrize("better", [True, False])
def test_guarded_equalize_keeps_only_what_the_outputs_prefer(calib16: list[dict[str, np.ndarray]], better: bool,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the scores are, the pass returns the equalized graph exactly when it scores at least
    as well: the scores are replaced here so both branches run on one model."""
    graph = run_pipeline(import_model(MODEL), "fold-constants,canonicalize,fold-batchnorm", PassContext())
    before = to_text(graph)
    plain = to_text(run_pipeline(copy_graph(graph), "equalize{relu6-as-relu=true}", PassContext()))
    assert plain != before
    calls: list[str] = []

    def score(self: CalibratedCheck, g, ctx) -> float:  # type: ignore[no-untyped-def]
        calls.append(to_text(g))
        return {before: 20.0}.get(calls[-1], 25.0 if better else 15.0)

    monkeypatch.setattr(CalibratedCheck, "sqnr_db", score)
    logs: list[str] = []
    ctx = PassContext(calibration=calib16, target=get_target("mcu-int8-per-tensor"), log=logs.append)
    result = run_pipeline(graph, "equalize{relu6-as-relu=true guard=true}", ctx)
    assert to_text(result) == (plain if better else before)
    assert calls == [before, plain]
    assert any(("kept" if better else "reverted") in line for line in logs if line.startswith("equalize: output SQNR"))


def test_guarded_equalize_on_per_tensor_weights_is_kept(calib16: list[dict[str, np.ndarray]]) -> None:
    """The example model's depthwise ranges differ by orders of magnitude between channels: at one
    weight scale per tensor equalization is what makes it work (measured: about 5 -> 30 dB)."""
    logs: list[str] = []
    ctx = PassContext(calibration=calib16, target=get_target("mcu-int8-per-tensor"), log=logs.append)
    run_pipeline(import_model(MODEL), "fold-constants,canonicalize,fold-batchnorm,equalize{relu6-as-relu=true guard=true}", ctx)
    (verdict,) = [line for line in logs if line.startswith("equalize: output SQNR")]
    before, after = (float(w) for w in verdict.split("samples ")[1].split(" dB")[0].split(" -> "))
    assert after > before + 10 and verdict.endswith("kept")
