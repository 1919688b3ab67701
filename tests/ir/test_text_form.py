"""The IR's textual form: deterministic printing, parse(print(g)) == g, and errors with file:line:col."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcc.errors import ParseError
from qcc.ir import DType, Graph, QuantParams, TensorType, load, parse, print_graph, save, to_text
from tests.damaged_zip import DAMAGES, damage_first_member

SMALL = """\
graph @g(%x: f32[1,3], %s: i8[1,3] q(scale=0.5, zp=-3)) -> (%y: f32[1,3]) {
  %b = const f32[3] dense<[0.1, -2.5, inf]>
  %w = const i4[2,3] q(scale=[0.25, 0.125], zp=0, axis=0) dense<[-7, 0, 7, 1, 2, 3]>
  %r = relu(%x) : f32[1,3]
  %y = add(%r, %b) {act_min=0.0, act_max=6.0} : f32[1,3]
  return %y
}
"""


def test_small_graph_round_trips_exactly() -> None:
    assert to_text(parse(SMALL)) == SMALL


def test_float32_constants_print_shortest_text() -> None:
    g = Graph("g")
    c = g.add_const(np.array([0.1, 1e-8, 3.0], np.float32), "c")
    g.outputs = [c]
    assert "dense<[0.1, 1e-08, 3.0]>" in to_text(g)


def test_large_constants_go_to_the_sidecar_and_come_back(tmp_path) -> None:
    g = Graph("big")
    x = g.add_input("x", TensorType(DType.F32, (1, 64)))
    w = g.add_const(np.arange(64, dtype=np.float32) / 7, "w")
    g.add_node("add", [x, w], names="y")
    g.outputs = [g.nodes[-1].result]
    text, blobs = print_graph(g)
    assert len(blobs) == 1 and 'dense<"' in text
    save(g, tmp_path / "big.qir")
    loaded = load(tmp_path / "big.qir")
    assert to_text(loaded) == text
    assert np.array_equal(loaded.value("w").data, w.data)


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_damaged_sidecar_is_a_parse_error_naming_it(tmp_path, damage: str) -> None:
    # the fuzz run found zipfile's NotImplementedError/RuntimeError escaping the .npz readers
    g = Graph("big")
    x = g.add_input("x", TensorType(DType.F32, (1, 64)))
    g.add_node("add", [x, g.add_const(np.arange(64, dtype=np.float32) / 7, "w")], names="y")
    g.outputs = [g.nodes[-1].result]
    save(g, tmp_path / "big.qir")
    damage_first_member(tmp_path / "big.npz", damage)
    with pytest.raises(ParseError, match="cannot read constants sidecar '.*big.npz'"):
        load(tmp_path / "big.qir")


def test_large_uniform_constant_prints_as_splat() -> None:
    g = Graph("g")
    g.outputs = [g.add_const(np.full((4, 8), -1.5, np.float32), "k")]
    text, blobs = print_graph(g)
    assert "dense<splat -1.5>" in text and not blobs
    assert np.array_equal(parse(text).outputs[0].data, np.full((4, 8), -1.5, np.float32))


def test_quant_params_print_per_tensor_and_per_channel() -> None:
    g = parse(SMALL)
    assert g.inputs[1].type.quant == QuantParams(0.5, -3)
    assert g.value("w").type.quant == QuantParams((0.25, 0.125), 0, axis=0, bits=4)


@pytest.mark.parametrize("bits", [2, 3, 4, 5, 6, 7])
def test_narrow_grids_print_their_width_and_are_stored_in_int8(bits: int) -> None:
    # docs/arithmetic.md §3.19: `i3[...] q(...)` is int8 storage on a 3-bit grid; the long spelling
    # `i8[...] q(..., bits=3)` parses to the same type and prints short
    short = f"graph @g(%x: i{bits}[1,3] q(scale=0.5, zp=-1)) -> (%x: i{bits}[1,3] q(scale=0.5, zp=-1)) {{\n  return %x\n}}\n"
    long = short.replace(f"i{bits}[1,3] q(scale=0.5, zp=-1)", f"i8[1,3] q(scale=0.5, zp=-1, bits={bits})")
    for text in (short, long):
        t = parse(text).inputs[0].type
        assert (t.dtype, t.quant) == (DType.I8, QuantParams(0.5, -1, None, bits))
        assert to_text(parse(text)) == short


def test_an_unquantized_i4_is_still_the_int4_element_type() -> None:
    text = "graph @g(%x: i4[2]) -> (%x: i4[2]) {\n  return %x\n}\n"
    assert parse(text).inputs[0].type.dtype is DType.I4


@pytest.mark.parametrize(
    "edit, message",
    [
        (("relu(%x)", "relu(%x"), "t.qir:4:16: unexpected ':' (expected ')', ',')"),
        (("add(%r, %b)", "add(%q, %b)"), "t.qir:5:12: undefined value %q"),
        (("%r = relu", "%b = relu"), "t.qir:4:3: %b is defined twice"),
        (("relu(%x)", "frobnicate(%x)"), "t.qir:4:8: unknown op 'frobnicate'"),
        (("act_min=0.0", "act_mn=0.0"), "op 'add' has no attribute 'act_mn' (known: act_min, act_max)"),
        (("relu(%x) : f32[1,3]", "relu(%x) : f32[1,4]"), "t.qir:4:3: %r is declared f32[1,4] but relu gives f32[1,3]"),
        (("act_min=0.0", 'act_min="low"'), "attribute 'act_min': expected float"),
        (("f32[1,3], %s", "g32[1,3], %s"), "unknown element type 'g32'"),
        (("dense<[0.1, -2.5, inf]>", "dense<[0.1]>"), "1 elements for f32[3]"),
        (("dense<[-7, 0, 7, 1, 2, 3]>", 'dense<"0123456789abcdef">'), 'constant data "0123456789abcdef" is not in the sidecar'),
        (("return %y", "return %r"), "result %y is declared but %r is returned"),
    ],
)
def test_bad_text_gives_a_located_error(edit, message) -> None:
    bad = SMALL.replace(*edit)
    assert bad != SMALL
    with pytest.raises(ParseError, match=_escape(message)):
        parse(bad, filename="t.qir")


def _escape(text: str) -> str:
    import re

    return re.escape(text)


def test_parse_error_message_is_one_line() -> None:
    with pytest.raises(ParseError) as info:
        parse("graph @g(\n%x: f32[1]) -> (%x: f32[1]) {\n  return %x %x\n}\n", filename="f.qir")
    assert "\n" not in str(info.value) and str(info.value).startswith("f.qir:3:")


# ---- property: random chains of ops print and parse back identically ----------------------------


@st.composite
def graphs(draw: st.DrawFn) -> Graph:
    n = draw(st.integers(1, 6))
    g = Graph(draw(st.sampled_from(["g", "model", "m.1"])))
    x = g.add_input(draw(st.sampled_from(["x", "input", "gpu_0/data_0"])), TensorType(DType.F32, (1, n)))
    value = x
    for i in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["relu", "add", "reshape"]))
        if kind == "relu":
            value = g.add_node("relu", [value], names=f"r{i}").result
        elif kind == "add":
            data = draw(st.lists(st.floats(-1e6, 1e6, width=32), min_size=n, max_size=n))
            c = g.add_const(np.array(data, np.float32), "c")
            lo = draw(st.sampled_from([float("-inf"), 0.0, -1.5]))
            value = g.add_node("add", [value, c], {"act_min": lo}, names=f"a{i}").result
        else:
            value = g.add_node("reshape", [value], {"shape": (1, n)}, names=f"s{i}").result
    g.outputs = [value]
    return g


@settings(max_examples=60, deadline=None)
@given(graphs())
def test_random_graphs_round_trip(graph: Graph) -> None:
    text = to_text(graph)
    assert to_text(parse(text)) == text
