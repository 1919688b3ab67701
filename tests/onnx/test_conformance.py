"""ONNX node conformance cases outside the required op list: each either passes or stops with a
clean one-line QccError (never a crash or a wrong answer); an op qcc has no converter for is
reported as unsupported, naming the node and the op; models that are not plain tensor graphs of
opsets 9+ are refused as such. (The required ops' cases are asserted per
family in tests/ops/.)"""

from __future__ import annotations

import pytest

from qcc.onnx.conformance import is_required, run_case
from qcc.onnx.converters import CONVERTERS
from tests.conftest import conformance_cases

OUTSIDE = [c for c in conformance_cases() if not all(n.op_type in CONVERTERS for n in c.model.graph.node)]


def test_there_are_cases_outside_the_list() -> None:
    assert len(OUTSIDE) > 500


@pytest.mark.parametrize("case", OUTSIDE, ids=[c.name for c in OUTSIDE])
def test_unsupported_op_gives_a_clean_error(case) -> None:
    result = run_case(case)
    assert not is_required(result)
    assert result.status == "error", result
    assert "\n" not in result.detail and result.detail


def test_an_unknown_op_is_named_with_its_node() -> None:
    case = next(c for c in OUTSIDE if [n.op_type for n in c.model.graph.node] == ["Mod"])
    result = run_case(case)
    assert "(Mod): op 'Mod' is not supported by qcc" in result.detail
