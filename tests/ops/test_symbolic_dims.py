"""Symbolic dims (graph inputs of hand-written IR) pass through shape rules unchanged; a rule that
must compute with one refuses it with a one-line error instead of a Python TypeError."""

from __future__ import annotations

import pytest

from qcc.errors import ParseError
from qcc.ir.parser import parse

WINDOW = "{strides=[1,1], pads=[0,0,0,0], dilations=[1,1]}"


def conv_graph(shape: str, result: str) -> str:
    return (
        f"graph @g(%x: f32[{shape}]) -> (%y: f32[{result}]) {{\n"
        "  %w = const f32[1,1,1,1] dense<[1]>\n"
        f"  %y = conv(%x, %w) {WINDOW} : f32[{result}]\n"
        "  return %y\n}"
    )


def test_symbolic_batch_passes_through_conv() -> None:
    graph = parse(conv_graph("N,1,4,4", "N,1,4,4"))
    assert str(graph.outputs[0].type) == "f32[N,1,4,4]"


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ("1,C,4,4", "dim 1 of shape [1,C,4,4] must be static, got symbol 'C'"),
        ("1,1,H,4", "dim 2 of shape [1,1,H,4] must be static, got symbol 'H'"),
    ],
)
def test_conv_refuses_symbolic_channels_and_spatial_dims(shape: str, message: str) -> None:
    with pytest.raises(ParseError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse(conv_graph(shape, "1,1,4,4"))


def test_broadcast_refuses_symbolic_operand() -> None:
    text = (
        "graph @g(%x: f32[N,4]) -> (%y: f32[N,4]) {\n"
        "  %b = const f32[4] dense<[1, 2, 3, 4]>\n"
        "  %y = add(%x, %b) : f32[N,4]\n"
        "  return %y\n}"
    )
    with pytest.raises(ParseError, match=r"add: operand shape \[N,4\] must be static to broadcast"):
        parse(text)


def test_gather_elements_matches_symbols_by_name() -> None:
    ok = "graph @g(%x: f32[N,4], %i: i64[N,2]) -> (%y: f32[N,2]) {\n  %y = gather_elements(%x, %i) {axis=1} : f32[N,2]\n  return %y\n}"
    assert str(parse(ok).outputs[0].type) == "f32[N,2]"
    other = ok.replace("%i: i64[N,2]", "%i: i64[M,2]").replace("f32[N,2]", "f32[M,2]")
    with pytest.raises(ParseError, match="does not fit data shape"):
        parse(other)
