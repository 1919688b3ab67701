"""Every pass's text cases (tests/ir_cases/<pass>.qir): run the pipeline on the input IR and compare
the printed result with the expected IR exactly."""

from __future__ import annotations

import difflib

import numpy as np
import pytest

from qcc.errors import QccError
from qcc.ir import parse, to_text
from qcc.pipeline import PassContext, all_passes, run_pipeline
from qcc.targets import get_target
from tests.ir_case_format import CASES_DIR, all_cases

CASES = all_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_pass_case(case) -> None:
    graph = parse(case.input, filename=case.id)
    ctx = PassContext(calibration=case.calibration_samples(), target=get_target(case.target) if case.target else None)
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


@pytest.mark.parametrize("case", [c for c in CASES if c.expected is not None], ids=[c.id for c in CASES if c.expected is not None])
def test_qcc_opt_runs_each_case_as_written(case, tmp_path, capsys) -> None:
    """The case files are IR text (comments included): `qcc opt` reads each case's input as written
    and prints exactly the expected IR."""
    from qcc.cli import main

    source = tmp_path / "case.qir"
    source.write_text(case.raw_input)
    argv = ["opt", str(source), "-p", case.pipeline]
    if case.target:
        argv += ["--target", case.target]
    if case.calibration:
        calib = tmp_path / "calib.npz"
        np.savez(calib, **{name: np.concatenate(list(samples)) for name, samples in case.calibration.items()})  # stacked on the batch axis
        argv += ["--calib", str(calib)]
    assert main(argv) == 0
    assert capsys.readouterr().out == case.expected


def test_print_ir_after_output_parses(tmp_path, capsys) -> None:
    """`--print-ir-after all` writes IR text with `//` headers: the whole stream parses section by section."""
    from qcc.cli import main

    source = tmp_path / "g.qir"
    source.write_text("graph @g(%x: f32[1,4]) -> (%y: f32[1,4]) {\n  %r = relu(%x) : f32[1,4]\n  %y = relu(%r) : f32[1,4]\n  return %y\n}\n")
    assert main(["opt", str(source), "-p", "dce,fold-constants", "--print-ir-after", "all"]) == 0
    sections = [s for s in capsys.readouterr().err.split("// ----- IR after ") if s.strip()]
    assert len(sections) == 2
    for section in sections:
        header, _, text = section.partition("\n")
        assert to_text(parse(text)) == text, header
