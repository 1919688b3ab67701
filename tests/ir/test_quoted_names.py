"""Value names are the model's own names: a name that is not a plain identifier prints quoted
(``%"gpu_0/data_0"``, JSON string escapes) and parses back to exactly the same name."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qcc.errors import ParseError
from qcc.ir import DType, Graph, TensorType, parse, to_text

QUOTED = """\
graph @g(%"gpu_0/data_0": f32[1,3]) -> (%"out:0": f32[1,3]) {
  %"bias 1" = const f32[3] dense<[0.5, 1.0, 2.0]>
  %"a/b" = relu(%"gpu_0/data_0") : f32[1,3]
  %"out:0" = add(%"a/b", %"bias 1") : f32[1,3]
  return %"out:0"
}
"""


def test_quoted_names_round_trip_exactly() -> None:
    graph = parse(QUOTED)
    assert [v.name for v in graph.inputs] == ["gpu_0/data_0"]
    assert [v.name for v in graph.outputs] == ["out:0"]
    assert to_text(graph) == QUOTED


def test_plain_names_stay_unquoted() -> None:
    g = Graph("g")
    x = g.add_input("x.1_a", TensorType(DType.F32, (2,)))
    g.outputs = [g.add_node("relu", [x], names="y").result]
    assert "%x.1_a: f32[2]" in to_text(g) and '"' not in to_text(g)


def test_names_that_collide_only_after_sanitizing_stay_distinct() -> None:
    g = Graph("g")
    a = g.add_input("a/b", TensorType(DType.F32, (2,)))
    b = g.add_input("a_b", TensorType(DType.F32, (2,)))
    g.outputs = [g.add_node("add", [a, b], names="a:b").result]
    again = parse(to_text(g))
    assert [v.name for v in again.inputs] == ["a/b", "a_b"]
    assert again.outputs[0].name == "a:b"


@given(st.text(min_size=1, max_size=12).filter(lambda s: "\x00" not in s))
def test_any_name_round_trips(name: str) -> None:
    g = Graph("g")
    x = g.add_input(name, TensorType(DType.F32, (2,)))
    g.outputs = [g.add_node("relu", [x], names=name + "!").result]
    again = parse(to_text(g))
    assert again.inputs[0].name == name
    assert again.outputs[0].name == name + "!"


def test_unterminated_quoted_name_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match=r"<text>:1:"):
        parse('graph @g(%"x: f32[1]) -> () {\n  return\n}\n')


def test_undefined_quoted_name_is_named_in_the_error() -> None:
    text = QUOTED.replace('relu(%"gpu_0/data_0")', 'relu(%"gpu_0/data_1")')
    with pytest.raises(ParseError, match=r"undefined value %gpu_0/data_1"):
        parse(text)
