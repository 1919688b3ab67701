"""Every pass's text cases (tests/ir_cases/<pass>.qir): run the pipeline on the input IR and compare
the printed result with the expected IR exactly."""

from __future__ import annotations

import difflib

import pytest

from qcc.errors import QccError
from qcc.ir import parse, to_text
from qcc.pipeline import PassContext, all_passes, run_pipeline
from tests.ir_case_format import CASES_DIR, all_cases

CASES = all_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_pass_case(case) -> None:
    graph = parse(case.input, filename=case.id)
    ctx = PassContext(calibration=case.calibration_samples())
    if case.error is not None:
        with pytest.raises(QccError, match=case.error):
            run_pipeline(graph, case.pipeline, ctx)
        return
    got = to_text(run_pipeline(graph, case.pipeline, ctx))
    assert got == case.expected, "\n" + "".join(difflib.unified_diff(case.expected.splitlines(True), got.splitlines(True), "expected", "got"))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case_text_round_trips(case) -> None:
    for text in filter(None, (case.input, case.expected)):
        assert to_text(parse(text)) == text


def test_every_builtin_pass_has_a_case_file() -> None:
    builtin = {name for name, cls in all_passes().items() if cls.__module__.startswith("qcc.passes.")}
    missing = sorted(name for name in builtin if not (CASES_DIR / f"{name}.qir").exists())
    assert not missing, f"passes without tests/ir_cases/<name>.qir: {missing}"
