"""The parameter algebra of joined graph outputs (qcc/quant/output_joins.py, docs/arithmetic.md §3.17)."""

from __future__ import annotations

from qcc.ir import parse
from qcc.ir.types import QuantParams
from qcc.arith.params import activation_params
from qcc.quant.output_joins import joined_params, output_bound_values, per_tensor_union, reshaped_axis, transposed_axis, union_entries

BOXES = QuantParams(640 / 255, -128, None, 8)
SCORES = QuantParams(1 / 255, -128, None, 8)


def test_joined_params_give_each_index_its_part_entry() -> None:
    q = joined_params([BOXES, SCORES], [2, 1], axis=1, bits=8)
    assert q == QuantParams((640 / 255, 640 / 255, 1 / 255), (-128, -128, -128), 1, 8)


def test_joining_equal_parts_stays_per_tensor() -> None:
    assert joined_params([SCORES, SCORES], [2, 3], axis=0, bits=8) == SCORES


def test_union_keeps_a_part_entry_that_covers_the_others_and_widens_otherwise() -> None:
    unit, half, negative = (1 / 255, -128), (0.5 / 255, -128), (1 / 255, 127)  # [0, 1], [0, 0.5], [-1, 0]
    got = union_entries([[unit, half], [half, negative]], bits=8)  # two parts, two indices each
    assert got[0] == unit
    widened = activation_params(-1.0, 0.5, 8)
    assert got[1] == (widened.scale, widened.zero_point) == (1.5 / 255, 42)
    assert per_tensor_union(QuantParams((1 / 255, 0.5 / 255), (-128, -128), 0, 8)) == SCORES


def test_reshape_carries_an_axis_that_survives_whole() -> None:
    assert reshaped_axis([1, 3, 4, 4, 8], [1, 48, 8], 4) == 2  # YOLOv5: [1,na,H,W,5+nc] -> [1,N,5+nc]
    assert reshaped_axis([1, 6, 4, 4], [1, 6, 16], 1) == 1     # YOLOX: [1,5+nc,H,W] -> [1,5+nc,HW]
    assert reshaped_axis([1, 6, 3], [1, 18], 1) is None         # merged with the next axis
    assert transposed_axis([0, 2, 1], 1) == 2


def test_output_bound_values_stop_at_computation() -> None:
    graph = parse(
        "graph @g(%a: f32[1,2], %b: f32[1,2]) -> (%y: f32[2,2], %z: f32[1,4]) {\n"
        "  %j = concat(%a, %b) {axis=1} : f32[1,4]\n"
        "  %y = reshape(%j) {shape=[2, 2]} : f32[2,2]\n"
        "  %z = relu(%j) : f32[1,4]\n"
        "  return %y, %z\n"
        "}\n"
    )
    bound = output_bound_values(graph)
    names = {v.name for v in graph.values() if id(v) in bound}
    assert names == {"y", "z"}  # %j also feeds a relu: it keeps one scale
